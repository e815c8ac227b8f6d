// Exec credential plugins (client.authentication.k8s.io/v1 and v1beta1) as client-go runs them:
// the command with its args and env, KUBERNETES_EXEC_INFO carrying `interactive` and (when
// provideClusterInfo) the cluster; stdin handed over only when the mode allows it and it is a
// terminal, its stderr always passed through to the user's. The credential — a token or a
// client certificate — is kept until its expirationTimestamp (forever without one) and the
// plugin is run again when the API server answers 401 to it. One cache per process, shared by
// every client of the same user and cluster.
import { spawn } from 'node:child_process';
import { accessSync, constants, readFileSync, statSync } from 'node:fs';
import { isAbsolute, join } from 'node:path';
import { RuntimeFailure } from '../../../errors.js';
import type { ClusterConfig, ExecConfig } from './load.js';

export interface ExecCredential {
  token?: string;
  cert?: Buffer;
  key?: Buffer;
  /** ms since the epoch; undefined = valid until the API server says otherwise. */
  expiresAt?: number;
}

export interface ExecOptions {
  /** Whether stdin is a terminal (default: process.stdin.isTTY). */
  stdinIsTTY?: boolean;
  /** Where the plugin's stderr goes (default: process.stderr). */
  stderr?: NodeJS.WritableStream;
  /** Bound on a non-interactive run (ms). */
  timeoutMs?: number;
}

/** As client-go: a credential is used until its expiry, then fetched again. */
const EXPIRY_MARGIN_MS = 0;

const cache = new Map<string, { value?: ExecCredential; pending?: Promise<ExecCredential> }>();

export class ExecPlugin {
  private readonly key: string;

  constructor(
    readonly exec: ExecConfig,
    private readonly cluster: ClusterConfig,
    private readonly userName: string,
    private readonly source: string,
    private readonly o: ExecOptions = {},
  ) {
    this.key = JSON.stringify([exec, exec.provideClusterInfo ? cluster : cluster.server]);
  }

  /** The cached credential, or a fresh one from the plugin (one run at a time). */
  credential(): Promise<ExecCredential> {
    let slot = cache.get(this.key);
    if (!slot) cache.set(this.key, (slot = {}));
    const v = slot.value;
    if (v && (v.expiresAt === undefined || v.expiresAt - EXPIRY_MARGIN_MS > Date.now())) return Promise.resolve(v);
    if (slot.pending) return slot.pending;
    const s = slot;
    s.pending = this.run().then(
      (c) => ((s.value = c), (s.pending = undefined), c),
      (e) => ((s.pending = undefined), Promise.reject(e)),
    );
    return s.pending;
  }

  /** The API server refused `used` (401): the next credential() runs the plugin again. */
  invalidate(used: ExecCredential): void {
    const slot = cache.get(this.key);
    if (slot?.value === used) slot.value = undefined;
  }

  private fail(what: string, hint?: string): RuntimeFailure {
    return new RuntimeFailure(
      `the credential plugin "${this.exec.command}" of user "${this.userName}" (${this.source}) ${what}`,
      this.exec.installHint?.trim() ?? hint,
      'CredentialPluginFailed',
    );
  }

  /** KUBERNETES_EXEC_INFO, as client-go writes it. */
  execInfo(interactive: boolean): string {
    const spec: Record<string, unknown> = { interactive };
    if (this.exec.provideClusterInfo) {
      const c = this.cluster;
      let caData = c.certificateAuthorityData;
      if (!caData && c.certificateAuthority) caData = readFileSync(c.certificateAuthority).toString('base64');
      spec.cluster = {
        server: clientGoHost(c.serverAsWritten ?? c.server),
        ...(c.tlsServerName && { 'tls-server-name': c.tlsServerName }),
        ...(c.insecureSkipTlsVerify && { 'insecure-skip-tls-verify': true }),
        ...(caData && { 'certificate-authority-data': caData }),
        ...(c.proxyUrl && { 'proxy-url': c.proxyUrl }),
        ...(c.disableCompression && { 'disable-compression': true }),
        ...(c.execExtension !== undefined && { config: c.execExtension }),
      };
    }
    return JSON.stringify({ apiVersion: this.exec.apiVersion, kind: 'ExecCredential', spec });
  }

  private async run(): Promise<ExecCredential> {
    const tty = this.o.stdinIsTTY ?? Boolean(process.stdin.isTTY);
    const mode = this.exec.interactiveMode;
    if (mode === 'Always' && !tty) throw this.fail('needs a terminal (interactiveMode: Always) and stdin is not one', 'run envserve from a terminal, or log in first so the plugin need not ask');
    const interactive = mode !== 'Never' && tty;
    let info: string;
    try {
      info = this.execInfo(interactive);
    } catch (e) {
      throw this.fail(`cannot be given the cluster's CA: ${(e as Error).message}`);
    }
    const env = { ...process.env, ...Object.fromEntries(this.exec.env.map((e) => [e.name, e.value])), KUBERNETES_EXEC_INFO: info };
    // As Go's exec.Command: a bare name is looked up in our own PATH, not in a PATH the exec env sets.
    const command = this.exec.command.includes('/') ? this.exec.command : lookPath(this.exec.command, process.env.PATH ?? '');
    if (!command) throw this.fail('was not found', 'install it, or correct the exec command in the kubeconfig');
    const child = spawn(command, this.exec.args, { env, stdio: [interactive ? 'inherit' : 'ignore', 'pipe', 'pipe'] });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout!.on('data', (d: Buffer) => out.push(d));
    child.stderr!.on('data', (d: Buffer) => {
      err.push(d);
      // As kubectl, whatever the mode: its prompts and messages ("open this URL to log in") are for the user.
      (this.o.stderr ?? process.stderr).write(d);
    });
    const timeoutMs = this.o.timeoutMs ?? 120_000;
    const timer = interactive ? undefined : setTimeout(() => child.kill('SIGKILL'), timeoutMs);
    const result = await new Promise<{ code: number | null; error?: NodeJS.ErrnoException }>((resolve) => {
      child.once('error', (error: NodeJS.ErrnoException) => resolve({ code: null, error }));
      child.once('close', (code) => resolve({ code }));
    });
    clearTimeout(timer);
    if (result.error?.code === 'ENOENT') throw this.fail('was not found', 'install it, or correct the exec command in the kubeconfig');
    if (result.error) throw this.fail(`could not be run: ${result.error.message}`);
    if (result.code !== 0) {
      const detail = Buffer.concat(err).toString('utf8').trim().split('\n').slice(-3).join(' | ').slice(0, 400);
      const why = result.code === null ? `did not finish within ${timeoutMs} ms` : detail || `exited with status ${result.code} and printed nothing`;
      throw this.fail(`failed: ${why}`, 'run the plugin yourself (or `kubectl get pods`) to see why; it may need a login');
    }
    return this.parse(Buffer.concat(out).toString('utf8'));
  }

  private parse(text: string): ExecCredential {
    let doc: { apiVersion?: string; kind?: string; status?: Record<string, unknown> };
    try {
      doc = JSON.parse(text);
    } catch {
      throw this.fail('printed no ExecCredential (its output is not JSON)');
    }
    if (doc?.kind !== 'ExecCredential' || doc.apiVersion !== this.exec.apiVersion) {
      throw this.fail(`printed ${doc?.kind ?? 'something'} ${doc?.apiVersion ?? ''}, not an ExecCredential of ${this.exec.apiVersion}`.replace(/ +,/, ','));
    }
    const s = doc.status ?? {};
    const cred: ExecCredential = {};
    if (typeof s.token === 'string' && s.token) cred.token = s.token;
    const cert = s.clientCertificateData;
    const key = s.clientKeyData;
    if (typeof cert === 'string' && cert && typeof key === 'string' && key) {
      cred.cert = Buffer.from(cert);
      cred.key = Buffer.from(key);
    } else if (cert || key) {
      throw this.fail('printed a client certificate without its key (or a key without its certificate)');
    }
    if (!cred.token && !cred.cert) throw this.fail('printed an ExecCredential with neither a token nor a client certificate');
    if (typeof s.expirationTimestamp === 'string') {
      const t = Date.parse(s.expirationTimestamp);
      if (Number.isNaN(t)) throw this.fail(`printed an invalid expirationTimestamp "${s.expirationTimestamp}"`);
      cred.expiresAt = t;
    }
    return cred;
  }
}

/** The executable `name` in PATH's absolute folders (Go refuses a match through a relative one), or undefined. */
function lookPath(name: string, path: string): string | undefined {
  for (const d of path.split(':')) {
    if (!isAbsolute(d)) continue;
    const f = join(d, name);
    try {
      if (statSync(f).isFile()) {
        accessSync(f, constants.X_OK);
        return f;
      }
    } catch {
      // not here
    }
  }
  return undefined;
}

/** client-go's rest Host for a kubeconfig server: as written, its query and fragment dropped when it has a path. */
function clientGoHost(server: string): string {
  const m = /^([a-z][a-z0-9+.-]*:\/\/[^/?#]*)([^?#]*)/i.exec(server);
  return m && m[2]!.length > 1 ? m[1]! + m[2]! : server;
}

/** For tests: forget every cached credential. */
export function clearExecCache(): void {
  cache.clear();
}
