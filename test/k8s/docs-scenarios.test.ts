// The docs' Kubernetes scenarios (```console scenario=k8s) on the test cluster: the README's
// Kubernetes quickstart (`up --runtime k8s`, `status`, `down`) and check's SelectorMismatch example
// (kubectl apply, `envserve check`). The cluster pulls from no registry: a block's images= names
// the local image its node has for the public one the docs show.
import { scenarioTests } from '../../scripts/doc-tests/scenarios.js';
import { ensureBuilt } from '../helpers/cli.js';
import { clusterEnv } from './cluster.js';

scenarioTests('k8s', () => ({ KUBECONFIG: clusterEnv().kubeconfig }), ensureBuilt);
