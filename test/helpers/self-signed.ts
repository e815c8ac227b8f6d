// A throwaway self-signed certificate (openssl, as the test cluster's set-up makes its own) for
// stand-in TLS servers: its key, its certificate, and the certificate as kubeconfig CA data.
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { isIP } from 'node:net';
import { join } from 'node:path';

export interface SelfSigned {
  key: Buffer;
  cert: Buffer;
  /** The certificate, base64: a kubeconfig's certificate-authority-data. */
  caData: string;
}

/** Valid for a day for `names` (IP addresses and DNS names); the first is its CN. */
export function selfSigned(names: string[] = ['127.0.0.1']): SelfSigned {
  const d = mkdtempSync(join(tmpdir(), 'envserve-cert-'));
  try {
    const san = names.map((n) => (isIP(n) ? `IP:${n}` : `DNS:${n}`)).join(',');
    const r = spawnSync('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', join(d, 'k'), '-out', join(d, 'c'), '-days', '1', '-subj', `/CN=${names[0]}`, '-addext', `subjectAltName=${san}`]);
    if (r.status !== 0) throw new Error(`openssl could not make a test certificate: ${r.stderr}`);
    const cert = readFileSync(join(d, 'c'));
    return { key: readFileSync(join(d, 'k')), cert, caData: cert.toString('base64') };
  } finally {
    rmSync(d, { recursive: true, force: true });
  }
}
