// What the login's browser tests share (share-operator, share-traefik): the app (a real testsrv
// pod serving a page, /cookies and a WebSocket echo, logging every request), Chromium trusting the hosts' certificates, `envserve open` with a stand-in
// browser, and the page's WebSocket.
import assert from 'node:assert/strict';
import { createHash, X509Certificate } from 'node:crypto';
import { chmodSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { chromium, type Browser, type Page } from 'playwright-core';
import { kubectl, TESTSRV_IMAGE } from '../../k8s/cluster.js';
import { deleteNamespace, env, mustKubectl } from '../../k8s/expose-lib.js';
import { waitForLoginAdmission } from '../../k8s/share-lib.js';
import { loadKubeClient } from '../../../src/apply/k8s/client.js';
import { runCli } from '../../local/cli-helpers.js';

/** The app: Deployment `lab` (label envserve.dev/env=lab), testsrv's websocket mode on 8080. */
export function deployLab(ns: string): void {
  mustKubectl(['-n', ns, 'apply', '-f', '-'], JSON.stringify({
    apiVersion: 'apps/v1', kind: 'Deployment', metadata: { name: 'lab' },
    spec: {
      replicas: 1, selector: { matchLabels: { 'envserve.dev/env': 'lab' } },
      template: {
        metadata: { labels: { 'envserve.dev/env': 'lab' } },
        spec: {
          terminationGracePeriodSeconds: 2,
          containers: [{ name: 'app', image: TESTSRV_IMAGE, imagePullPolicy: 'Never', command: ['testsrv', 'pod', '--http', '8080', '--echo', '', '--mode', 'websocket'], ports: [{ name: 'http', containerPort: 8080 }], env: [{ name: 'TESTSRV_LOG_REQUESTS', value: '1' }], readinessProbe: { tcpSocket: { port: 8080 }, periodSeconds: 1 } }],
        },
      },
    },
  }));
}

/** Requests the app's pod logged ("request METHOD URI"). */
export const appRequests = (ns: string): string[] => mustKubectl(['-n', ns, 'logs', 'deployment/lab']).split('\n').filter((l) => l.startsWith('request '));

/** Chromium resolving these hosts to Traefik's address and trusting these certificates (by their keys). */
export function launchChromium(hosts: string[], address: string, certPems: string[]): Promise<Browser> {
  const spki = (pem: string) => createHash('sha256').update(new X509Certificate(pem).publicKey.export({ type: 'spki', format: 'der' })).digest('base64');
  assert.ok(process.env.ENVSERVE_TEST_CHROMIUM, 'run through `node scripts/run-tests.mjs test/ui/k8s/...` (it sets up Chromium)');
  return chromium.launch({
    executablePath: process.env.ENVSERVE_TEST_CHROMIUM,
    headless: true,
    args: ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--no-first-run', '--disable-background-networking', `--host-resolver-rules=${hosts.map((h) => `MAP ${h} ${address}`).join(', ')}`, `--ignore-certificate-errors-spki-list=${certPems.map(spki).join(',')}`],
  });
}

/** `envserve open URL` as a user, with a stand-in browser that writes the one-time link it gets into a file. */
export function opener(dir: string): (url: string, kubeconfig: string) => Promise<string> {
  const opened = join(dir, 'opened-url');
  const browserCmd = join(dir, 'browser.sh');
  writeFileSync(browserCmd, `#!/bin/sh\nprintf '%s' "$1" > ${opened}\n`);
  chmodSync(browserCmd, 0o755);
  return async (url, kubeconfig) => {
    const r = await runCli(['open', url, '--kubeconfig', kubeconfig], { BROWSER: browserCmd }, 60_000);
    assert.equal(r.code, 0, r.stderr);
    return readFileSync(opened, 'utf8');
  };
}

/** Opens a WebSocket from the page (same origin, its cookies go along); resolves with the first echo. */
export function wsEcho(page: Page, text: string): Promise<string> {
  return page.evaluate(`new Promise((resolve, reject) => {
    const w = new WebSocket('wss://' + location.host + '/ws');
    window.wsClosed = new Promise((r) => w.addEventListener('close', () => r(Date.now())));
    w.onopen = () => w.send(${JSON.stringify(text)});
    w.onmessage = (m) => resolve(String(m.data));
    w.onerror = () => reject(new Error('WebSocket failed'));
  })`) as Promise<string>;
}

/** Waits (≤ 60 s) until the page's last WebSocket is closed by the far end; how long that took from `since`. */
export async function wsCutWithin60s(page: Page, since: number): Promise<number> {
  const closedAt = (await page.evaluate('Promise.race([window.wsClosed, new Promise((r) => setTimeout(() => r(0), 60000))])')) as number;
  assert.ok(closedAt, 'the WebSocket was not cut within 60 s');
  return closedAt - since;
}

/** Waits until the Login admission policy answers for this user's kubeconfig (it lags the CRD's install). */
export async function loginAdmitted(kubeconfig: string, host: string): Promise<void> {
  const c = loadKubeClient({ kubeconfig });
  try {
    await waitForLoginAdmission(c, host);
  } finally {
    c.close();
  }
}

/**
 * Removes what a test's operator install left: the operator, its TLS Secret, its login objects,
 * the test's namespace, Logins, and the CRDs (later files share the cluster: with the CRDs left,
 * their `serve` would hand exposures to an operator that no longer runs).
 */
export function removeOperatorInstall(o: { operatorNs: string; tlsSecret: string; ns?: string }): void {
  kubectl(env.kubeconfig, ['-n', o.operatorNs, 'delete', 'deployment', 'envserve-operator', '--ignore-not-found', '--wait=false']);
  kubectl(env.kubeconfig, ['-n', o.operatorNs, 'delete', 'secret', o.tlsSecret, '--ignore-not-found']);
  kubectl(env.kubeconfig, ['-n', o.operatorNs, 'delete', 'ingress,httproute', '-l', 'envserve.dev/login=true', '--ignore-not-found']);
  kubectl(env.kubeconfig, ['-n', o.operatorNs, 'delete', 'middlewares.traefik.io', '-l', 'envserve.dev/login=true', '--ignore-not-found']);
  if (o.ns) deleteNamespace(o.ns);
  kubectl(env.kubeconfig, ['delete', 'logins', '--all', '--ignore-not-found']);
  kubectl(env.kubeconfig, ['delete', 'crd', 'exposuresets.envserve.dev', 'exposurepolicies.envserve.dev', '--ignore-not-found', '--wait=true']);
}
