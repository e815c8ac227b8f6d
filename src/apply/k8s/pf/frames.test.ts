// Byte-level tests of the SPDY/3.1 frame encoder and decoder (frames.ts): the bytes each frame is
// made of, the decoder on frames split at every byte boundary and on several frames in one piece,
// and the SYN_STREAM header blocks as a real inflater (node:zlib) reads them.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import zlib from 'node:zlib';
import { dataFrame, FLAG_FIN, FrameDecoder, GOAWAY, goAwayFrame, PING, pingFrame, RST_CANCEL, RST_STREAM, rstFrame, SYN_STREAM, synStreamFrame, type FrameItem } from './frames.js';

/** The decoder's items for `pieces`, DATA pieces joined per frame (a piece boundary is not a frame's). */
function decode(pieces: Buffer[]): { kind: string; id: number; [k: string]: unknown }[] {
  const d = new FrameDecoder();
  const out: { kind: string; id: number; [k: string]: unknown }[] = [];
  let pending: Buffer[] = [];
  for (const p of pieces) {
    for (const item of d.push(p) as FrameItem[]) {
      if (item.kind === 'data') pending.push(item.piece);
      else if (item.kind === 'data-end') {
        out.push({ kind: 'data', id: item.id, fin: item.fin, payload: Buffer.concat(pending).toString('hex') });
        pending = [];
      } else out.push({ kind: 'control', id: item.id, type: item.type, flags: item.flags, payload: item.payload.toString('hex'), head: item.head.toString('hex') });
    }
  }
  assert.equal(pending.length, 0, 'every DATA piece belongs to a frame that ended');
  return out;
}

/** Splits `b` at every byte boundary into pieces of `n` bytes. */
const pieces = (b: Buffer, n: number) => Array.from({ length: Math.ceil(b.length / n) }, (_, i) => b.subarray(i * n, i * n + n));

test('frames: DATA, with and without FIN, byte for byte, and decoded back', () => {
  const f = dataFrame(3, Buffer.from('hi'));
  assert.equal(f.toString('hex'), '00000003' + '00000002' + '6869');
  const fin = dataFrame(5, undefined, true);
  assert.equal(fin.toString('hex'), '00000005' + '01000000');
  assert.deepEqual(decode([f, fin]), [
    { kind: 'data', id: 3, fin: false, payload: '6869' },
    { kind: 'data', id: 5, fin: true, payload: '' },
  ]);
  // The largest stream id and a FIN with a payload.
  assert.deepEqual(decode([dataFrame(0x7fffffff, Buffer.from([1, 2, 3]), true)]), [{ kind: 'data', id: 0x7fffffff, fin: true, payload: '010203' }]);
});

test('frames: RST_STREAM, PING and GOAWAY byte for byte, and decoded back', () => {
  const rst = rstFrame(7);
  assert.equal(rst.toString('hex'), '80030003' + '00000008' + '00000007' + '00000005');
  const ping = pingFrame(9);
  assert.equal(ping.toString('hex'), '80030006' + '00000004' + '00000009');
  const away = goAwayFrame(4);
  assert.equal(away.toString('hex'), '80030007' + '00000008' + '00000004' + '00000000');
  assert.deepEqual(decode([Buffer.concat([rst, ping, away])]), [
    { kind: 'control', id: 7, type: RST_STREAM, flags: 0, payload: '00000007' + RST_CANCEL.toString(16).padStart(8, '0'), head: rst.subarray(0, 8).toString('hex') },
    { kind: 'control', id: 9, type: PING, flags: 0, payload: '00000009', head: ping.subarray(0, 8).toString('hex') },
    { kind: 'control', id: 4, type: GOAWAY, flags: 0, payload: '0000000400000000', head: away.subarray(0, 8).toString('hex') },
  ]);
  // A server's PING echoed as the session does it: its header and payload, unchanged.
  const [item] = new FrameDecoder().push(pingFrame(10));
  assert.ok(item?.kind === 'control');
  assert.deepEqual(Buffer.concat([item.head, item.payload]), pingFrame(10));
});

test('frames: frames we only read (SETTINGS, WINDOW_UPDATE) decode as control frames; one with no payload has id 0', () => {
  const settingsWithFlag = Buffer.from('80030004' + '01000000', 'hex'); // SETTINGS, flag 1, empty
  const windowUpdate = Buffer.from('80030009' + '00000008' + '00000003' + '00010000', 'hex'); // stream 3, +64 KiB
  assert.deepEqual(decode([settingsWithFlag, windowUpdate]), [
    { kind: 'control', id: 0, type: 4, flags: FLAG_FIN, payload: '', head: '8003000401000000' },
    { kind: 'control', id: 3, type: 9, flags: 0, payload: '0000000300010000', head: '8003000900000008' },
  ]);
});

test('frames: SYN_STREAM header blocks are one zlib stream that node:zlib inflates to the pairs we wrote', () => {
  const a: [string, string][] = [['streamtype', 'error'], ['port', '8080'], ['requestid', '0']];
  const b: [string, string][] = [['streamtype', 'data'], ['port', '8080'], ['requestid', '0'], ['x-ünicode', 'wert ✓']];
  const first = synStreamFrame(1, a, true);
  const second = synStreamFrame(3, b, false);
  for (const [f, id] of [[first, 1], [second, 3]] as const) {
    assert.equal(f.readUInt16BE(0), 0x8003, 'control frame, version 3');
    assert.equal(f.readUInt16BE(2), SYN_STREAM);
    assert.equal(f[4], 0, 'no flags');
    assert.equal(f.readUInt32BE(4) & 0xffffff, f.length - 8);
    assert.equal(f.readUInt32BE(8), id);
    assert.equal(f.readUInt32BE(12), 0, 'associated stream 0');
    assert.equal(f.readUInt16BE(16), 0, 'priority 0, slot 0');
  }
  assert.deepEqual([...first.subarray(18, 20)], [0x78, 0x01], 'the first block starts the zlib stream');
  assert.notEqual(second[18], 0x78);
  // One inflater across the session, as the kubelet reads them: each block inflates on its own
  // (a sync flush ends it), so a header block is readable as soon as its frame arrives.
  const inflate = zlib.createInflate();
  const blocks: Buffer[] = [];
  inflate.on('data', (c: Buffer) => blocks.push(c));
  const flushed = (f: Buffer) => new Promise<Buffer>((resolve) => {
    blocks.length = 0;
    inflate.write(f.subarray(18));
    inflate.flush(zlib.constants.Z_SYNC_FLUSH, () => resolve(Buffer.concat(blocks)));
  });
  return (async () => {
    assert.deepEqual(headerPairs(await flushed(first)), a);
    assert.deepEqual(headerPairs(await flushed(second)), b);
    inflate.close();
  })();
});

/** SPDY/3 name/value pairs: a count, then length-prefixed names and values (32-bit lengths). */
function headerPairs(b: Buffer): [string, string][] {
  const n = b.readUInt32BE(0);
  const out: [string, string][] = [];
  let at = 4;
  for (let i = 0; i < n; i++) {
    const kl = b.readUInt32BE(at);
    const k = b.toString('utf8', at + 4, at + 4 + kl);
    at += 4 + kl;
    const vl = b.readUInt32BE(at);
    out.push([k, b.toString('utf8', at + 4, at + 4 + vl)]);
    at += 4 + vl;
  }
  assert.equal(at, b.length, 'nothing after the pairs');
  return out;
}

test('frames: several frames in one buffer, and the same bytes split at every byte boundary, decode alike', () => {
  const all = Buffer.concat([
    synStreamFrame(1, [['streamtype', 'error'], ['port', '80'], ['requestid', '0']], true),
    dataFrame(1, undefined, true),
    dataFrame(3, Buffer.from('GET / HTTP/1.1\r\n\r\n')),
    pingFrame(1),
    dataFrame(3, Buffer.alloc(0)),
    rstFrame(3),
    dataFrame(3, Buffer.from('bye'), true),
    goAwayFrame(0),
  ]);
  const whole = decode([all]);
  assert.deepEqual(whole.map((f) => `${f.kind} ${f.id}`), ['control 1', 'data 1', 'data 3', 'control 1', 'data 3', 'control 3', 'data 3', 'control 0']);
  for (let n = 1; n < all.length; n++) assert.deepEqual(decode(pieces(all, n)), whole, `pieces of ${n} bytes`);
  // And cut once at every position.
  for (let at = 1; at < all.length; at++) assert.deepEqual(decode([all.subarray(0, at), all.subarray(at)]), whole, `cut at ${at}`);
});

test('frames: a DATA payload is handed out in the pieces it arrives in, with its stream id on each', () => {
  const d = new FrameDecoder();
  const f = dataFrame(5, Buffer.from('abcdef'), true);
  assert.deepEqual(d.push(f.subarray(0, 5)), []); // half a header: nothing yet
  const a = d.push(f.subarray(5, 10));
  assert.deepEqual(a.map((i) => (i.kind === 'data' ? [i.id, i.piece.toString()] : i.kind)), [[5, 'ab']]);
  const b = d.push(f.subarray(10));
  assert.deepEqual(b.map((i) => (i.kind === 'data' ? [i.id, i.piece.toString()] : i.kind === 'data-end' ? [i.id, i.fin] : i.kind)), [[5, 'cdef'], [5, true]]);
});
