// The session keys: HMAC keys read from a Secret that only the operator's ServiceAccount may read
// (the installer's manifests create it, empty; the operator fills it). Rotation puts a new key in
// front and keeps the previous one valid for one session lifetime, so no session ends early.
import { randomBytes } from 'node:crypto';

export interface SessionKey {
  id: string;
  key: Buffer;
  /** When it became the current key (ms since the epoch), for rotation by age. */
  createdAt?: number;
  /** Set on a retired key: cookies it signed are refused after this (ms since the epoch). */
  retiredUntil?: number;
}

/** The current key signs; the current and any retired key still in its grace period verify. */
export class KeyRing {
  constructor(readonly keys: readonly SessionKey[]) {
    if (!keys.length || keys[0]!.retiredUntil !== undefined) throw new Error('a key ring needs a current key first');
    for (const k of keys) if (k.key.length < 32) throw new Error(`session key ${k.id} is shorter than 32 bytes`);
  }

  get current(): SessionKey {
    return this.keys[0]!;
  }

  verifying(id: string, now: number): SessionKey | undefined {
    const k = this.keys.find((x) => x.id === id);
    return k && (k.retiredUntil === undefined || now < k.retiredUntil) ? k : undefined;
  }

  /** A ring with a fresh current key; the old current is kept for `lifetimeMs`, expired ones are dropped. */
  rotate(now: number, lifetimeMs: number): KeyRing {
    const fresh: SessionKey = { id: randomBytes(6).toString('base64url'), key: randomBytes(32), createdAt: now };
    const kept = this.keys
      .map((k, i) => (i === 0 ? { ...k, retiredUntil: now + lifetimeMs } : k))
      .filter((k) => k.retiredUntil === undefined || k.retiredUntil > now);
    return new KeyRing([fresh, ...kept]);
  }

  static fresh(now = Date.now()): KeyRing {
    return new KeyRing([{ id: randomBytes(6).toString('base64url'), key: randomBytes(32), createdAt: now }]);
  }

  /** Secret data (base64 values, as in a Secret's `data`) ↔ ring. */
  toSecretData(): Record<string, string> {
    return { keys: Buffer.from(JSON.stringify(this.keys.map((k) => ({ id: k.id, key: k.key.toString('base64'), ...(k.createdAt !== undefined && { createdAt: k.createdAt }), ...(k.retiredUntil !== undefined && { retiredUntil: k.retiredUntil }) })))).toString('base64') };
  }

  static fromSecretData(data: Record<string, string> | undefined): KeyRing | undefined {
    if (!data?.keys) return undefined;
    const raw = JSON.parse(Buffer.from(data.keys, 'base64').toString('utf8')) as { id: string; key: string; createdAt?: number; retiredUntil?: number }[];
    return new KeyRing(raw.map((k) => ({ id: k.id, key: Buffer.from(k.key, 'base64'), ...(k.createdAt !== undefined && { createdAt: k.createdAt }), ...(k.retiredUntil !== undefined && { retiredUntil: k.retiredUntil }) })));
  }
}
