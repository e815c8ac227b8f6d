// List, then watch from the list's resourceVersion; on 410 Gone or a broken stream, list again
// after a backoff. The whole list is handed over each time, so a restarted API server or a
// missed event never leaves the cache wrong for long.
import { Backoff, sleep } from '../apply/backoff.js';
import { KubeApiError, type KubeClient, type WatchEvent } from '../apply/k8s/client.js';

export interface InformerHandlers<T> {
  /** A fresh full list (replace the cache). */
  list(items: T[]): void;
  event(e: WatchEvent<T>): void;
  error?(e: unknown): void;
}

export async function inform<T extends { metadata?: { resourceVersion?: string } }>(
  client: Pick<KubeClient, 'request' | 'watch'>,
  path: string,
  query: Record<string, string>,
  h: InformerHandlers<T>,
  signal: AbortSignal,
): Promise<void> {
  const backoff = new Backoff({ initialMs: 200, maxMs: 10_000 });
  while (!signal.aborted) {
    try {
      const list = await client.request<{ items: T[]; metadata: { resourceVersion: string } }>(path, { query });
      h.list(list.items ?? []);
      let rv = list.metadata.resourceVersion;
      backoff.healthy();
      // Watch until the server ends it (it does after a few minutes); resume from the last version seen.
      for (;;) {
        await client.watch(
          path,
          { ...query, resourceVersion: rv, timeoutSeconds: 240 },
          (ev) => {
            const v = (ev.object as T)?.metadata?.resourceVersion;
            if (v) rv = v;
            if (ev.type !== 'BOOKMARK') h.event(ev as WatchEvent<T>);
          },
          signal,
        );
        if (signal.aborted) return;
      }
    } catch (e) {
      if (signal.aborted) return;
      if (!(e instanceof KubeApiError && e.code === 410)) h.error?.(e);
      await sleep(backoff.next(), signal);
    }
  }
}
