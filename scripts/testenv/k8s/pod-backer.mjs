#!/usr/bin/env node
// envserve test infrastructure: the POD BACKER.
//
// KWOK pods are only API objects (pods on the KWOK node, $NODE_NAME; the real node's pods run
// real containers and are left alone). This program makes them answer: it watches all pods and, for
// every Ready pod with an IP, listens on podIP:containerPort (TCP) for each declared container
// port. It runs inside the test cluster's network namespace, where the pod CIDR is routed
// "local", so the pod IPs are real addresses that kube-proxy (ClusterIP, NodePort, LoadBalancer)
// and Traefik (Ingress) forward to. It also creates a KWOK PortForward object per pod (owned by
// the pod) so that `kubectl port-forward` / client-node's PortForward, which go API server ->
// KWOK's kubelet API, reach the same listener.
//
// What a listener answers:
//   * HTTP (first bytes look like an HTTP request):
//       any method/path      -> 200 JSON {pod, namespace, port, ip, method, path, host}
//                               and header x-envserve-pod: <namespace>/<name>:<port>
//       POST|PUT /echo       -> 200, the request body byte for byte (application/octet-stream)
//       WebSocket upgrade    -> echo of every text/binary message
//   * anything else: raw TCP echo (bytes come back as sent). A port whose name starts with
//     "echo" is always raw TCP echo.
//
// Annotations on a pod: envserve-testenv/serve: "false" -> not served (an app that is down);
// envserve-testenv/ports: "8888,9000:echo" -> also serve these ports (":echo" = raw TCP echo);
// envserve-testenv/mode: how its HTTP ports behave, as testsrv's --mode (scripts/testenv/podman/
// testsrv/modes.go): json (the default, above), text, html, login, 5xx, hang, reset, websocket.
//
// A pod being deleted (deletionTimestamp set) or no longer Ready loses its listeners at once,
// and their open connections are destroyed, like a dying container.
//
// Environment: KUBE_SERVER, KUBE_CA, KUBE_CERT, KUBE_KEY; READY_FILE (written after the first sync).
import net from 'node:net';
import http from 'node:http';
import crypto from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { kubeFromEnv, log as baseLog, KubeError } from './lib/kube.mjs';

const NAME = 'pod-backer';
const log = (...a) => baseLog(NAME, ...a);
const kube = kubeFromEnv();
const PF_API = '/apis/kwok.x-k8s.io/v1alpha1';
const ONLY_NODE = process.env.NODE_NAME;

/** uid -> { key, ns, name, ip, listeners: Map<port, {server, sockets, mode}>, pfPorts: string } */
const backed = new Map();

function isReady(pod) {
  return (pod.status?.conditions ?? []).some((c) => c.type === 'Ready' && c.status === 'True');
}

/** The TCP ports to serve for a pod, or null if the pod must not be served. */
function desiredPorts(pod) {
  if (pod.metadata.deletionTimestamp) return null;
  // Only the KWOK node's pods: the real node's containers answer for themselves.
  if (ONLY_NODE && pod.spec?.nodeName !== ONLY_NODE) return null;
  if (pod.spec?.hostNetwork) return null;
  const ip = pod.status?.podIP;
  if (!ip || !isReady(pod)) return null;
  const ann = pod.metadata.annotations ?? {};
  if (ann['envserve-testenv/serve'] === 'false') return null;
  // A port's mode: 'echo', or how its HTTP answers (json is the sniffing default, 'auto').
  const app = APP_MODES.has(ann['envserve-testenv/mode']) ? ann['envserve-testenv/mode'] : 'auto';
  const ports = new Map();
  // Extra ports that no container declares: "8888,6006,9000:echo"
  for (const item of (ann['envserve-testenv/ports'] ?? '').split(',').map((x) => x.trim()).filter(Boolean)) {
    const [port, mode] = item.split(':');
    if (Number(port) > 0 && Number(port) < 65536) ports.set(Number(port), mode === 'echo' ? 'echo' : app);
  }
  for (const c of [...(pod.spec?.containers ?? []), ...(pod.spec?.initContainers ?? [])]) {
    for (const p of c.ports ?? []) {
      if ((p.protocol ?? 'TCP') !== 'TCP') continue;
      ports.set(p.containerPort, (p.name ?? '').startsWith('echo') ? 'echo' : app);
    }
  }
  return { ip, ports };
}

const HTTP_START = /^(GET|HEAD|POST|PUT|DELETE|PATCH|OPTIONS|CONNECT|TRACE) /;
const APP_MODES = new Set(['text', 'html', 'login', '5xx', 'hang', 'reset', 'websocket']);

/** The HTTP answer of an app mode (the same as testsrv's modes.go). */
function modeAnswer(mode, id, req, res) {
  const page = (status, title, body) => {
    res.writeHead(status, { 'content-type': 'text/html; charset=utf-8', 'x-envserve-pod': id });
    res.end(`<!doctype html>\n<html><head><title>${title}</title></head><body><h1>${title}</h1><p>${body}</p></body></html>\n`);
  };
  const path = req.url.split('?')[0];
  if (mode === 'text') {
    res.writeHead(200, { 'content-type': 'text/plain; charset=utf-8', 'x-envserve-pod': id });
    res.end(`${id} ${req.url}\n`);
  } else if (mode === 'html') page(200, 'testsrv', `served by ${id}`);
  else if (mode === '5xx') page(503, 'Service Unavailable', `the app behind ${id} is failing`);
  else if (mode === 'login') {
    if (path.startsWith('/api/')) {
      res.writeHead(403, { 'content-type': 'application/json', 'x-envserve-pod': id });
      res.end('{"message": "Forbidden", "reason": null}\n');
    } else if (path === '/login') page(200, 'Log in', `<form method="post"><input type="password" name="password"></form> ${id}`);
    else {
      res.writeHead(302, { location: `/login?next=${encodeURIComponent(req.url)}`, 'x-envserve-pod': id });
      res.end();
    }
  } else if (mode === 'websocket') {
    if (path === '/') page(200, 'testsrv', `served by ${id}; a WebSocket echo at <a href="/ws">/ws</a>`);
    else {
      res.writeHead(path === '/ws' ? 426 : 404, { 'content-type': 'text/plain', 'x-envserve-pod': id, ...(path === '/ws' && { upgrade: 'websocket' }) });
      res.end(path === '/ws' ? 'a WebSocket endpoint: upgrade required\n' : '404 page not found\n');
    }
  }
}

function makeHttpServer(info, mode) {
  const srv = http.createServer((req, res) => {
    const id = `${info.ns}/${info.name}:${info.port}`;
    if (mode !== 'auto') {
      req.resume();
      modeAnswer(mode, id, req, res);
      return;
    }
    if ((req.method === 'POST' || req.method === 'PUT') && req.url.split('?')[0] === '/echo') {
      const chunks = [];
      req.on('data', (c) => chunks.push(c));
      req.on('end', () => {
        const body = Buffer.concat(chunks);
        res.writeHead(200, { 'content-type': 'application/octet-stream', 'content-length': body.length, 'x-envserve-pod': id });
        res.end(body);
      });
      return;
    }
    req.resume();
    const body = JSON.stringify({
      pod: info.name, namespace: info.ns, port: info.port, ip: info.ip,
      method: req.method, path: req.url, host: req.headers.host ?? null,
    }) + '\n';
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'x-envserve-pod': id });
    res.end(req.method === 'HEAD' ? undefined : body);
  });
  srv.on('upgrade', (req, socket, head) => wsEcho(req, socket, head, info));
  srv.on('clientError', (_e, socket) => socket.destroy());
  return srv;
}

// Minimal WebSocket echo (RFC 6455): text/binary messages come back unchanged, ping -> pong.
function wsEcho(req, socket, head, info) {
  const key = req.headers['sec-websocket-key'];
  if ((req.headers.upgrade ?? '').toLowerCase() !== 'websocket' || !key) { socket.destroy(); return; }
  const accept = crypto.createHash('sha1').update(key + '258EAFA5-E914-47DA-95CA-C5AB0DC85B11').digest('base64');
  socket.write('HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n' +
    `Sec-WebSocket-Accept: ${accept}\r\nx-envserve-pod: ${info.ns}/${info.name}:${info.port}\r\n\r\n`);
  let buf = head && head.length ? Buffer.from(head) : Buffer.alloc(0);
  const frame = (opcode, payload) => {
    const len = payload.length;
    let hdr;
    if (len < 126) hdr = Buffer.from([0x80 | opcode, len]);
    else if (len < 65536) { hdr = Buffer.alloc(4); hdr[0] = 0x80 | opcode; hdr[1] = 126; hdr.writeUInt16BE(len, 2); }
    else { hdr = Buffer.alloc(10); hdr[0] = 0x80 | opcode; hdr[1] = 127; hdr.writeBigUInt64BE(BigInt(len), 2); }
    socket.write(Buffer.concat([hdr, payload]));
  };
  let fragOpcode = 0; let frags = [];
  const onData = () => {
    for (;;) {
      if (buf.length < 2) return;
      const fin = (buf[0] & 0x80) !== 0; const opcode = buf[0] & 0x0f;
      const masked = (buf[1] & 0x80) !== 0; let len = buf[1] & 0x7f; let off = 2;
      if (len === 126) { if (buf.length < 4) return; len = buf.readUInt16BE(2); off = 4; }
      else if (len === 127) { if (buf.length < 10) return; len = Number(buf.readBigUInt64BE(2)); off = 10; }
      const maskOff = off; if (masked) off += 4;
      if (buf.length < off + len) return;
      const payload = Buffer.from(buf.subarray(off, off + len));
      if (masked) for (let i = 0; i < len; i++) payload[i] ^= buf[maskOff + (i % 4)];
      buf = buf.subarray(off + len);
      if (opcode === 0x8) { frame(0x8, payload.subarray(0, 2)); socket.end(); return; }
      if (opcode === 0x9) { frame(0xA, payload); continue; }
      if (opcode === 0xA) continue;
      if (opcode !== 0) { fragOpcode = opcode; frags = []; }
      frags.push(payload);
      if (fin) { frame(fragOpcode, Buffer.concat(frags)); frags = []; }
    }
  };
  socket.on('data', (d) => { buf = Buffer.concat([buf, d]); onData(); });
  socket.on('error', () => socket.destroy());
  onData();
}

function listen(entry, port, mode) {
  const info = { ns: entry.ns, name: entry.name, ip: entry.ip, port };
  const httpSrv = makeHttpServer(info, mode);
  const sockets = new Set();
  const server = net.createServer((sock) => {
    sockets.add(sock);
    sock.on('close', () => sockets.delete(sock));
    sock.on('error', () => sock.destroy());
    if (mode === 'echo') { sock.pipe(sock); return; }
    if (mode === 'hang') { sock.resume(); return; } // reads, never answers
    if (mode === 'reset') { sock.once('data', () => sock.resetAndDestroy()); return; } // RST, as SO_LINGER 0
    sock.once('data', (chunk) => {
      if (HTTP_START.test(chunk.toString('latin1', 0, 8))) {
        sock.pause();
        sock.unshift(chunk);
        httpSrv.emit('connection', sock);
        sock.resume();
      } else {
        sock.write(chunk);
        sock.pipe(sock);
      }
    });
  });
  const l = { server, sockets, mode, closed: false };
  let attempts = 0;
  const tryListen = () => {
    if (l.closed) return;
    server.listen({ host: entry.ip, port, exclusive: true }, () => {
      log(`serving ${entry.key} on ${entry.ip}:${port} (${mode})${entry.t0 ? ` ${Date.now() - entry.t0} ms after the Ready event` : ''}`);
    });
  };
  server.on('error', (e) => {
    if (e.code === 'EADDRINUSE' && attempts++ < 100 && !l.closed) { setTimeout(tryListen, 20); return; }
    log(`cannot listen on ${entry.ip}:${port} for ${entry.key}: ${e.message}`);
  });
  tryListen();
  return l;
}

function closeListener(entry, port, l) {
  l.closed = true;
  l.server.close();
  for (const s of l.sockets) s.destroy();
  log(`stopped ${entry.key} on ${entry.ip}:${port}`);
}

async function syncPortForward(entry, pod, ports) {
  const want = ports ? [...ports.keys()].sort((a, b) => a - b).join(',') : '';
  if (entry.pfPorts === want) return;
  entry.pfPorts = want;
  const base = `${PF_API}/namespaces/${encodeURIComponent(entry.ns)}/portforwards`;
  try {
    if (!want) {
      await kube.request('DELETE', `${base}/${encodeURIComponent(entry.name)}`).catch((e) => {
        if (!(e instanceof KubeError && e.status === 404)) throw e;
      });
      return;
    }
    const obj = {
      apiVersion: 'kwok.x-k8s.io/v1alpha1', kind: 'PortForward',
      metadata: {
        name: entry.name, namespace: entry.ns,
        labels: { 'app.kubernetes.io/managed-by': 'envserve-pod-backer' },
        ownerReferences: [{ apiVersion: 'v1', kind: 'Pod', name: entry.name, uid: pod.metadata.uid }],
      },
      spec: { forwards: [...ports.keys()].map((p) => ({ ports: [p], target: { address: entry.ip, port: p } })) },
    };
    try {
      await kube.request('POST', base, obj);
    } catch (e) {
      if (!(e instanceof KubeError && e.status === 409)) throw e;
      const cur = await kube.request('GET', `${base}/${encodeURIComponent(entry.name)}`);
      obj.metadata.resourceVersion = cur.metadata.resourceVersion;
      await kube.request('PUT', `${base}/${encodeURIComponent(entry.name)}`, obj);
    }
  } catch (e) {
    entry.pfPorts = null; // try again on the next event
    log(`PortForward for ${entry.key}: ${e.message}`);
  }
}

function reconcile(pod, gone = false) {
  const uid = pod.metadata.uid;
  const want = gone ? null : desiredPorts(pod);
  let entry = backed.get(uid);
  if (!want) {
    if (!entry) return;
    for (const [port, l] of entry.listeners) closeListener(entry, port, l);
    entry.listeners.clear();
    backed.delete(uid);
    // The PortForward object is owned by the pod: the garbage collector removes it with the
    // pod. Delete it now only if the pod lives on (e.g. it stopped being Ready).
    if (!gone && !pod.metadata.deletionTimestamp) syncPortForward(entry, pod, null);
    return;
  }
  if (entry && entry.ip !== want.ip) { reconcile(pod, true); entry = undefined; }
  if (!entry) {
    entry = { key: `${pod.metadata.namespace}/${pod.metadata.name}`, ns: pod.metadata.namespace, name: pod.metadata.name, ip: want.ip, listeners: new Map(), pfPorts: '', t0: Date.now() };
    backed.set(uid, entry);
  }
  for (const [port, l] of entry.listeners) {
    if (want.ports.get(port) !== l.mode) { closeListener(entry, port, l); entry.listeners.delete(port); }
  }
  for (const [port, mode] of want.ports) {
    if (!entry.listeners.has(port)) entry.listeners.set(port, listen(entry, port, mode));
  }
  syncPortForward(entry, pod, want.ports);
}

let synced = false;
kube.informer('/api/v1/pods', {
  name: NAME,
  onSync(items) {
    const seen = new Set(items.map((p) => p.metadata.uid));
    for (const [uid, entry] of backed) {
      if (!seen.has(uid)) reconcile({ metadata: { uid, name: entry.name, namespace: entry.ns } }, true);
    }
    for (const p of items) reconcile(p);
    if (!synced) {
      synced = true;
      log(`synced: ${items.length} pods`);
      if (process.env.READY_FILE) writeFileSync(process.env.READY_FILE, `${process.pid}\n`);
    }
  },
  onEvent(type, pod) { reconcile(pod, type === 'DELETED'); },
});

for (const sig of ['SIGTERM', 'SIGINT']) {
  process.on(sig, () => {
    for (const entry of backed.values()) for (const [port, l] of entry.listeners) closeListener(entry, port, l);
    process.exit(0);
  });
}
