// Reading a build.envd: the file system → the language → build() and serve() → recorded intents.
// This is the one place of the env-file layer that does I/O (reading files for the language).
import { realpathSync } from 'node:fs';
import { dirname, isAbsolute, normalize, relative, resolve, sep } from 'node:path';
import { formatPosition, SourceError, UserError, type Position } from '../errors.js';
import { StarFunction, Thread, typeOf, type Value } from '../lang/index.js';
import { buildBuiltins } from './builtins-build.js';
import { serveBuiltins } from './builtins-serve.js';
import { Recorder } from './recorder.js';
import { InvalidUtf8Error, readSourceFile, SourceReadError } from './source.js';

export interface EnvFile {
  /** The path as given by the user. */
  path: string;
  absolutePath: string;
  rec: Recorder;
  /** The text of a line of this file or of a file it loaded (for errors found after evaluation). */
  sourceLine?: (file: string, line: number) => string | undefined;
}

export interface LoadOptions {
  /** Write `print()` output somewhere (default: stderr, so stdout stays machine-readable). */
  print?: (message: string, position: string) => void;
  /** Evaluation budget in cost units (default: the language's). */
  maxSteps?: number;
  /**
   * Read a file from memory instead of the file system (tests and tools). Paths are then
   * confined lexically (no symlinks to resolve).
   */
  readFile?: (absolutePath: string) => string;
  /**
   * The folder load() may read under (`--load-root`), for projects that share files from a
   * parent folder. Default: the folder of the top-level env file.
   */
  loadRoot?: string;
}

const LOAD_ROOT_HINT = "load() reads only files under the env file's folder; pass --load-root DIR to share files from a parent folder";

export function loadEnvFile(path: string, opts: LoadOptions = {}): EnvFile {
  const absolutePath = resolve(path);
  let source: string;
  try {
    source = opts.readFile ? opts.readFile(absolutePath) : readSourceFile(tryReal(realpathSync, absolutePath));
  } catch (err) {
    if (err instanceof InvalidUtf8Error) throw utf8Error(err, path);
    const why = err instanceof SourceReadError ? err.why : errnoWhy(err);
    throw new UserError(`cannot read env file ${path}: ${why}`, 'pass the env file with -f PATH (default: ./build.envd); it must be a regular file');
  }
  return evaluateEnvSource(path, source, opts);
}

/** Evaluates env-file source text; `path` is used for positions and to resolve load(). */
export function evaluateEnvSource(path: string, source: string, opts: LoadOptions = {}): EnvFile {
  const absolutePath = resolve(path);
  const memory = opts.readFile;
  const real = (p: string): string => (memory ? p : realpathSync(p));
  const topKey = tryReal(real, absolutePath);
  const root = loadRootOf(opts.loadRoot, dirname(topKey), real);
  // Each module's real path, by the name positions show, to resolve its own relative loads.
  const realOf = new Map<string, string>([[path, topKey]]);
  const print = opts.print ?? ((m: string, p: string) => process.stderr.write(`${p}: ${m}\n`));
  const rec = new Recorder();
  const predeclared = { ...buildBuiltins(rec, absolutePath), ...serveBuiltins(rec) };
  const thread = new Thread({
    predeclared,
    ...(opts.maxSteps !== undefined && { maxSteps: opts.maxSteps }),
    host: {
      load(fromFile: string, module: string) {
        // A UserError: the interpreter positions it at the module string, with its line.
        const refuse = (why: string, hint?: string): never => {
          throw new UserError(`load("${module}"): ${why}`, hint);
        };
        if (/^[a-z][a-z0-9+.-]*:/i.test(module) && !/^[a-z]:[\\/]/i.test(module)) refuse('envserve loads only local files, not URLs');
        if (module === '' || module.includes('\0')) refuse('not a file path');
        if (isAbsolute(module) || /^[a-z]:[\\/]/i.test(module) || module.startsWith('~')) {
          refuse('absolute paths are not allowed', 'write the path relative to the file that loads it, e.g. load("lib/common.envd", "name")');
        }
        const fromReal = realOf.get(fromFile) ?? resolve(fromFile);
        // Paths are relative to the file that loads them; positions show them as the user wrote them.
        const shown = normalize(`${dirname(fromFile)}/${module}`).replace(/^\.\//, '');
        const target = resolve(dirname(fromReal), module);
        let key: string;
        try {
          key = real(target);
        } catch (err) {
          return refuse(`cannot read ${shown}: ${errnoWhy(err)}`, 'paths are relative to the file that calls load()');
        }
        if (!within(root, key)) refuse(`${shown} is outside the folder env files may load from (${root})`, LOAD_ROOT_HINT);
        let text: string;
        try {
          text = memory ? memory(key) : readSourceFile(key);
        } catch (err) {
          if (err instanceof InvalidUtf8Error) throw utf8Error(err, shown);
          refuse(`cannot read ${shown}: ${err instanceof SourceReadError ? err.why : errnoWhy(err)}`);
        }
        realOf.set(shown, key);
        return { file: shown, source: text!, key };
      },
      print: (message: string, pos: Position) => print(message, formatPosition(pos)),
    },
  });

  const globals = thread.execFile(path, source, topKey);
  callEntry(thread, globals, 'build', path);
  if (!globals.has('serve') && globals.get('server') instanceof StarFunction) {
    const fn = globals.get('server') as StarFunction;
    rec.warn('this file defines server(), but envserve calls serve(); rename it to serve() to use it', formatPosition(fn.pos));
  }
  callEntry(thread, globals, 'serve', path);
  return { path, absolutePath, rec, sourceLine: (file, line) => thread.lineText({ file, line, col: 1 }) };
}

function tryReal(real: (p: string) => string, p: string): string {
  try {
    return real(p);
  } catch {
    return p;
  }
}

function loadRootOf(given: string | undefined, fallback: string, real: (p: string) => string): string {
  if (given === undefined) return fallback;
  try {
    return real(resolve(given));
  } catch (err) {
    throw new UserError(`--load-root ${given}: ${errnoWhy(err)}`, 'pass an existing folder that contains the env files to load');
  }
}

/** `p` is `root` or below it (both real paths). */
function within(root: string, p: string): boolean {
  const rel = relative(root, p);
  return rel !== '' && rel !== '..' && !rel.startsWith(`..${sep}`) && !isAbsolute(rel);
}

function errnoWhy(err: unknown): string {
  const code = (err as NodeJS.ErrnoException)?.code;
  if (code === 'ENOENT' || code === 'ENOTDIR') return 'no such file';
  if (code === 'EISDIR') return 'is a directory';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'ELOOP') return 'too many levels of symbolic links';
  // Never the error's own message: it could carry what the file holds.
  return code ? `cannot read (${code})` : 'cannot read';
}

/** A positioned error at the first byte that is not UTF-8. */
function utf8Error(err: InvalidUtf8Error, file: string): SourceError {
  const lines = err.before.split('\n');
  const last = lines[lines.length - 1]!;
  return new SourceError(
    { file, line: lines.length, col: [...last].length + 1 },
    `invalid UTF-8 at byte offset ${err.offset}`,
    'env files are UTF-8 text; save the file as UTF-8',
    last,
  );
}

function callEntry(thread: Thread, globals: Map<string, Value>, name: 'build' | 'serve', file: string): void {
  const fn = globals.get(name);
  if (fn === undefined) return; // both may be omitted; a file without build() exposes only what serve() says
  if (!(fn instanceof StarFunction)) {
    // Globals keep no position; the file's start is the honest place to point at.
    throw new SourceError({ file, line: 1, col: 1 }, `${name} must be a function (def ${name}():), got ${typeOf(fn)}`);
  }
  thread.call(fn, [], []);
}
