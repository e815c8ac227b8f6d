// The `oidc` auth-provider (the one client-go still ships): the id-token is the bearer token
// while its `exp` lies ahead; an expired one is refreshed with the refresh-token at the issuer's
// token endpoint (OpenID discovery), as client-go does. Unlike client-go, the new tokens are kept
// in memory only: envserve never writes the user's kubeconfig.
import http from 'node:http';
import https from 'node:https';
import { readFileSync } from 'node:fs';
import { RuntimeFailure } from '../../../errors.js';

export class OidcProvider {
  private idToken?: string;
  private refreshToken?: string;

  constructor(private readonly config: Record<string, string>, private readonly userName: string) {
    this.idToken = config['id-token'];
    this.refreshToken = config['refresh-token'];
  }

  async token(): Promise<string> {
    // As client-go: an id-token within 10 s of its exp is refreshed already (it may lapse in flight).
    if (this.idToken && !expired(this.idToken, Date.now() + 10_000)) return this.idToken;
    if (!this.refreshToken || !this.config['idp-issuer-url'] || !this.config['client-id']) {
      throw new RuntimeFailure(
        `the oidc id-token of user "${this.userName}" is ${this.idToken ? 'expired' : 'missing'} and there is no refresh-token, idp-issuer-url and client-id to refresh it`,
        'log in again with your OIDC login tool (e.g. kubectl oidc-login)',
        'Forbidden',
      );
    }
    await this.refresh();
    return this.idToken!;
  }

  /** The API server refused the id-token: refresh it next time (if we can). */
  invalidate(): void {
    if (this.refreshToken) this.idToken = undefined;
  }

  private async refresh(): Promise<void> {
    const c = this.config;
    const ca = c['idp-certificate-authority-data'] ? Buffer.from(c['idp-certificate-authority-data'], 'base64') : c['idp-certificate-authority'] ? readFileSync(c['idp-certificate-authority']) : undefined;
    try {
      const disco = JSON.parse(await send(`${c['idp-issuer-url']!.replace(/\/+$/, '')}/.well-known/openid-configuration`, ca));
      const form = new URLSearchParams({ grant_type: 'refresh_token', refresh_token: this.refreshToken!, client_id: c['client-id']!, ...(c['client-secret'] && { client_secret: c['client-secret'] }) });
      const answer = JSON.parse(await send(String(disco.token_endpoint), ca, form.toString()));
      if (typeof answer.id_token !== 'string') throw new Error('the token endpoint gave no id_token');
      this.idToken = answer.id_token;
      if (typeof answer.refresh_token === 'string') this.refreshToken = answer.refresh_token;
    } catch (e) {
      throw new RuntimeFailure(`cannot refresh the oidc id-token of user "${this.userName}" at ${c['idp-issuer-url']}: ${(e as Error).message}`, 'log in again with your OIDC login tool', 'Forbidden');
    }
  }
}

/** Whether a JWT's `exp` has passed (a token we cannot read is taken as valid: the server decides). */
export function expired(jwt: string, now = Date.now()): boolean {
  try {
    const exp = JSON.parse(Buffer.from(jwt.split('.')[1] ?? '', 'base64url').toString('utf8')).exp;
    return typeof exp === 'number' && exp * 1000 <= now;
  } catch {
    return false;
  }
}

function send(url: string, ca: Buffer | undefined, form?: string): Promise<string> {
  return new Promise((resolve, reject) => {
    // An issuer is https in practice; http is taken as given (a local issuer).
    const req = (url.startsWith('http:') ? http : https).request(url, {
      method: form ? 'POST' : 'GET',
      ...(ca && { ca }),
      headers: form ? { 'content-type': 'application/x-www-form-urlencoded', 'content-length': Buffer.byteLength(form) } : {},
      timeout: 15_000,
    }, (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (d: Buffer) => chunks.push(d));
      res.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        if ((res.statusCode ?? 0) >= 300) reject(new Error(`${url}: HTTP ${res.statusCode}`));
        else resolve(text);
      });
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 15 s')));
    req.on('error', reject);
    req.end(form);
  });
}
