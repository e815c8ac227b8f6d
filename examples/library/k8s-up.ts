// `envserve up --target k8s:<namespace>/pod/<name>` as a program: the env file's port-forwards
// to a pod that already runs, on this machine, until Ctrl-C. The cluster is $KUBECONFIG's.
// Usage: node k8s-up.js build.envd k8s:default/pod/web
import { openEnvironment } from 'envserve';

const [file = 'build.envd', target = 'k8s:default/pod/web'] = process.argv.slice(2);
const env = await openEnvironment(file, { runtime: 'k8s', target, onLog: (line) => console.error(line) });
env.controller.on('started', (status) => {
  for (const e of status.exposures) console.log(`${e.name ?? e.id}: ${e.urls.join(' ')} -> ${e.target} (${e.state})`);
});
for (const signal of ['SIGINT', 'SIGTERM'] as const) process.once(signal, () => env.stop());
try {
  await env.run(); // until stop(): then every forward is closed
} finally {
  await env.close();
}
