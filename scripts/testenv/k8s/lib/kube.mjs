// A tiny Kubernetes API client for the test cluster's helper programs (pod backer, test LB
// controller). Node builtins only; authenticates with a client certificate.
//
//   const kube = kubeFromEnv();   // KUBE_SERVER, KUBE_CA, KUBE_CERT, KUBE_KEY (file paths)
//   await kube.request('GET', '/api/v1/pods');
//   kube.informer('/api/v1/pods', { onSync(items), onEvent(type, obj) });
import https from 'node:https';
import { readFileSync } from 'node:fs';

export function log(name, ...args) {
  const t = new Date().toISOString().slice(11, 23);
  console.log(`${t} [${name}]`, ...args);
}

export class KubeError extends Error {
  constructor(status, body, what) {
    super(`${what}: HTTP ${status}: ${body.slice(0, 300)}`);
    this.status = status;
  }
}

export function kubeFromEnv() {
  const need = (k) => {
    const v = process.env[k];
    if (!v) throw new Error(`missing environment variable ${k}`);
    return v;
  };
  return new Kube({
    server: need('KUBE_SERVER'),
    ca: readFileSync(need('KUBE_CA')),
    cert: readFileSync(need('KUBE_CERT')),
    key: readFileSync(need('KUBE_KEY')),
  });
}

export class Kube {
  constructor({ server, ca, cert, key }) {
    this.url = new URL(server);
    this.agent = new https.Agent({ ca, cert, key, keepAlive: true, maxSockets: 16 });
  }

  _opts(method, path, headers = {}) {
    return {
      method, host: this.url.hostname, port: this.url.port || 443, path,
      agent: this.agent, headers: { accept: 'application/json', ...headers },
    };
  }

  request(method, path, body, contentType = 'application/json') {
    return new Promise((resolve, reject) => {
      const data = body === undefined ? undefined : Buffer.from(JSON.stringify(body));
      const headers = data ? { 'content-type': contentType, 'content-length': data.length } : {};
      const req = https.request(this._opts(method, path, headers), (res) => {
        const chunks = [];
        res.on('data', (c) => chunks.push(c));
        res.on('end', () => {
          const text = Buffer.concat(chunks).toString('utf8');
          if (res.statusCode >= 300) return reject(new KubeError(res.statusCode, text, `${method} ${path}`));
          try { resolve(text ? JSON.parse(text) : undefined); } catch (e) { reject(e); }
        });
        res.on('error', reject);
      });
      req.setTimeout(30_000, () => req.destroy(new Error(`${method} ${path}: timeout`)));
      req.on('error', reject);
      req.end(data);
    });
  }

  // List then watch a collection, forever. Calls onSync(items) after every (re)list and
  // onEvent(type, obj) for ADDED / MODIFIED / DELETED. Returns { stop() }.
  informer(path, { onSync, onEvent, name = 'informer' }) {
    let stopped = false;
    let current = null;
    const sep = path.includes('?') ? '&' : '?';
    const sleep = (ms) => new Promise((r) => setTimeout(r, ms));
    const watchOnce = (rv) => new Promise((resolve) => {
      const p = `${path}${sep}watch=1&allowWatchBookmarks=true&resourceVersion=${rv}&timeoutSeconds=300`;
      const req = https.request(this._opts('GET', p), (res) => {
        if (res.statusCode !== 200) {
          res.resume();
          return resolve({ rv, gone: res.statusCode === 410, error: `HTTP ${res.statusCode}` });
        }
        let buf = '';
        let gone = false;
        res.setEncoding('utf8');
        res.on('data', (chunk) => {
          buf += chunk;
          let i;
          while ((i = buf.indexOf('\n')) >= 0) {
            const line = buf.slice(0, i); buf = buf.slice(i + 1);
            if (!line.trim()) continue;
            let ev;
            try { ev = JSON.parse(line); } catch { continue; }
            if (ev.type === 'ERROR') { if (ev.object?.code === 410) gone = true; continue; }
            if (ev.object?.metadata?.resourceVersion) rv = ev.object.metadata.resourceVersion;
            if (ev.type === 'BOOKMARK') continue;
            try { onEvent(ev.type, ev.object); } catch (e) { log(name, 'handler error:', e); }
          }
        });
        res.on('end', () => resolve({ rv, gone }));
        res.on('error', () => resolve({ rv, gone }));
      });
      req.on('error', (e) => resolve({ rv, gone: false, error: e.message }));
      current = req;
      req.end();
    });
    (async () => {
      let backoff = 100;
      while (!stopped) {
        let rv;
        try {
          const list = await this.request('GET', path);
          rv = list.metadata.resourceVersion;
          await onSync(list.items);
          backoff = 100;
        } catch (e) {
          log(name, 'list failed:', e.message);
          await sleep(backoff); backoff = Math.min(backoff * 2, 5000);
          continue;
        }
        while (!stopped) {
          const r = await watchOnce(rv);
          if (r.error) log(name, 'watch:', r.error);
          if (r.gone) break;            // relist
          if (r.error) { await sleep(200); break; }
          rv = r.rv;
        }
      }
    })();
    return { stop() { stopped = true; current?.destroy(); } };
  }
}
