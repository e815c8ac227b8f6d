// Golden data tests in the style of starlark-go: a data file holds independent chunks
// separated by a line `---`; a chunk that must fail carries, on the line where the error
// belongs, a comment `### "regex"`. The regex is matched against the error text
// `message` or, when the error has a hint, `message hint: <hint>` (one line), so a test can
// check the hint too: `### "cannot assign to attribute \"namespace\" of struct hint: structs are read-only"`.
// An error reported in another file (a loaded module) is expected with
// `### @path:line "regex"` on any line of the chunk.
// Lines are those of the data file: run `paddedSource(chunk)` (the chunk preceded by blank
// lines) so that reported positions are data-file positions.

import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { SourceError, UserError, type Position } from '../src/errors.js';
import {
  Builtin, describeValue, equals, EvalError, fromText, InternalError, repr, SourceErrorList, StarDict, StarList, Struct, Thread,
  toBool, toInt, toStr, toStrDict, toStrList, Tuple, unpackArgs, type Host, type Value,
} from '../src/lang/index.js';

export interface ExpectedError {
  /** 1-based line in the data file (or in `file`). */
  line: number;
  regex: RegExp;
  /** Set for an error expected in another file (`### @file:line "regex"`). */
  file?: string;
}

export interface GoldenChunk {
  /** The chunk's text (without the `---` separators). */
  source: string;
  /** 1-based line in the data file where the chunk's first line is. */
  startLine: number;
  expectedErrors: ExpectedError[];
}

/**
 * The data files (*.envd) of a data-driven suite, sorted. An empty folder throws: the suite would
 * otherwise define no test at all and pass.
 */
export function goldenFiles(dir: string): string[] {
  const files = readdirSync(dir).filter((f) => f.endsWith('.envd')).sort();
  if (files.length === 0) throw new Error(`${dir} holds no *.envd data files: this suite would test nothing`);
  return files;
}

const MARK = /###\s*(?:@(\S+):(\d+)\s+)?"(.*)"\s*$/;

export function parseGoldenChunks(path: string): GoldenChunk[] {
  const lines = readFileSync(path, 'utf8').replace(/\r\n?/g, '\n').split('\n');
  if (lines.length > 0 && lines[lines.length - 1] === '') lines.pop();
  const chunks: GoldenChunk[] = [];
  let start = 0;
  const flush = (end: number): void => {
    const body = lines.slice(start, end);
    if (body.every((l) => l.trim() === '' || l.trim().startsWith('#') && !MARK.test(l))) return;
    const expectedErrors: ExpectedError[] = [];
    body.forEach((l, i) => {
      const m = MARK.exec(l);
      if (m && m[1] !== undefined) expectedErrors.push({ line: Number(m[2]), regex: new RegExp(m[3]!), file: m[1] });
      else if (m) expectedErrors.push({ line: start + i + 1, regex: new RegExp(m[3]!) });
    });
    chunks.push({ source: body.join('\n') + '\n', startLine: start + 1, expectedErrors });
  };
  lines.forEach((l, i) => {
    if (l === '---') {
      flush(i);
      start = i + 1;
    }
  });
  flush(lines.length);
  return chunks;
}

/** The chunk preceded by startLine-1 empty lines: positions in it are data-file positions. */
export function paddedSource(chunk: GoldenChunk): string {
  return '\n'.repeat(chunk.startLine - 1) + chunk.source;
}

/** The SourceErrors carried by an exception, or undefined if it is not a source error. */
export function sourceErrorsOf(err: unknown): SourceError[] | undefined {
  if (err instanceof SourceErrorList) return err.errors;
  if (err instanceof SourceError) return [err];
  return undefined;
}

/** The text a `### "regex"` is matched against. */
export function errorText(e: SourceError): string {
  return e.hint ? `${e.message} hint: ${e.hint}` : e.message;
}

/**
 * Compares the outcome of running `paddedSource(chunk)` as file `file` (`err` undefined: it succeeded)
 * with its expectations. Returns a list of problems (empty: as expected).
 */
export function checkChunkOutcome(chunk: GoldenChunk, file: string, err: unknown): string[] {
  const where = (line: number, f = file): string => `${f}:${line}`;
  if (err === undefined) {
    return chunk.expectedErrors.map((x) => `expected an error matching /${x.regex.source}/ at ${where(x.line, x.file)}, but the chunk succeeded`);
  }
  const errors = sourceErrorsOf(err);
  if (!errors) return [`unexpected exception: ${err instanceof Error ? err.stack : String(err)}`];
  const problems: string[] = [];
  const unmatched = [...errors];
  for (const x of chunk.expectedErrors) {
    const i = unmatched.findIndex((e) => e.pos.file === (x.file ?? file) && e.pos.line === x.line && x.regex.test(errorText(e)));
    if (i >= 0) unmatched.splice(i, 1);
    else {
      problems.push(
        `expected an error matching /${x.regex.source}/ at ${where(x.line, x.file)}; got:\n` +
          errors.map((e) => `    ${e.pos.file}:${e.pos.line}:${e.pos.col}: ${errorText(e)}`).join('\n'),
      );
    }
  }
  if (problems.length === 0) {
    for (const e of unmatched) problems.push(`unexpected error at ${e.pos.file === file ? where(e.pos.line) : e.pos.file + ':' + e.pos.line}:\n${e.format()}`);
  }
  return problems;
}

const LANG_MODULES = join('testdata', 'lang', 'modules');

// ---- The language's own golden tests (src/lang/golden.test.ts, src/lang/fuzz.test.ts) ----

/** The predeclared names of the language golden tests: assertions and a few host-like values. */
export function langPredeclared(printed: string[], warnings: string[]): Record<string, Value> {
  const bind = new Builtin('cloud.k8s.bind', (call, args, kwargs) => {
    const a = unpackArgs('cloud.k8s.bind', args, kwargs, ['env_port', 'host_port?', 'listen_addr?', 'public?', 'tags?', 'env?']);
    const envPort = toInt('cloud.k8s.bind', 'env_port', a.env_port!, { min: 1, max: 65535 });
    const hostPort = a.host_port === undefined || a.host_port === null ? envPort : toInt('cloud.k8s.bind', 'host_port', a.host_port, { min: 1, max: 65535 });
    const addr = a.listen_addr === undefined ? '127.0.0.1' : toStr('cloud.k8s.bind', 'listen_addr', a.listen_addr, { nonEmpty: true });
    const pub = a.public === undefined ? false : toBool('cloud.k8s.bind', 'public', a.public);
    const tags = a.tags === undefined ? [] : toStrList('cloud.k8s.bind', 'tags', a.tags, { allowSingle: true });
    const env = a.env === undefined ? {} : toStrDict('cloud.k8s.bind', 'env', a.env);
    return `${addr}:${hostPort}->${envPort}${pub ? ' public' : ''}${tags.length ? ' ' + tags.join(',') : ''}${Object.keys(env).length ? ' ' + JSON.stringify(env) : ''} @${call.pos.line}:${call.pos.col}`;
  });
  const presetFields: Record<string, Value> = {
    jupyter: new Struct('presets.jupyter', { port: 8888n, name: 'jupyter' }),
    tensorboard: new Struct('presets.tensorboard', { port: 6006n, name: 'tensorboard' }),
  };
  const aliases: Record<string, string> = { juypter: 'jupyter', jupiter: 'jupyter' };
  return {
    assert_eq: new Builtin('assert_eq', (_c, args, kwargs) => {
      const a = unpackArgs('assert_eq', args, kwargs, ['got', 'want']);
      if (!equals(a.got!, a.want!)) throw new EvalError(`assert_eq: ${repr(a.got!)} != ${repr(a.want!)}`);
      return null;
    }),
    assert_true: new Builtin('assert_true', (_c, args, kwargs) => {
      const a = unpackArgs('assert_true', args, kwargs, ['cond', 'msg?']);
      if (a.cond !== true) throw new EvalError(`assert_true: ${a.msg === undefined ? repr(a.cond!) : String(a.msg)}`);
      return null;
    }),
    // assert_fails(fn, "regex"): calls fn() and requires an error whose text matches.
    assert_fails: new Builtin('assert_fails', (call, args, kwargs) => {
      const a = unpackArgs('assert_fails', args, kwargs, ['fn', 'pattern']);
      const pattern = toStr('assert_fails', 'pattern', a.pattern!);
      let re: RegExp;
      try {
        re = new RegExp(pattern);
      } catch {
        throw new EvalError(`assert_fails: invalid regular expression ${JSON.stringify(pattern)}`);
      }
      try {
        call.thread.call(a.fn!, [], [], call.pos);
      } catch (err) {
        const errs = sourceErrorsOf(err);
        if (!errs || err instanceof InternalError) throw err;
        const text = errs.map((e) => (e.hint ? `${e.message} hint: ${e.hint}` : e.message)).join('\n');
        if (!re.test(text)) throw new EvalError(`assert_fails: error ${JSON.stringify(text)} does not match /${pattern}/`);
        return fromText(text);
      }
      throw new EvalError(`assert_fails: the call succeeded; expected an error matching /${pattern}/`);
    }),
    struct: new Builtin('struct', (_c, args, kwargs) => {
      if (args.length > 0) throw new EvalError('struct: unexpected positional arguments');
      return new Struct('struct', new Map(kwargs));
    }),
    describe: new Builtin('describe', (_c, args) => fromText(describeValue(args[0]!))),
    printed: new Builtin('printed', () => new StarList(printed.map(fromText))),
    warnings: new Builtin('warnings', () => new StarList(warnings.map(fromText))),
    cloud: new Struct('cloud', { k8s: new Struct('cloud.k8s', { bind, namespace: 'default' }) }),
    presets: new Struct('presets', presetFields, (name: string, pos: Position) => {
      const right = aliases[name];
      if (!right) return undefined;
      warnings.push(`${pos.line}:${pos.col}: presets.${name} is a misspelling of presets.${right}`);
      return presetFields[right];
    }),
    // A builtin with a bug: its exception must become a positioned internal error.
    buggy: new Builtin('buggy', () => {
      throw new TypeError('boom');
    }),
    // A builtin throwing a host UserError: positioned at the call.
    host_error: new Builtin('host_error', () => {
      throw new UserError('the host refused', 'try again');
    }),
    pair: new Builtin('pair', (_c, args) => new Tuple([args[0] ?? null, args[1] ?? null])),
    empty_dict: new Builtin('empty_dict', () => new StarDict()),
  };
}

/** A host serving load() from testdata/lang/modules; "SELF" loads the running chunk. */
export function langHost(file: string, source: string, printed: string[]): Host {
  return {
    load(_from, module) {
      if (module === 'SELF') return { file, source };
      const path = join(LANG_MODULES, module);
      if (!/^[\w.-]+$/.test(module) || !existsSync(path)) throw new UserError(`cannot load ${module}: no such file`);
      return { file: `modules/${module}`, source: readFileSync(path, 'utf8') };
    },
    print(message, pos) {
      printed.push(`${pos.line}:${pos.col}: ${message}`);
    },
  };
}

/** Runs a chunk of testdata/lang as file `file`; returns the exception, or undefined on success. */
export function runLangChunk(chunk: GoldenChunk, file: string, maxSteps = 200_000, maxAlloc = 1_000_000): unknown {
  const printed: string[] = [];
  const warnings: string[] = [];
  const thread = new Thread({
    host: langHost(file, paddedSource(chunk), printed),
    predeclared: langPredeclared(printed, warnings),
    maxSteps,
    maxAlloc,
  });
  try {
    thread.execFile(file, paddedSource(chunk));
    return undefined;
  } catch (err) {
    return err;
  }
}

