// TLS for the k8s tests: certificates for Ingress hosts, issued with openssl from the test CA (the
// cluster's own CA, made by scripts/testenv/k8s/up.sh; Traefik's default certificate comes from it
// too) or from a throwaway CA nobody trusts, written as kubernetes.io/tls Secrets; and an HTTPS GET
// that verifies the answer as a browser would, with SNI = the host.
import { execFileSync } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import https from 'node:https';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type tls from 'node:tls';
import { kubectl } from './cluster.js';

function need(name: string): string {
  const v = process.env[name];
  if (!v) throw new Error(`${name} is not set: run the k8s tests through node scripts/run-tests.mjs (scripts/testenv/k8s/up.sh writes it)`);
  return v;
}

/** Where the test cluster serves TLS Ingresses, and its CA. */
export function tlsEnv(): { httpsAddress: string; httpsPort: number; caCert: string; caKey: string; defaultHost: string } {
  const [address, port] = need('ENVSERVE_TEST_INGRESS_HTTPS_ADDRESS').split(':');
  return { httpsAddress: address!, httpsPort: Number(port), caCert: need('ENVSERVE_TEST_CA_CERT'), caKey: need('ENVSERVE_TEST_CA_KEY'), defaultHost: need('ENVSERVE_TEST_INGRESS_DEFAULT_TLS_HOST') };
}

export interface IssuedCert { cert: string; key: string }

const openssl = (args: string[], cwd: string) => execFileSync('openssl', args, { cwd, stdio: ['ignore', 'pipe', 'pipe'] });

let unknownCa: { cert: string; key: string } | undefined;
/** A CA made once per test process, trusted by nothing. */
function unknownAuthority(): { cert: string; key: string } {
  if (unknownCa) return unknownCa;
  const dir = mkdtempSync(join(tmpdir(), 'envserve-unknown-ca-'));
  openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'ca.key'], dir);
  openssl(['req', '-x509', '-new', '-key', 'ca.key', '-sha256', '-days', '2', '-subj', '/CN=envserve-unknown-test-ca', '-out', 'ca.crt'], dir);
  return (unknownCa = { cert: join(dir, 'ca.crt'), key: join(dir, 'ca.key') });
}

const stamp = (d: Date) => d.toISOString().replace(/[-:T]/g, '').slice(0, 14) + 'Z';

/**
 * A server certificate for `host` (subjectAltName DNS:host): from the test CA, or (`ca: 'unknown'`)
 * from a CA nobody trusts; `expired`: valid for one day in 2020. `openssl ca` because it takes
 * explicit dates (`x509 -req` in OpenSSL 3.0 does not).
 */
export function issueCert(host: string, o: { expired?: boolean; ca?: 'test' | 'unknown' } = {}): IssuedCert {
  const ca = o.ca === 'unknown' ? unknownAuthority() : { cert: tlsEnv().caCert, key: tlsEnv().caKey };
  const dir = mkdtempSync(join(tmpdir(), 'envserve-cert-'));
  try {
    writeFileSync(join(dir, 'ca.cnf'), [
      '[ca]', 'default_ca = d', '[d]', 'database = index.txt', 'new_certs_dir = .', 'serial = serial', 'default_md = sha256',
      'policy = p', 'unique_subject = no', 'copy_extensions = none', '[p]', 'commonName = supplied', '',
    ].join('\n'));
    writeFileSync(join(dir, 'index.txt'), '');
    writeFileSync(join(dir, 'serial'), `7${randomBytes(8).toString('hex').slice(1)}\n`);
    writeFileSync(join(dir, 'ext'), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,keyEncipherment\nextendedKeyUsage=serverAuth\nsubjectAltName=DNS:${host}\n`);
    openssl(['ecparam', '-name', 'prime256v1', '-genkey', '-noout', '-out', 'tls.key'], dir);
    openssl(['req', '-new', '-key', 'tls.key', '-subj', `/CN=${host}`, '-out', 'tls.csr'], dir);
    const now = Date.now();
    const [from, to] = o.expired ? [new Date('2020-01-01T00:00:00Z'), new Date('2020-01-02T00:00:00Z')] : [new Date(now - 3600_000), new Date(now + 2 * 86400_000)];
    openssl(['ca', '-batch', '-config', 'ca.cnf', '-cert', ca.cert, '-keyfile', ca.key, '-in', 'tls.csr', '-startdate', stamp(from), '-enddate', stamp(to), '-extfile', 'ext', '-notext', '-out', 'tls.crt'], dir);
    return { cert: readFileSync(join(dir, 'tls.crt'), 'utf8'), key: readFileSync(join(dir, 'tls.key'), 'utf8') };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Writes the certificate as a kubernetes.io/tls Secret `name` in `ns` (kubectl apply). */
export function tlsSecret(kubeconfig: string, ns: string, name: string, c: IssuedCert): void {
  const secret = {
    apiVersion: 'v1', kind: 'Secret', type: 'kubernetes.io/tls', metadata: { name, namespace: ns },
    data: { 'tls.crt': Buffer.from(c.cert).toString('base64'), 'tls.key': Buffer.from(c.key).toString('base64') },
  };
  const r = kubectl(kubeconfig, ['apply', '-f', '-'], JSON.stringify(secret));
  if (r.code !== 0) throw new Error(`kubectl apply secret ${ns}/${name}: ${r.stderr}`);
}

export interface HttpsAnswer { status: number; body: Buffer; subject?: string; issuer?: string }

/** One HTTPS GET to address:port with SNI and Host = `host`, verified against the test CA only (rejects otherwise). */
export function httpsGet(address: string, port: number, host: string, o: { path?: string; timeoutMs?: number } = {}): Promise<HttpsAnswer> {
  return new Promise((resolve, reject) => {
    const req = https.request({
      host: address, port, path: o.path ?? '/', method: 'GET', servername: host, headers: { host, connection: 'close' },
      ca: readFileSync(tlsEnv().caCert), rejectUnauthorized: true, agent: false,
    }, (res) => {
      const cert = (res.socket as tls.TLSSocket).getPeerCertificate();
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks), subject: String(cert.subject?.CN), issuer: String(cert.issuer?.CN) }));
      res.on('error', reject);
    });
    req.setTimeout(o.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout: https://${host}${o.path ?? '/'} at ${address}:${port}`)));
    req.on('error', reject);
    req.end();
  });
}
