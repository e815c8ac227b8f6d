// What an HTTPS answer's certificate means, in reason codes. The prober connects without rejecting
// the certificate (so it still sees the answer, and the certificate), then judges it as a browser
// would: an authority this machine trusts (Node's CA bundle, plus NODE_EXTRA_CA_CERTS), in date, for
// the host name asked for. The first that fails names the reason; OpenSSL reports the chain first.
import type { ReasonCode } from '../reasons.js';

/** OpenSSL's verification errors (tls.TLSSocket.authorizationError) that mean "signed by whom?". */
const UNKNOWN_AUTHORITY = new Set([
  'UNABLE_TO_GET_ISSUER_CERT',
  'UNABLE_TO_GET_ISSUER_CERT_LOCALLY',
  'UNABLE_TO_VERIFY_LEAF_SIGNATURE',
  'DEPTH_ZERO_SELF_SIGNED_CERT',
  'SELF_SIGNED_CERT_IN_CHAIN',
]);
const OUT_OF_DATE = new Set(['CERT_HAS_EXPIRED', 'CERT_NOT_YET_VALID']);

export interface CertificateSeen {
  /** The subject's CN. */
  subject?: string;
  /** The issuer's CN. */
  issuer?: string;
  /** The name the certificate was checked against (the Host / SNI). */
  name: string;
  /** Why it does not cover `name` (absent: it does). */
  mismatch?: string;
  /** OpenSSL's verification error code (absent: the chain is trusted and in date). */
  untrusted?: string;
  /** The end of its validity (as OpenSSL prints it). */
  validTo?: string;
}

/** The reason an HTTPS answer with this certificate is not to be trusted, or undefined when it is. Pure. */
export function tlsVerdict(c: CertificateSeen): { reason: ReasonCode; detail: string } | undefined {
  const who = `certificate ${c.subject !== undefined ? `CN=${c.subject}` : '(no CN)'}${c.issuer !== undefined ? ` issued by CN=${c.issuer}` : ''}`;
  // Node sets this one itself when the chain is fine and the name is not (servername given).
  if (c.untrusted === 'ERR_TLS_CERT_ALTNAME_INVALID') return { reason: 'TlsHostnameMismatch', detail: `${who} does not cover ${c.name}${c.mismatch ? `: ${c.mismatch}` : ''}` };
  if (c.untrusted !== undefined) {
    if (UNKNOWN_AUTHORITY.has(c.untrusted)) return { reason: 'TlsUnknownAuthority', detail: `${who} is not signed by an authority this machine trusts (${c.untrusted})` };
    if (OUT_OF_DATE.has(c.untrusted)) return { reason: 'TlsCertificateExpired', detail: `${who} is out of date (${c.untrusted}${c.validTo ? `, valid to ${c.validTo}` : ''})` };
    return { reason: 'TlsFailed', detail: `${who} is rejected (${c.untrusted})` };
  }
  if (c.mismatch !== undefined) return { reason: 'TlsHostnameMismatch', detail: `${who} does not cover ${c.name}: ${c.mismatch}` };
  return undefined;
}

/** A handshake that failed before any answer (a plain-HTTP port, no shared cipher, an alert). */
export function isTlsHandshakeError(e: { code?: string; message: string }): boolean {
  return /^(ERR_SSL_|ERR_TLS_|EPROTO$)/.test(e.code ?? '') || /SSL routines|alert|wrong version number/i.test(e.message);
}
