// The container's command: a small sh script that starts every environment process in the
// background (skipping, with a message, those the image does not have), stops them all on
// SIGTERM (sh as PID 1 would otherwise ignore it and the engine would wait for its timeout),
// and then waits — or execs the env's entrypoint.
import { environmentProcesses, shellQuote } from '../../plan/env-commands.js';
import type { EnvSpec } from '../../plan/types.js';

export function containerCommand(env: EnvSpec): string[] {
  const procs = environmentProcesses(env, { listenAddress: '0.0.0.0' }).map((p) =>
    // Jupyter refuses to run as root without this; many images run as root.
    p.name === 'jupyter' ? { ...p, argv: [...p.argv, '--allow-root'] } : p,
  );
  const lines = [`trap 'kill $pids 2>/dev/null; exit 0' TERM INT`, 'pids='];
  for (const p of procs) {
    const cmd = shellQuote(p.argv[0]!);
    lines.push(
      `if command -v ${cmd} >/dev/null 2>&1; then ${p.argv.map(shellQuote).join(' ')} & pids="$pids $!"; ` +
        `else echo ${shellQuote(`envserve: ${p.argv[0]} is not installed in this image (${p.name} not started)`)} >&2; fi`,
    );
  }
  if (env.entrypoint?.length) lines.push(`exec ${env.entrypoint.map(shellQuote).join(' ')}`);
  else {
    lines.push('[ -n "$pids" ] && wait');
    // nothing (left) to wait for: stay up so the environment can still be entered and served
    lines.push('while :; do sleep 3600 & wait $!; done');
  }
  return ['/bin/sh', '-c', lines.join('\n')];
}
