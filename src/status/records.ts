// What a runtime records about the objects it made, so that another process can find them again:
// the cluster it applied to and every object it owns. The runtimes (src/apply) fill these in, the
// engine's state record (src/engine/state.ts) stores them, `down` reads them back. Below both, so
// that apply never imports the engine.

/** The Kubernetes cluster an environment was applied to: enough to reconnect, no secrets. */
export interface ClusterRecord {
  server: string;
  context: string;
  namespace: string;
  /** The kubeconfig file's path (absolute), when one was used; absent = in-cluster config. */
  kubeconfig?: string;
  /** The pods `serve --target` / `--selector` reaches (absent: the environment's own Deployment), for `check -f`. */
  workload?: { kind: 'deployment' | 'pod'; name: string } | { kind: 'selector'; labels: Record<string, string> };
}

export interface OwnedObject {
  kind: string;
  namespace: string;
  name: string;
}
