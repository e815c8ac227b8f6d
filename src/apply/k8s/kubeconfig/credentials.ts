// What every connection to the API server carries: TLS material (the cluster's CA, the user's
// client certificate) and headers (a bearer token, basic auth, Impersonate-*), from a resolved
// kubeconfig user. Files are read at use and again when they change; exec plugins and oidc
// tokens are cached by their own rules and dropped when the API server answers 401. A plain
// http:// server gets only the Impersonate-* headers, as from kubectl.
import { RuntimeFailure, UserError } from '../../../errors.js';
import { ExecPlugin, type ExecCredential, type ExecOptions } from './exec.js';
import { OidcProvider } from './oidc.js';
import { TokenFile, WatchedFile } from './token-file.js';
import type { ResolvedConfig } from './load.js';

/** TLS and auth settings for a raw connection (the port-forward WebSocket uses them too). */
export interface ConnectionSettings {
  ca?: Buffer;
  cert?: Buffer;
  key?: Buffer;
  rejectUnauthorized?: boolean;
  servername?: string;
  headers: Record<string, string | string[]>;
}

/** auth-providers client-go no longer ships, and what replaced them. */
const REMOVED_PROVIDERS: Record<string, string> = {
  gcp: 'use the gke-gcloud-auth-plugin exec plugin (`gcloud components install gke-gcloud-auth-plugin`)',
  azure: 'use the kubelogin exec plugin (`kubelogin convert-kubeconfig`)',
};

export class Credentials {
  private readonly exec?: ExecPlugin;
  private readonly oidc?: OidcProvider;
  private readonly tokenFile?: TokenFile;
  private readonly files: Partial<Record<'ca' | 'cert' | 'key', WatchedFile>> = {};
  private readonly fixed: Omit<ConnectionSettings, 'headers'> & { headers: Record<string, string | string[]> };
  private lastExec?: ExecCredential;

  constructor(readonly config: ResolvedConfig, execOptions?: ExecOptions) {
    const { cluster, user, source } = config;
    this.fixed = { headers: impersonationHeaders(user) };
    // As kubectl (clientcmd reads the user only for a TLS server): over plain http no token,
    // password, client certificate or plugin is used, so no credential crosses the wire in clear.
    if (!cluster.server.startsWith('https://')) {
      if (hasCredentials(user) && !warnedPlain.has(cluster.server)) {
        warnedPlain.add(cluster.server);
        process.stderr.write(`warning: cluster "${cluster.name}" is plain ${cluster.server}: user "${user.name}"'s credentials are not sent to it (kubectl does the same)\n`);
      }
      return;
    }
    const data = (b64: string, what: string): Buffer => {
      const b = Buffer.from(b64, 'base64');
      if (!b.length) throw new UserError(`the kubeconfig (${source}): ${what} is not base64`);
      return b;
    };
    this.fixed = {
      ...this.fixed,
      ...(cluster.certificateAuthorityData && { ca: data(cluster.certificateAuthorityData, `certificate-authority-data of cluster "${cluster.name}"`) }),
      ...(user.clientCertificateData && { cert: data(user.clientCertificateData, `client-certificate-data of user "${user.name}"`) }),
      ...(user.clientKeyData && { key: data(user.clientKeyData, `client-key-data of user "${user.name}"`) }),
      ...(cluster.insecureSkipTlsVerify && { rejectUnauthorized: false }),
      ...(cluster.tlsServerName && { servername: cluster.tlsServerName }),
    };
    if (cluster.certificateAuthority) this.files.ca = new WatchedFile(cluster.certificateAuthority);
    if (user.clientCertificate) this.files.cert = new WatchedFile(user.clientCertificate);
    if (user.clientKey) this.files.key = new WatchedFile(user.clientKey);
    if (user.token) this.fixed.headers.Authorization = `Bearer ${user.token}`;
    // As client-go: basic auth is a username (a password alone sends nothing).
    else if (user.username) this.fixed.headers.Authorization = `Basic ${Buffer.from(`${user.username}:${user.password ?? ''}`).toString('base64')}`;
    // As client-go: a tokenFile wins over a `token:` beside it while it can be read.
    if (user.tokenFile) this.tokenFile = new TokenFile(user.tokenFile);
    // As client-go: a static bearer token or basic auth is sent instead of a plugin's or oidc's
    // token, and with a client certificate too the exec plugin is skipped: neither is ever run
    // (a kubeconfig may name a plugin this machine does not have).
    const staticAuth = Boolean(user.token || user.tokenFile || user.username);
    const staticCert = Boolean((user.clientCertificate || user.clientCertificateData) && (user.clientKey || user.clientKeyData));
    if (user.exec && !staticAuth && !staticCert) this.exec = new ExecPlugin(user.exec, cluster, user.name, source, execOptions);
    const ap = user.authProvider;
    if (ap) {
      if (ap.name === 'oidc') {
        if (!staticAuth) this.oidc = new OidcProvider(ap.config, user.name, ap.file);
      } else {
        throw new UserError(
          `the kubeconfig (${source}), user "${user.name}": auth-provider "${ap.name}" is not supported${REMOVED_PROVIDERS[ap.name] ? ' (kubectl removed it in 1.26)' : ''}`,
          REMOVED_PROVIDERS[ap.name] ?? 'use an exec credential plugin, a token or a client certificate',
          'KubeconfigUnsupported',
        );
      }
    }
  }

  /** Whether credentials can change, so a 401 is worth one more try with fresh ones. */
  get refreshable(): boolean {
    return Boolean(this.exec || this.oidc || this.tokenFile);
  }

  async settings(): Promise<ConnectionSettings> {
    const s: ConnectionSettings = { ...this.fixed, headers: { ...this.fixed.headers } };
    for (const k of ['ca', 'cert', 'key'] as const) {
      const f = this.files[k];
      if (!f) continue;
      try {
        s[k] = await f.read();
      } catch (e) {
        throw new UserError(`cannot read ${f.path} (${k === 'ca' ? 'certificate-authority' : k === 'cert' ? 'client-certificate' : 'client-key'} in ${this.config.source}): ${(e as Error).message}`);
      }
    }
    if (this.tokenFile) {
      try {
        s.headers.Authorization = `Bearer ${await this.tokenFile.token()}`;
      } catch (e) {
        // As client-go: a file that cannot be read (or is empty) leaves its last token, else the
        // `token:` beside it; only a file never read and no token is an error.
        const fallback = this.tokenFile.last ?? this.config.user.token;
        if (!fallback) throw new RuntimeFailure(`${(e as Error).message} (user "${this.config.user.name}", ${this.config.source})`, 'the file must exist and hold the bearer token', 'ClusterUnreachable');
        s.headers.Authorization = `Bearer ${fallback}`;
      }
    }
    if (this.exec) {
      const c = (this.lastExec = await this.exec.credential());
      if (c.token) s.headers.Authorization = `Bearer ${c.token}`;
      if (c.cert && c.key) {
        s.cert = c.cert;
        s.key = c.key;
      }
    }
    if (this.oidc) s.headers.Authorization = `Bearer ${await this.oidc.token()}`;
    return s;
  }

  /** The API server answered 401: drop the cached plugin credential / id-token. */
  unauthorized(): void {
    if (this.exec && this.lastExec) this.exec.invalidate(this.lastExec);
    this.oidc?.invalidate();
  }
}

const warnedPlain = new Set<string>();

function hasCredentials(u: ResolvedConfig['user']): boolean {
  return Boolean(u.token || u.tokenFile || u.username || u.password || u.clientCertificate || u.clientCertificateData || u.exec || u.authProvider);
}

/** Impersonate-*: kubectl sends them over http too (set before it looks at TLS). */
function impersonationHeaders(u: ResolvedConfig['user']): Record<string, string | string[]> {
  const h: Record<string, string | string[]> = {};
  const imp = u.impersonate;
  if (!imp?.user) return h;
  h['Impersonate-User'] = imp.user;
  if (imp.uid) h['Impersonate-Uid'] = imp.uid;
  if (imp.groups.length) h['Impersonate-Group'] = imp.groups;
  for (const [k, v] of Object.entries(imp.extra)) h[`Impersonate-Extra-${escapeHeaderKey(k)}`] = v;
  return h;
}

/** client-go's header key escaping for Impersonate-Extra-*: anything outside a token is %-encoded. */
export function escapeHeaderKey(k: string): string {
  return [...Buffer.from(k, 'utf8')].map((b) => (/[!#$&'*+\-.^_`|~0-9A-Za-z]/.test(String.fromCharCode(b)) ? String.fromCharCode(b) : `%${b.toString(16).toUpperCase().padStart(2, '0')}`)).join('');
}
