// check -f and the automatic Ingresses/HTTPRoutes that serve's flags or the operator's policy made:
// the env file does not name them, the cluster's labels do.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { withAutomaticExposures, type K8sSubject } from './subject.js';
import type { ClusterSnapshot } from './snapshot.js';

const labels = (env: string, exposure?: string) => ({ 'app.kubernetes.io/managed-by': 'envserve', 'envserve.dev/env': env, ...(exposure && { 'envserve.dev/exposure': exposure }) });

test('check -f adds the environment\'s automatic Ingress and HTTPRoute found by labels, and nothing of anyone else', () => {
  const subject: K8sSubject = {
    namespace: 'dev', managed: true,
    exposures: [
      { id: 'web', kind: 'k8s-service', protocol: 'http', service: 'nb-web', port: 80, websocket: true },
      { id: 'ing', kind: 'k8s-ingress', protocol: 'http', ingress: 'nb-ing', host: 'x.test' },
    ],
  };
  const ingress = (name: string, l: Record<string, string>, tls = false) => ({
    metadata: { name, labels: l },
    spec: { rules: [{ host: `${name}.apps.test`, http: { paths: [{ path: '/', backend: { service: { name: 'nb-web', port: { number: 80 } } } }] } }], ...(tls && { tls: [{ hosts: ['a'], secretName: 's' }] }) },
  });
  const snap: ClusterSnapshot = {
    namespace: 'dev', pods: [], services: [], endpointSlices: [], ingressClasses: [], networkPolicies: [], secrets: {}, clusterDNS: false, nodeAddresses: [],
    ingresses: [
      ingress('nb-ing', labels('nb', 'ing')), // the env file's own: already in the subject
      ingress('nb-web-auto', labels('nb', 'web-ingress'), true),
      ingress('other-web', labels('other', 'web-ingress')), // another environment's
      ingress('hand-made', { 'envserve.dev/env': 'nb' }), // not envserve's (no managed-by)
    ],
    httpRoutes: [
      { metadata: { name: 'nb-web-route', labels: labels('nb', 'web-route') }, spec: { hostnames: ['web.gw.test'], rules: [{ matches: [{ path: { type: 'PathPrefix', value: '/lab' } }], backendRefs: [{ name: 'nb-web', port: 80 }] }] } },
    ],
  };
  const out = withAutomaticExposures(subject, snap, 'nb');
  assert.deepEqual(out.exposures.slice(2), [
    { id: 'web-ingress', kind: 'k8s-ingress', protocol: 'http', ingress: 'nb-web-auto', tls: true, host: 'nb-web-auto.apps.test', path: '/', service: 'nb-web', websocket: true },
    { id: 'web-route', kind: 'k8s-route', protocol: 'http', route: 'nb-web-route', host: 'web.gw.test', path: '/lab', service: 'nb-web', websocket: true },
  ]);
  assert.equal(withAutomaticExposures(subject, { ...snap, ingresses: { unavailable: 'Forbidden', message: 'no' }, httpRoutes: null }, 'nb'), subject, 'nothing readable: the subject as it was');
});
