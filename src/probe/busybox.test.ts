// The busybox probe's script and the reading of its output (as busybox 1.35's nc and wget -S print
// it, captured from a run against loopback servers): statuses, Location, the body's start,
// refusals, a name that does not resolve, a connection held open, and an unfinished log.
import { test } from 'node:test';
import { classifySpec } from '../check/probes.js';
import assert from 'node:assert/strict';
import { busyboxScript, parseBusyboxLog } from './busybox.js';
import type { ProbeSpec } from './spec.js';

const specs: ProbeSpec[] = [
  { id: 'page', host: '10.0.0.5', port: 8080, protocol: 'http' },
  { id: 'login', host: '10.0.0.5', port: 8080, protocol: 'http', path: '/login' },
  { id: 'route', host: '10.0.0.9', port: 80, protocol: 'http', hostHeader: "a'b.example", via: 'ingress' },
  { id: 'refused', host: '10.0.0.5', port: 9999, protocol: 'tcp' },
  { id: 'held', host: '10.0.0.5', port: 9000, protocol: 'tcp' },
  { id: 'dns', host: 'web.ns.svc.cluster.local', port: 80, protocol: 'http' },
];

const M = '@@envserve-probe';
const log = `some line before
${M} 3 1 40
nc: can't connect to remote host (10.0.0.5): Connection refused
${M} end 3
${M} 5 1 50
wget: bad address 'web.ns.svc.cluster.local:80'
${M} end 5
${M} 0 0 120
  HTTP/1.1 200 OK
  content-type: text/plain
  Connection: close
  
hello from
 the app
${M} end 0
${M} 2 1 120
  HTTP/1.1 404 Not Found
wget: server returned error: HTTP/1.1 404 Not Found
${M} end 2
${M} 4 143 3010

${M} end 4
${M} 1 0 130
  HTTP/1.1 302 Found
  location: /login?next=/
  HTTP/1.1 200 OK
  
sign in
${M} end 1
${M} done
`;

test('the busybox script: every spec in parallel, quoted, with nc for TCP and wget -S for HTTP (no -T: busybox 1.35 crashes on it)', () => {
  const s = busyboxScript(specs, 2000);
  assert.match(s, /p_http 2 'http:\/\/10\.0\.0\.9:80\/' 'a'\\''b\.example' &/);
  assert.match(s, /p_tcp 3 '10\.0\.0\.5' 9999 &/);
  assert.match(s, /timeout 3 nc -w 2/);
  assert.doesNotMatch(s, /wget[^\n]* -T /);
  assert.match(s, /\nwait\necho '@@envserve-probe done'$/);
});

test('the busybox log: what each probe saw, in the specs\' order', () => {
  const r = parseBusyboxLog(log, specs)!;
  assert.deepEqual(r.map((x) => [x.id, x.ok, x.reason, x.httpStatus]), [
    ['page', true, 'Ready', 200],
    ['login', true, 'Ready', 302],
    ['route', false, 'IngressRouteNotAnswering', 404],
    ['refused', false, 'ConnectionRefused', undefined],
    ['held', true, 'Ready', undefined],
    ['dns', false, 'Unreachable', undefined],
  ]);
  assert.equal(r[0]!.excerpt, 'hello from the app');
  // wget prints no body for an error status: unseen, not empty — check cannot tell the
  // controller's own 404 from the app's (BUSYBOX_LIMITS), and does not take it for Envoy's empty one.
  assert.equal(r[2]!.excerpt, undefined);
  const route = classifySpec(specs[2]!, r[2]!);
  assert.deepEqual([route.ok, route.reason], [true, 'Answers'], route.detail);
  assert.equal(r[0]!.latencyMs, 120);
  assert.equal(r[1]!.location, '/login?next=/');
  assert.match(r[3]!.detail!, /Connection refused/);
  assert.match(r[5]!.error!.message, /bad address/);
  assert.equal(parseBusyboxLog(log.replace(`${M} done\n`, ''), specs), undefined, 'a log without its last line is unfinished');
});
