// Reading a build.envd: the file system → the language → build() and serve() → recorded intents.
// This is the one place of the env-file layer that does I/O (reading files for the language).
import { readFileSync } from 'node:fs';
import { dirname, isAbsolute, resolve } from 'node:path';
import { formatPosition, SourceError, UserError, type Position } from '../errors.js';
import { StarFunction, Thread, typeOf, type Value } from '../lang/index.js';
import { buildBuiltins } from './builtins-build.js';
import { serveBuiltins } from './builtins-serve.js';
import { Recorder } from './recorder.js';

export interface EnvFile {
  /** The path as given by the user. */
  path: string;
  absolutePath: string;
  rec: Recorder;
}

export interface LoadOptions {
  /** Write `print()` output somewhere (default: stderr, so stdout stays machine-readable). */
  print?: (message: string, position: string) => void;
  /** Evaluation step budget (default: the language's). */
  maxSteps?: number;
  /** Read a file (default: the file system); lets tests and tools load from memory. */
  readFile?: (absolutePath: string) => string;
}

export function loadEnvFile(path: string, opts: LoadOptions = {}): EnvFile {
  const absolutePath = resolve(path);
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const source = readSource(read, absolutePath, path);
  return evaluateEnvSource(path, source, { ...opts, readFile: read });
}

/** Evaluates env-file source text; `path` is used for positions and to resolve load(). */
export function evaluateEnvSource(path: string, source: string, opts: LoadOptions = {}): EnvFile {
  const absolutePath = resolve(path);
  const read = opts.readFile ?? ((p: string) => readFileSync(p, 'utf8'));
  const print = opts.print ?? ((m: string, p: string) => process.stderr.write(`${p}: ${m}\n`));
  const rec = new Recorder();
  const predeclared = { ...buildBuiltins(rec, absolutePath), ...serveBuiltins(rec) };
  const thread = new Thread({
    predeclared,
    ...(opts.maxSteps !== undefined && { maxSteps: opts.maxSteps }),
    host: {
      load(fromFile: string, module: string, pos: Position) {
        if (/^[a-z][a-z0-9+.-]*:\/\//i.test(module)) {
          throw new SourceError(pos, `load("${module}"): envserve loads only local files, not URLs`);
        }
        // Paths are relative to the file that loads them (as the user wrote them, for messages).
        const file = isAbsolute(module) ? module : `${dirname(fromFile)}/${module}`.replace(/^\.\//, '');
        return { file, source: readSource(read, resolve(file), file, pos) };
      },
      print: (message: string, pos: Position) => print(message, formatPosition(pos)),
    },
  });

  const globals = thread.execFile(path, source);
  callEntry(thread, globals, 'build', path);
  if (!globals.has('serve') && globals.get('server') instanceof StarFunction) {
    const fn = globals.get('server') as StarFunction;
    rec.warn('this file defines server(), but envserve calls serve(); rename it to serve() to use it', formatPosition(fn.pos));
  }
  callEntry(thread, globals, 'serve', path);
  return { path, absolutePath, rec };
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

function readSource(read: (p: string) => string, absolutePath: string, shown: string, pos?: Position): string {
  try {
    return read(absolutePath);
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'is a directory' : (err as Error).message;
    if (pos) throw new SourceError(pos, `load: cannot read ${shown}: ${why}`);
    throw new UserError(`cannot read env file ${shown}: ${why}`, 'pass the env file with -f PATH (default: ./build.envd)');
  }
}
