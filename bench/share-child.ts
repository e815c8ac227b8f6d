// A child of bench/share.bench.ts: the app (`app`) or the login gateway in front of it (`gateway
// APP_PORT`), each in its own process so the load generator, the gateway and the app do not share
// an event loop. Prints its port (and for the gateway, a valid session cookie) on stdout.
import http from 'node:http';
import type net from 'node:net';
import { LoginGateway } from '../src/operator/login/gateway.js';
import { KeyRing } from '../src/operator/login/keys.js';
import { signSession } from '../src/operator/login/cookie.js';

const [role, appPort] = process.argv.slice(2);
process.on('SIGTERM', () => process.exit(0)); // a clean exit writes --cpu-prof's profile
const HOST = 'app-bench.apps.test';
if (role === 'app') {
  const body = Buffer.alloc(2048, 'x');
  const s = http.createServer((_req, res) => res.end(body));
  s.keepAliveTimeout = 60_000;
  s.listen(0, '127.0.0.1', () => console.log(JSON.stringify({ port: (s.address() as net.AddressInfo).port })));
} else {
  const keys = KeyRing.fresh();
  const route = { host: HOST, setUid: 'uid', accessGeneration: 1, namespace: 'ns', setName: 'bench', access: 'namespace' as const, upstream: { host: '127.0.0.1', port: Number(appPort) }, tls: true, sessionLifetimeMs: 3_600_000 };
  // Steady state: the SubjectAccessReview answer is cached (authorize.ts), so a resolved promise.
  const gw = new LoginGateway({ routes: (h) => (h === HOST ? route : undefined), keys: () => keys, api: { request: async () => { throw new Error('no API in the bench'); } }, authorize: async () => true });
  gw.server.keepAliveTimeout = 60_000;
  const port = await gw.listen(0);
  const cookie = `__Host-envserve-session=${signSession({ host: HOST, setUid: 'uid', accessGeneration: 1, user: 'bench', groups: [], expires: Date.now() + 3_600_000 }, keys)}`;
  console.log(JSON.stringify({ port, cookie, host: HOST }));
}
