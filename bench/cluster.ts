// The test cluster for a benchmark: the running one of ENVSERVE_TESTENV_SLOT, else one started here
// (and stopped again by stopClusterIfStarted). Its env.json is merged into process.env.
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { delimiter, dirname } from 'node:path';

const SLOT = process.env.ENVSERVE_TESTENV_SLOT;
/** The slot's .testenv folder: .testenv/k8s, or .testenv/k8s-N. */
export const TESTENV_DIR = `.testenv/k8s${SLOT && SLOT !== '0' ? `-${SLOT}` : ''}`;

let started = false;

/** Makes sure the cluster runs; returns its admin kubeconfig. */
export function ensureCluster(): string {
  const envJson = `${TESTENV_DIR}/env.json`;
  if (!existsSync(envJson) || spawnSync('bash', ['scripts/testenv/k8s/status.sh']).status !== 0) {
    console.log('bench: starting the test cluster (scripts/testenv/k8s/up.sh)');
    if (spawnSync('bash', ['scripts/testenv/k8s/up.sh'], { stdio: 'inherit' }).status !== 0) throw new Error('up.sh failed');
    started = true;
  }
  Object.assign(process.env, JSON.parse(readFileSync(envJson, 'utf8')));
  // The peer is kubectl of the cluster's version (built with it), not the machine's.
  if (process.env.ENVSERVE_TEST_KUBECTL) process.env.PATH = `${dirname(process.env.ENVSERVE_TEST_KUBECTL)}${delimiter}${process.env.PATH}`;
  return process.env.ENVSERVE_TEST_KUBECONFIG!;
}

export function stopClusterIfStarted(): void {
  if (started) spawnSync('bash', ['scripts/testenv/k8s/down.sh'], { stdio: 'inherit' });
}
