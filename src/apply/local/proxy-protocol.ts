// The messages between the TCP proxy's main thread (proxy-threads.ts) and its forwarding threads
// (proxy-worker.ts), and the layout of the counters they share. Types and constants only: the
// worker imports this, and nothing else of envserve comes with it.
import type { Endpoint } from '../../status/types.js';

/** Float64 counters per thread in the shared buffer: connections, bytesIn, bytesOut, openSockets, bufferedBytes. */
export const SLOT = 5;

export interface ThreadInit {
  /** Where to listen: the proxy's port (0 for the first thread of a host_port=0 proxy). */
  listen: Endpoint;
  /** Where connections go; unset until the main thread has resolved a function target. */
  target?: Endpoint;
  shared: SharedArrayBuffer;
  slot: number;
}

export type ToThread = { type: 'target'; target: Endpoint };

export type FromThread =
  | { type: 'listening'; address: string; port: number; inode: number | undefined }
  | { type: 'listenError'; code: string; message: string }
  | { type: 'upstreamError'; code: string; message: string };
