// The fault tests' shared set-up: `envserve serve` (the real CLI) holding an HTTP forward (8080)
// and a TCP echo forward (9000) to the pods with app=app, its status rows, and the check that
// both answer from a pod with status Ready.
import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { httpRequest, podAnswer, tcpEcho } from './cluster.js';
import { eventually, writeEnvFile } from './expose-lib.js';
import { cli, run, type Cli } from './cli-proc.js';

export interface Row { kind: string; envPort: number; state: string; reason: string; message?: string; listen?: { port: number } }

export interface TwoForwards {
  web: number;
  echo: number;
  rows(): Promise<Row[]>;
  /** Both answer from `pod` (HTTP and a byte-exact echo) and every row is Ready, within `ms`; how long it took. */
  answerFrom(pod: string, ms: number): Promise<number>;
  /** Ctrl-C, then `down` from a clean shell. */
  stop(): Promise<void>;
}

export async function serveTwoForwards(envName: string, ns: string, vars: Record<string, string>): Promise<TwoForwards> {
  const file = writeEnvFile(envName, [
    'def serve():',
    '    cloud.k8s.bind(env_port=8080, host_port=0, name="web")',
    '    cloud.k8s.bind(env_port=9000, host_port=0, name="echo", protocol="tcp")',
    '',
  ].join('\n'));
  const serve: Cli = cli(['serve', '-f', file, '-n', ns, '--selector', 'app=app', '--probe-interval', '300'], vars);
  const rows = async (): Promise<Row[]> => {
    const r = await run(['status', '--env', envName, '-o', 'json'], vars);
    assert.equal(r.code, 0, r.out);
    return (JSON.parse(r.out) as { exposures: Row[] }).exposures;
  };
  const stop = async () => {
    if (serve.proc.exitCode === null) {
      serve.proc.kill('SIGTERM');
      await serve.exited;
    }
    await run(['down', '--env', envName], vars);
  };
  try {
    await serve.waitFor(/Press Ctrl-C/, 60_000);
    const start = await rows();
    const web = start.find((r) => r.envPort === 8080)!.listen!.port;
    const echo = start.find((r) => r.envPort === 9000)!.listen!.port;
    const answerFrom = async (pod: string, ms: number) => {
      const t0 = Date.now();
      await eventually(async () => {
        assert.equal(podAnswer(await httpRequest('127.0.0.1', web, { timeoutMs: 2000 })).pod, pod);
        const payload = randomBytes(1024);
        assert.ok((await tcpEcho('127.0.0.1', echo, payload, 2000)).equals(payload));
        for (const r of await rows()) assert.equal(r.reason, 'Ready', JSON.stringify(r));
      }, ms, 200);
      return Date.now() - t0;
    };
    return { web, echo, rows, answerFrom, stop };
  } catch (e) {
    await stop();
    throw e;
  }
}
