// The messages between the TCP proxy's main thread (proxy-threads.ts) and its forwarding threads
// (proxy-worker.ts), and the layout of the counters they share. Types and constants only: the
// worker imports this, and nothing else of envserve comes with it.
import type { Endpoint } from '../../status/types.js';

/** Float64 counters per proxy and thread in its shared buffer: connections, bytesIn, bytesOut, openSockets, bufferedBytes. */
export const SLOT = 5;

export interface ThreadInit {
  /** This thread's place in every proxy's counters. */
  slot: number;
}

export type ToThread =
  /** Listen for proxy `id` (port 0: any free port, for its first thread); `target` unset until resolved. */
  | { type: 'open'; id: number; listen: Endpoint; target?: Endpoint; shared: SharedArrayBuffer }
  | { type: 'target'; id: number; target: Endpoint }
  /** Stop listening and close the proxy's connections; answered with 'closed'. */
  | { type: 'close'; id: number };

export type FromThread =
  | { type: 'listening'; id: number; address: string; port: number; inode: number | undefined }
  | { type: 'listenError'; id: number; code: string; message: string }
  | { type: 'upstreamError'; id: number; code: string; message: string }
  | { type: 'closed'; id: number };
