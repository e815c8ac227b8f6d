// The `oidc` auth-provider (the one client-go still ships): the id-token is the bearer token
// while its `exp` lies ahead; an expired one is refreshed with the refresh-token at the issuer's
// token endpoint (OpenID discovery), as client-go does — and, as client-go does, the new tokens
// are written back to the kubeconfig that defines the user: issuers that rotate refresh tokens
// (Dex, Keycloak) spend the old one, and kubectl (or the next envserve) would be left with it.
import http from 'node:http';
import https from 'node:https';
import { closeSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { isMap, isSeq, parseAllDocuments } from 'yaml';
import { RuntimeFailure } from '../../../errors.js';

export class OidcProvider {
  private idToken?: string;
  private refreshToken?: string;

  constructor(private readonly config: Record<string, string>, private readonly userName: string, private readonly file?: string) {
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
    if (!this.file) return;
    const problem = writeBackAuthProvider(this.file, this.userName, { 'id-token': this.idToken!, ...(this.refreshToken && { 'refresh-token': this.refreshToken }) });
    if (problem) process.stderr.write(`warning: the refreshed oidc tokens of user "${this.userName}" could not be written back to ${this.file} (${problem}); kubectl may need a new login\n`);
  }
}

/**
 * Sets keys of a user's auth-provider config in the kubeconfig file that defines the user, as
 * client-go's persister does (under its `<file>.lock`), keeping the file's comments and layout.
 * Returns why it could not (never the values), or undefined.
 */
export function writeBackAuthProvider(file: string, userName: string, values: Record<string, string>): string | undefined {
  const lock = `${file}.lock`;
  try {
    closeSync(openSync(lock, 'wx', 0o600));
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === 'EEXIST' ? `${lock} exists: another program is writing it` : (e as Error).message;
  }
  try {
    const raw = readFileSync(file);
    if (raw[0] === 0xff || raw[0] === 0xfe) return 'a UTF-16 file';
    const docs = parseAllDocuments(raw.toString('utf8'), { uniqueKeys: false, merge: true });
    const doc = Array.isArray(docs) && docs.length === 1 ? docs[0]! : undefined;
    if (!doc || doc.errors.length) return 'not a single YAML document';
    const users = doc.get('users');
    const entry = isSeq(users) ? users.items.find((u) => isMap(u) && u.get('name') === userName) : undefined;
    if (!isMap(entry)) return `no user "${userName}" in it`;
    for (const [k, v] of Object.entries(values)) entry.setIn(['user', 'auth-provider', 'config', k], v);
    writeFileSync(file, doc.toString({ lineWidth: 0 })); // in place, as client-go: the file's mode, owner and links stay
    return undefined;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code ?? 'cannot write it';
  } finally {
    rmSync(lock, { force: true });
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
