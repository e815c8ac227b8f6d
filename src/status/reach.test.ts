import { test } from 'node:test';
import assert from 'node:assert/strict';
import { linkReach } from './reach.js';
import { changes, inClusterText, exposureLine } from './format.js';
import { reachNote } from '../plan/reach.js';
import type { Exposure } from '../plan/types.js';
import type { ExposureStatus } from './types.js';

const common = { protocol: 'http', position: 'build.envd:3:5', declaredBy: 'cloud.k8s.bind' } as const;
const svc = { ...common, id: 'service-web', kind: 'k8s-service', envPort: 8888, serviceType: 'ClusterIP', servicePort: 8888 } as unknown as Exposure;
const pf = { ...common, id: 'port-forward-web', kind: 'k8s-port-forward', envPort: 8888, hostPort: 1234, listenAddress: '127.0.0.1' } as unknown as Exposure;
const ing = (access: string) => ({ ...common, id: 'ingress-web', kind: 'k8s-ingress', envPort: 8888, serviceId: 'service-web', host: 'web.apps.test', path: '/', servicePort: 8888, access }) as unknown as Exposure;
const row = (id: string, extra: Partial<ExposureStatus> = {}) => ({ id, kind: 'k8s-service', protocol: 'http', envPort: 8888, state: 'ready', reason: 'Ready', since: '', urls: [], ...extra }) as ExposureStatus;
const svcRow = row('service-web', { inCluster: ['http://10.96.0.7:8888/'], reach: { command: 'kubectl -n team port-forward service/web 8888:8888' } });

test('a ClusterIP row with a port-forward of the same port is reached through its URL', () => {
  const out = linkReach([svcRow, row('port-forward-web', { urls: ['http://127.0.0.1:1234/'] })], [svc, pf]);
  assert.deepEqual(out[0]!.reach, { id: 'port-forward-web', url: 'http://127.0.0.1:1234/' });
  assert.deepEqual(out[0]!.urls, []);
  assert.equal(inClusterText(out[0]!), '10.96.0.7:8888 (in-cluster only; from here: http://127.0.0.1:1234/)');
  assert.equal(exposureLine(out[0]!)[1], '10.96.0.7:8888 (in-cluster only; from here: http://127.0.0.1:1234/)');
});

test('an Ingress comes first; one that needs a login is reached with `envserve open`; a public one by its URL', () => {
  const rows = (access: string) => [svcRow, row('port-forward-web', { urls: ['http://127.0.0.1:1234/'] }), row('ingress-web', { urls: ['https://web.apps.test/'], access: access as 'public' })];
  assert.deepEqual(linkReach(rows('namespace'), [svc, pf, ing('namespace')])[0]!.reach, { id: 'ingress-web', url: 'https://web.apps.test/', command: 'envserve open https://web.apps.test/' });
  assert.deepEqual(linkReach(rows('public'), [svc, pf, ing('public')])[0]!.reach, { id: 'ingress-web', url: 'https://web.apps.test/' });
});

test('with no other way (or one without a URL yet) the runtime\'s command stays; rows with a URL are left alone', () => {
  const alone = linkReach([svcRow, row('port-forward-web')], [svc, pf]);
  assert.deepEqual(alone[0]!.reach, { command: 'kubectl -n team port-forward service/web 8888:8888' });
  assert.equal(inClusterText(alone[0]!), '10.96.0.7:8888 (in-cluster only; from here: kubectl -n team port-forward service/web 8888:8888)');
  const lb = row('service-web', { urls: ['http://192.0.2.1:8888/'], inCluster: ['http://10.96.0.7:8888/'] });
  assert.equal(linkReach([lb, row('port-forward-web', { urls: ['http://127.0.0.1:1234/'] })], [svc, pf])[0], lb);
});

test('plan says a ClusterIP Service is in-cluster only and names what reaches it', () => {
  assert.equal(reachNote([svc, pf, ing('namespace')], svc), 'service-web answers only inside the cluster; from here: ingress-web, port-forward-web');
  assert.equal(reachNote([svc], svc), 'service-web answers only inside the cluster; to reach it from here add host_port= (a port-forward) or ingress=');
  assert.equal(reachNote([svc, pf], pf), undefined);
});

test('a ready row whose app answers a server error says so, in the table and in the live view', () => {
  const ok = row('port-forward-web', { urls: ['http://127.0.0.1:1234/'], httpStatus: 200 });
  const failing = { ...ok, httpStatus: 500 };
  assert.equal(exposureLine(ok)[4], '');
  assert.equal(exposureLine({ ...ok, httpStatus: 404 })[4], '', "an app's own 404 or 302 answers as it should");
  assert.equal(exposureLine(failing)[4], 'the app answers HTTP 500');
  const status = (e: ExposureStatus) => ({ exposures: [e], processes: [], notes: [] }) as never;
  assert.deepEqual(changes(status(ok), status(failing)), ['port-forward-web http://127.0.0.1:1234/ ready (the app answers HTTP 500)']);
  assert.deepEqual(changes(status(failing), status({ ...failing })), []);
});
