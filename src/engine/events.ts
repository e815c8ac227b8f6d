// A typed event emitter: one stream of named events with typed payloads, and an async iterator
// over one of them (for front ends that prefer `for await`).
import { EventEmitter } from 'node:events';

export type EventMap = Record<string, unknown[]>;

export class TypedEmitter<E extends EventMap> {
  private readonly ee = new EventEmitter();

  constructor() {
    this.ee.setMaxListeners(0); // every front end and socket client subscribes
  }

  /** Subscribes; returns the unsubscribe function. */
  on<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): () => void {
    this.ee.on(event, listener as (...a: unknown[]) => void);
    return () => this.off(event, listener);
  }

  off<K extends keyof E & string>(event: K, listener: (...args: E[K]) => void): void {
    this.ee.off(event, listener as (...a: unknown[]) => void);
  }

  protected emit<K extends keyof E & string>(event: K, ...args: E[K]): void {
    this.ee.emit(event, ...args);
  }

  /** Every `event` from now until `signal` aborts (the first payload argument). */
  async *iterate<K extends keyof E & string>(event: K, signal: AbortSignal): AsyncGenerator<E[K][0]> {
    const queue: E[K][0][] = [];
    let wake: (() => void) | undefined;
    const off = this.on(event, ((...args: E[K]) => {
      queue.push(args[0]);
      wake?.();
    }) as (...args: E[K]) => void);
    const onAbort = () => wake?.();
    signal.addEventListener('abort', onAbort, { once: true });
    try {
      while (!signal.aborted) {
        if (queue.length === 0) await new Promise<void>((r) => (wake = r));
        wake = undefined;
        while (queue.length > 0 && !signal.aborted) yield queue.shift()!;
      }
    } finally {
      off();
      signal.removeEventListener('abort', onAbort);
    }
  }
}
