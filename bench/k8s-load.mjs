// The client load of bench/k8s.bench.ts, in a process of its own, so neither forward shares a
// thread with the load it carries (envserve's forward runs in the bench's process; kubectl is a
// process of its own): both get the same client, started the same way. Prints one JSON line.
//
//   node bench/k8s-load.mjs bulk PORT BYTES        -> {"mbps": n, "cpu": s} bytes echoed, MB/s of payload; its own CPU
//   node bench/k8s-load.mjs setup PORT N           -> {"ms": [..]}  connect, 1 byte, its echo
//   node bench/k8s-load.mjs rps PORT SECONDS CONNS -> {"rps": n}    keep-alive HTTP GET /
import net from 'node:net';
import http from 'node:http';
import { randomBytes } from 'node:crypto';

const [mode, portArg, a, b] = process.argv.slice(2);
const port = Number(portArg);
const out = (o) => process.stdout.write(`${JSON.stringify(o)}\n`, () => process.exit(0));
const fail = (msg) => {
  process.stdout.write(`${JSON.stringify({ error: msg })}\n`, () => process.exit(1));
};

/** Sends `total` bytes while reading them back; MB/s of payload. */
function bulk(total) {
  const sock = net.connect({ host: '127.0.0.1', port });
  const chunk = randomBytes(256 * 1024);
  let sent = 0;
  let got = 0;
  let t0 = 0n;
  const pump = () => {
    while (sent < total) {
      sent += chunk.length;
      if (!sock.write(chunk)) return void sock.once('drain', pump);
    }
  };
  sock.on('connect', () => {
    t0 = process.hrtime.bigint();
    pump();
  });
  sock.on('data', (d) => {
    got += d.length;
    if (got >= total) {
      const s = Number(process.hrtime.bigint() - t0) / 1e9;
      sock.destroy();
      const u = process.cpuUsage();
      out({ mbps: total / s / 1e6, cpu: (u.user + u.system) / 1e6 });
    }
  });
  sock.on('error', (e) => fail(`${e.message} after ${got} of ${total} bytes`));
  sock.on('close', () => got < total && fail(`the forward closed the connection after ${got} of ${total} bytes`));
}

/** Connect, send one byte, get it back; a new connection each time. */
async function setup(n) {
  const ms = [];
  for (let i = 0; i < n; i++) {
    const t0 = performance.now();
    await new Promise((resolve, reject) => {
      const s = net.connect({ host: '127.0.0.1', port });
      s.on('connect', () => s.write('x'));
      s.once('data', () => {
        s.destroy();
        resolve();
      });
      s.on('error', (e) => reject(e));
      s.on('close', () => reject(new Error('the forward closed the connection without an answer')));
    }).catch((e) => fail(e.message));
    ms.push(performance.now() - t0);
  }
  out({ ms });
}

/** `conns` clients, each on its own keep-alive connection, requesting as fast as answers come. */
async function rps(seconds, conns) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: conns });
  let done = 0;
  let failure;
  const end = Date.now() + seconds * 1000;
  const one = () => new Promise((resolve, reject) => {
    http.get({ host: '127.0.0.1', port, path: '/', agent }, (res) => {
      res.resume();
      res.on('end', resolve);
      res.on('error', reject);
    }).on('error', reject);
  });
  await Promise.all(Array.from({ length: conns }, async () => {
    while (Date.now() < end && !failure) {
      try {
        await one();
        done++;
      } catch (e) {
        failure ??= e;
      }
    }
  }));
  agent.destroy();
  if (failure) fail(failure.message);
  else out({ rps: done / seconds });
}

if (mode === 'bulk') bulk(Number(a));
else if (mode === 'setup') void setup(Number(a));
else if (mode === 'rps') void rps(Number(a), Number(b));
else fail(`unknown mode ${mode}`);
