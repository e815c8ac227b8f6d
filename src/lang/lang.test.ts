// Unit tests of the public API of the language layer (what golden files cannot express).

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { SourceError, UserError, type Position } from '../errors.js';
import {
  Builtin, EvalError, InternalError, None, SourceErrorList, StarDict, StarFunction, StarList, Struct, Thread, Tuple,
  describeValue, repr, toInt, toStrDict, toStrList, unpackArgs, type Host, type Value,
} from './index.js';

function host(printed: string[] = [], files: Record<string, string> = {}): Host {
  return {
    load(_from, module, pos) {
      const source = files[module];
      if (source === undefined) throw new SourceError(pos, `no module ${module}`);
      return { file: module, source };
    },
    print(message, pos) {
      printed.push(`${pos.file}:${pos.line}:${pos.col}: ${message}`);
    },
  };
}

function run(source: string, opts: Partial<ConstructorParameters<typeof Thread>[0]> = {}): Map<string, Value> {
  return new Thread({ host: host(), ...opts }).execFile('t.envd', source);
}

function errorOf(f: () => unknown): SourceError {
  try {
    f();
  } catch (err) {
    if (err instanceof SourceError) return err;
    throw err;
  }
  assert.fail('expected a SourceError');
}

describe('positions', () => {
  it('reports syntax errors at the offending token with the source line', () => {
    const e = errorOf(() => run('x = 1\ny = (1, 2))\n'));
    assert.deepEqual(e.pos, { file: 't.envd', line: 2, col: 11 });
    assert.equal(e.message, 'syntax error: unexpected ")"');
    assert.equal(e.format(), 't.envd:2:11: syntax error: unexpected ")"\n  y = (1, 2))\n            ^');
  });

  it('counts a tab as one column and columns in characters', () => {
    assert.equal(errorOf(() => run('x =\t)')).pos.col, 5);
    assert.equal(errorOf(() => run('s = "\u00e9\u00e9" + 1')).pos.col, 10);
    assert.equal(errorOf(() => run('s = "\ud83d\ude00" + 1')).pos.col, 9);
  });

  it('puts a call error at the start of the callee', () => {
    const bind = new Builtin('host.bind', (_c, args, kwargs) => {
      unpackArgs('host.bind', args, kwargs, ['env_port']);
      return None;
    });
    const e = errorOf(() => run('x = (1,\n   host.bind())', { predeclared: { host: new Struct('host', { bind }) } }));
    assert.deepEqual(e.pos, { file: 't.envd', line: 2, col: 4 });
    assert.equal(e.message, 'host.bind: missing argument for env_port');
  });

  it('hands builtins a clean position of the call', () => {
    let seen: Position | undefined;
    const f = new Builtin('f', (call) => {
      seen = call.pos;
      return None;
    });
    run('x = [\n  f()]', { predeclared: { f } });
    assert.deepEqual(seen, { file: 't.envd', line: 2, col: 3 });
  });

  it('gives functions their def position', () => {
    const g = run('\ndef build():\n    pass\n');
    const fn = g.get('build');
    assert.ok(fn instanceof StarFunction);
    assert.deepEqual(fn.pos, { file: 't.envd', line: 2, col: 1 });
    assert.equal(fn.name, 'build');
    assert.deepEqual(fn.paramNames, []);
  });
});

describe('errors', () => {
  it('collects all resolver errors in a SourceErrorList', () => {
    let err: unknown;
    try {
      run('a = foo\nb = bar\nc = lenn(a)\n');
    } catch (e) {
      err = e;
    }
    assert.ok(err instanceof SourceErrorList);
    assert.ok(err instanceof UserError);
    assert.equal(err.errors.length, 3);
    assert.deepEqual(err.errors.map((e) => e.pos.line), [1, 2, 3]);
    assert.equal(err.errors[2]!.message, 'undefined: lenn (did you mean len?)');
    assert.match(err.message, /undefined: foo \(and 2 more errors\)/);
    assert.equal(err.format().split('\n\n').length, 3);
    assert.match(err.format(), /t\.envd:3:5: undefined: lenn \(did you mean len\?\)\n {2}c = lenn\(a\)\n {6}\^$/);
  });

  it('throws a single SourceError when the resolver finds one problem', () => {
    const e = errorOf(() => run('x = yy'));
    assert.ok(!(e instanceof SourceErrorList));
    assert.equal(e.message, 'undefined: yy');
  });

  it('turns EvalError from a builtin into a positioned error with hint', () => {
    const f = new Builtin('f', () => {
      throw new EvalError('f: bad', 'do better');
    });
    const e = errorOf(() => run('x = 1\ny = f()', { predeclared: { f } }));
    assert.deepEqual([e.pos.line, e.pos.col, e.message, e.hint, e.lineText], [2, 5, 'f: bad', 'do better', 'y = f()']);
  });

  it('wraps other exceptions from builtins as internal errors (exit code 1)', () => {
    const f = new Builtin('f', () => {
      throw new TypeError('oops');
    });
    const e = errorOf(() => run('f()', { predeclared: { f } }));
    assert.ok(e instanceof InternalError);
    assert.equal(e.reason, 'Internal');
    assert.match(e.message, /internal error: oops/);
    assert.ok(e.cause instanceof TypeError);
  });

  it('reports a builtin returning undefined as an internal error', () => {
    const f = new Builtin('f', () => undefined as unknown as Value);
    assert.ok(errorOf(() => run('f()', { predeclared: { f } })) instanceof InternalError);
  });

  it('survives very long expressions and deep data', () => {
    // a 50,000-term sum: either runs or fails cleanly (stack overflow as a SourceError)
    const long = 'x = ' + Array(50000).fill('1').join(' + ') + '\n';
    try {
      const g = run(long);
      assert.equal(g.get('x'), 50000n);
    } catch (err) {
      assert.ok(err instanceof SourceError && !(err instanceof InternalError), String(err));
    }
    const deep = 'x = []\nfor i in range(5000):\n    x = [x]\ns = str(x)\n';
    assert.match(errorOf(() => run(deep)).message, /nested too deeply/);
    const cmp = 'x = []\ny = []\nfor i in range(5000):\n    x = [x]\n    y = [y]\ns = x == y\n';
    assert.match(errorOf(() => run(cmp)).message, /maximum recursion depth/);
  });

  it('limits the depth of nested calls', () => {
    const defs = ['def f0():\n    return 0'];
    for (let i = 1; i < 1000; i++) defs.push(`def f${i}():\n    return f${i - 1}()`);
    const e = errorOf(() => run(defs.join('\n') + '\nx = f999()\n'));
    assert.match(e.message, /call stack too deep \(more than 400 nested calls\)/);
  });

  it('refuses recursion unless the recursion option is on (then the call depth still bounds it)', () => {
    const fact = 'def fact(n):\n    return 1 if n <= 1 else n * fact(n - 1)\n';
    assert.match(errorOf(() => run(fact + 'x = fact(5)\n')).message, /function fact called recursively/);
    assert.equal(run(fact + 'x = fact(5)\n', { recursion: true }).get('x'), 120n);
    const e = errorOf(() => run(fact + 'x = fact(1000)\n', { recursion: true }));
    assert.match(e.message, /^Starlark stack overflow: call stack too deep \(more than 400 nested calls\)/);
    assert.equal(e.pos.line, 2);
  });

  it('accepts while loops in functions only with the while option', () => {
    const src = 'def f(n):\n    r = 0\n    while n > 0:\n        n -= 1\n        if n == 2:\n            continue\n        if n == 7:\n            break\n        r += n\n    return r\nx = f(5)\ny = f(10)\n';
    assert.match(errorOf(() => run(src)).message, /while loops are not supported/);
    const g = run(src, { while: true });
    assert.equal(g.get('x'), 8n); // 4 + 3 + 1 + 0
    assert.equal(g.get('y'), 17n); // 9 + 8, then break at 7
    assert.match(errorOf(() => run('while True:\n    pass\n', { while: true })).message, /while loop not within a function/);
    const e = errorOf(() => run('def f():\n    while True:\n        pass\nf()\n', { while: true, maxSteps: 1000 }));
    assert.match(e.message, /evaluation exceeded its budget of 1000 cost units/);
    assert.ok(e.pos.line === 2 || e.pos.line === 3);
  });

  it('stops infinite loops at the step limit, with the position', () => {
    const e = errorOf(() => run('def f():\n    for i in range(2000000000):\n        pass\nf()', { maxSteps: 1000 }));
    assert.equal(e.message, 'evaluation exceeded its budget of 1000 cost units (an infinite loop?)');
    assert.ok(e.pos.line === 2 || e.pos.line === 3);
  });
});

describe('Thread', () => {
  it('returns the module globals and calls functions from the host', () => {
    const g = run('PORT = 8888\ndef build(extra, scale=2):\n    return [PORT * scale, extra]\n');
    assert.equal(g.get('PORT'), 8888n);
    const th = new Thread({ host: host() });
    const globals = th.execFile('b.envd', 'def build(extra, scale=2):\n    return [scale, extra]\n');
    const r = th.call(globals.get('build')!, ['x'], [['scale', 3n]]);
    assert.ok(r instanceof StarList);
    assert.deepEqual(r.elems, [3n, 'x']);
  });

  it('reports argument errors of host calls at the def', () => {
    const th = new Thread({ host: host() });
    const g = th.execFile('b.envd', '\ndef build(a):\n    pass\n');
    const e = errorOf(() => th.call(g.get('build')!, [], []));
    assert.equal(e.message, 'function build missing 1 argument (a)');
    assert.equal(e.pos.line, 2);
  });

  it('freezes module values: a later call may not mutate them', () => {
    const th = new Thread({ host: host() });
    const g = th.execFile('b.envd', 'PORTS = [1]\ndef build():\n    PORTS.append(2)\n');
    const e = errorOf(() => th.call(g.get('build')!, [], []));
    assert.equal(e.message, 'append: cannot append to frozen list');
    assert.equal(e.pos.line, 3);
    const list = g.get('PORTS') as StarList;
    assert.equal(list.frozen, true);
  });

  it('shares the step budget between execFile and call', () => {
    const th = new Thread({ host: host(), maxSteps: 500 });
    const g = th.execFile('b.envd', 'def spin(n):\n    for i in range(n):\n        pass\nspin(100)\n');
    assert.ok(th.steps > 100);
    assert.match(errorOf(() => th.call(g.get('spin')!, [1000n], [])).message, /exceeded its budget of 500 cost units/);
  });

  it('sends print() to the host with the call position', () => {
    const printed: string[] = [];
    new Thread({ host: host(printed) }).execFile('p.envd', 'x = 1\n  print("a", x, sep=":")'.replace('  print', 'print'));
    assert.deepEqual(printed, ['p.envd:2:1: a:1']);
  });

  it('loads modules through the host and caches them', () => {
    let loads = 0;
    const files: Record<string, string> = { 'lib.envd': 'def double(x):\n    return 2 * x\nK = [1]\n' };
    const h = host([], files);
    const th = new Thread({
      host: {
        ...h,
        load(from, module, pos) {
          loads++;
          return h.load(from, module, pos);
        },
      },
    });
    const g = th.execFile('main.envd', 'load("lib.envd", "double", k="K")\nload("lib.envd", k2="K")\nY = double(21)\nSAME = k == k2\n');
    assert.equal(g.get('Y'), 42n);
    assert.equal(g.get('SAME'), true);
    assert.equal(loads, 2);
    const e = errorOf(() => new Thread({ host: h }).execFile('main.envd', '\nload("nope.envd", "x")'));
    assert.deepEqual([e.message, e.pos.line, e.pos.col], ['no module nope.envd', 2, 6]);
  });

  it('converts a host UserError from load into a positioned error', () => {
    const th = new Thread({
      host: {
        load() {
          throw new UserError('cannot read x.envd', 'check the path');
        },
        print() {},
      },
    });
    const e = errorOf(() => th.execFile('m.envd', 'load("x.envd", "a")'));
    assert.deepEqual([e.message, e.hint, e.pos.col], ['cannot read x.envd', 'check the path', 6]);
  });

  it('lets a struct accept an alias through onMissingAttr', () => {
    const warnings: string[] = [];
    const presets = new Struct('presets', { jupyter: 8888n }, {
      onMissingAttr: (name, pos) => {
        if (name !== 'juypter') return undefined;
        warnings.push(`${pos.line}:${pos.col} ${name}`);
        return 8888n;
      },
    });
    const g = run('\nP = presets.juypter', { predeclared: { presets } });
    assert.equal(g.get('P'), 8888n);
    assert.deepEqual(warnings, ['2:13 juypter']);
    const e = errorOf(() => run('P = presets.jupyer', { predeclared: { presets } }));
    assert.equal(e.message, 'presets has no .jupyer field or method (did you mean .jupyter?)');
    assert.equal(e.hint, undefined); // the likely name is in the message, as starlark-go
  });
});

describe('unpack and converters', () => {
  it('unpacks positional and keyword arguments', () => {
    const a = unpackArgs('host.bind', [8888n], [['listen_addr', '0.0.0.0']], ['env_port', 'host_port?', 'listen_addr?']);
    assert.deepEqual(a, { env_port: 8888n, host_port: undefined, listen_addr: '0.0.0.0' });
  });

  it('explains mistakes', () => {
    const cases: [() => unknown, string, string?][] = [
      [() => unpackArgs('host.bind', [], [], ['env_port']), 'host.bind: missing argument for env_port'],
      [() => unpackArgs('host.bind', [1n, 2n], [], ['env_port']), 'host.bind: got 2 arguments, want at most 1'],
      [() => unpackArgs('host.bind', [1n], [['env_port', 2n]], ['env_port']), 'host.bind: got multiple values for parameter "env_port"'],
      [() => unpackArgs('host.bind', [1n], [['host_prt', 2n]], ['env_port', 'host_port?']), 'host.bind: unexpected keyword argument "host_prt" (did you mean host_port?)'],
      [() => toInt('host.bind', 'env_port', '8888', { min: 1, max: 65535 }), 'host.bind: env_port must be an int between 1 and 65535, got string "8888"'],
      [() => toInt('f', 'n', 1.5), 'f: n must be an int, got float 1.5'],
      [() => toInt('f', 'n', 0n, { min: 1 }), 'f: n must be an int >= 1, got int 0'],
      [() => toStrList('f', 'xs', new Tuple(['a', 1n])), 'f: xs must be a list of strings, got int 1 at index 1'],
      [() => toStrDict('f', 'env', StarDict.from([['a', 1n]])), 'f: env["a"] must be a string, got int 1'],
    ];
    for (const [f, message, hint] of cases) {
      assert.throws(f, (err: unknown) => {
        assert.ok(err instanceof EvalError);
        assert.equal(err.message, message);
        assert.equal(err.hint, hint);
        return true;
      });
    }
  });

  it('converts values', () => {
    assert.equal(toInt('f', 'n', 65535n, { min: 1, max: 65535 }), 65535);
    assert.deepEqual(toStrList('f', 'xs', 'a', { allowSingle: true }), ['a']);
    assert.deepEqual(toStrDict('f', 'env', StarDict.from([['__proto__', 'x'], ['B', 'y']])), JSON.parse('{"__proto__":"x","B":"y"}'));
    assert.equal(describeValue('x'.repeat(100)), `string "${'x'.repeat(59)}… (102 characters)`);
    assert.equal(repr(new Tuple([None, true, 1n, 1.5, 'a'])), '(None, True, 1, 1.5, "a")');
  });
});
