// Reads kubeconfig files the way kubectl (client-go's ClientConfigLoadingRules) does: a list of
// files (KUBECONFIG or --kubeconfig) merged so that the first file to name a cluster, user or
// context wins and current-context comes from the first file that sets it; relative paths in a
// file are resolved against that file's folder; then the context picks cluster, user, namespace.
import { existsSync, readFileSync } from 'node:fs';
import { dirname, isAbsolute, join, resolve, sep } from 'node:path';
import { parseAllDocuments, type ParseOptions, type DocumentOptions, type SchemaOptions } from 'yaml';
import { UserError, didYouMean } from '../../../errors.js';
import { inClusterConfig, SERVICE_ACCOUNT_DIR } from './in-cluster.js';
import { serverUrl } from './server-url.js';
import type { ClusterConfig, ExecConfig, ResolvedConfig, UserConfig } from './types.js';

type Obj = Record<string, unknown>;

export type { ClusterConfig, ExecConfig, ResolvedConfig, UserConfig } from './types.js';

export interface LoadOptions {
  /** A file or a ':'-separated list (as --kubeconfig or the state record gives it). */
  kubeconfig?: string;
  context?: string;
  namespace?: string;
}

/**
 * kubectl's order: --kubeconfig, KUBECONFIG, ~/.kube/config, in-cluster. As its deferred loading,
 * files that hold nothing (KUBECONFIG's all missing, or empty) give way to a pod's service account.
 */
export function loadConfig(o: LoadOptions = {}, env: NodeJS.ProcessEnv = process.env, saDir = SERVICE_ACCOUNT_DIR): ResolvedConfig {
  const inCluster = (): ResolvedConfig | undefined => {
    const ic = inClusterConfig(env, saDir);
    return ic && { ...ic, namespace: o.namespace ?? ic.namespace };
  };
  if (o.kubeconfig) {
    const files = splitList(o.kubeconfig);
    for (const f of files) if (!existsSync(f)) throw new UserError(`the kubeconfig file ${f} does not exist`, 'check KUBECONFIG or --kubeconfig');
    return fromFiles(files, `KUBECONFIG=${o.kubeconfig}`, o, inCluster);
  }
  if (env.KUBECONFIG) {
    // As client-go: missing files in the list are skipped, but not all of them.
    const files = splitList(env.KUBECONFIG).filter((f) => existsSync(f));
    if (!files.length) {
      const ic = inCluster();
      if (ic) return ic;
      throw new UserError(`no file of KUBECONFIG=${env.KUBECONFIG} exists`, 'check KUBECONFIG or --kubeconfig');
    }
    return fromFiles(files, `KUBECONFIG=${env.KUBECONFIG}`, o, inCluster);
  }
  // client-go's home is $HOME and nothing else: without it, .kube/config in the working directory.
  const home = join(env.HOME ?? '', '.kube', 'config');
  if (existsSync(home)) return fromFiles([home], '~/.kube/config', o, inCluster);
  const ic = inCluster();
  if (ic) return ic;
  throw new UserError(
    'no Kubernetes configuration found: KUBECONFIG is not set, ~/.kube/config does not exist, and this is not a pod',
    'set KUBECONFIG (or pass --kubeconfig) to a kubeconfig file for your cluster',
  );
}

function splitList(v: string): string[] {
  return [...new Set(v.split(':').filter(Boolean).map((f) => resolve(f)))];
}

interface Merged {
  clusters: Map<string, Obj>;
  users: Map<string, Obj>;
  contexts: Map<string, Obj>;
  currentContext?: string;
}

/**
 * kubectl decodes a kubeconfig with go-yaml v2 (YAML 1.1): unquoted y/yes/on (n/no/off) are
 * booleans (`insecure-skip-tls-verify: yes`; a quoted "yes" stays a string), `<<` merges a
 * mapping in, a key written twice takes its last value, and only the first document counts.
 */
const yaml11Bool = (value: boolean, test: RegExp) => ({ tag: 'tag:yaml.org,2002:bool', default: true, test, resolve: () => value, identify: () => false });
const KUBECONFIG_YAML: ParseOptions & DocumentOptions & SchemaOptions = {
  uniqueKeys: false,
  merge: true,
  customTags: (tags) => [...tags, yaml11Bool(true, /^(?:[yY]|yes|Yes|YES|on|On|ON)$/), yaml11Bool(false, /^(?:[nN]|no|No|NO|off|Off|OFF)$/)],
};

/**
 * UTF-8, or UTF-16 when a byte-order mark says so, as go-yaml reads it: Windows PowerShell 5's
 * `kubectl config view --raw > config` writes UTF-16LE, and kubectl reads that file.
 */
function kubeconfigText(b: Buffer): string {
  const enc = b[0] === 0xff && b[1] === 0xfe ? 'utf-16le' : b[0] === 0xfe && b[1] === 0xff ? 'utf-16be' : 'utf-8';
  return new TextDecoder(enc).decode(b);
}

/** client-go's merge: first file to set a name (or current-context) wins. */
/** The file each user came from: where a refreshed auth-provider token is written back (as client-go). */
const userFile = new WeakMap<Obj, string>();

export function mergeFiles(files: string[]): Merged {
  const m: Merged = { clusters: new Map(), users: new Map(), contexts: new Map() };
  for (const file of files) {
    let doc: Obj;
    try {
      // As go-yaml's Unmarshal: the first document is the kubeconfig, any after it are not read.
      const first = parseAllDocuments(kubeconfigText(readFileSync(file)), KUBECONFIG_YAML)[0];
      if (first?.errors.length) throw first.errors[0];
      doc = (first?.toJS() ?? {}) as Obj;
    } catch (e) {
      throw new UserError(`cannot read the kubeconfig file ${file}: ${(e as Error).message.split('\n')[0]}`);
    }
    if (typeof doc !== 'object' || Array.isArray(doc)) throw new UserError(`the kubeconfig file ${file} is not a YAML mapping`);
    const base = dirname(file);
    for (const [key, into, inner] of [['clusters', m.clusters, 'cluster'], ['users', m.users, 'user'], ['contexts', m.contexts, 'context']] as const) {
      const list = doc[key];
      if (list == null) continue;
      if (!Array.isArray(list)) throw new UserError(`the kubeconfig file ${file}: "${key}" must be a list`);
      for (const entry of list as Obj[]) {
        const name = entry?.name;
        if (typeof name !== 'string' || into.has(name)) continue;
        const body = { ...((entry[inner] ?? {}) as Obj) };
        if (key === 'clusters') resolveFields(body, ['certificate-authority'], base);
        if (key === 'users') {
          resolveFields(body, ['client-certificate', 'client-key', 'tokenFile'], base);
          resolveExecCommand(body, base);
          userFile.set(body, file);
        }
        into.set(name, body);
      }
    }
    const cc = doc['current-context'];
    if (m.currentContext === undefined && typeof cc === 'string' && cc) m.currentContext = cc;
  }
  return m;
}

function resolveFields(body: Obj, keys: string[], base: string): void {
  for (const k of keys) {
    const v = body[k];
    if (typeof v === 'string' && v && !isAbsolute(v)) body[k] = resolve(base, v.startsWith('~/') && process.env.HOME ? join(process.env.HOME, v.slice(2)) : v);
  }
}

/** An exec command with a path separator is relative to its file's folder; a bare name is looked up in PATH. */
function resolveExecCommand(body: Obj, base: string): void {
  const exec = body.exec as Obj | undefined;
  if (exec && typeof exec.command === 'string' && exec.command.includes(sep) && !isAbsolute(exec.command)) {
    body.exec = { ...exec, command: resolve(base, exec.command) };
  }
}

function fromFiles(files: string[], source: string, o: LoadOptions, inCluster: () => ResolvedConfig | undefined): ResolvedConfig {
  const m = mergeFiles(files);
  const empty = !m.currentContext && !m.contexts.size && !m.clusters.size && !m.users.size;
  const ic = empty && !o.context ? inCluster() : undefined;
  if (ic) return ic;
  const contextName = o.context ?? m.currentContext;
  if (!contextName) throw new UserError(`the kubeconfig (${source}) has no current-context`, 'pass --context, or run `kubectl config use-context NAME`');
  const ctx = m.contexts.get(contextName);
  if (!ctx) {
    const names = [...m.contexts.keys()];
    const guess = didYouMean(contextName, names);
    throw new UserError(
      `context "${contextName}" is not in the kubeconfig (${source})`,
      guess ? `did you mean "${guess}"?` : `known contexts: ${names.join(', ') || '(none)'}`,
    );
  }
  const clusterName = str(ctx.cluster);
  const userName = str(ctx.user) ?? '';
  const cluster = clusterName !== undefined ? m.clusters.get(clusterName) : undefined;
  if (!cluster) throw new UserError(`the kubeconfig (${source}) has no cluster "${clusterName ?? ''}" for context "${contextName}"`);
  const user = m.users.get(userName) ?? {};
  if (userName && !m.users.has(userName)) throw new UserError(`the kubeconfig (${source}) has no user "${userName}" for context "${contextName}"`);
  const where = `${source}, `;
  return {
    cluster: parseCluster(clusterName!, cluster, where),
    user: parseUser(userName, user, where),
    contextName,
    // As kubectl's deferred loading: in a pod, a context without a namespace means the pod's.
    namespace: o.namespace ?? str(ctx.namespace) ?? inCluster()?.namespace ?? 'default',
    source,
    paths: files,
  };
}

function str(v: unknown): string | undefined {
  return typeof v === 'string' && v !== '' ? v : undefined;
}

export function parseCluster(name: string, c: Obj, where = ''): ClusterConfig {
  const server = str(c.server);
  if (!server) throw new UserError(`the kubeconfig (${where}cluster "${name}") has no server`);
  const out: ClusterConfig = {
    name,
    server: serverUrl(server, `${where}cluster "${name}"`),
    serverAsWritten: server,
    insecureSkipTlsVerify: c['insecure-skip-tls-verify'] === true,
    disableCompression: c['disable-compression'] === true,
  };
  for (const [k, f] of [['certificate-authority', 'certificateAuthority'], ['certificate-authority-data', 'certificateAuthorityData'], ['tls-server-name', 'tlsServerName'], ['proxy-url', 'proxyUrl']] as const) {
    const v = str(c[k]);
    if (v) out[f] = v;
  }
  // As client-go's validation: a CA and "don't check the certificate" contradict each other.
  if (out.insecureSkipTlsVerify && (out.certificateAuthority || out.certificateAuthorityData)) {
    throw new UserError(`the kubeconfig (${where}cluster "${name}") sets both a certificate authority and insecure-skip-tls-verify`, 'kubectl refuses this too: keep one of them');
  }
  const ext = (Array.isArray(c.extensions) ? (c.extensions as Obj[]) : []).find((e) => e?.name === 'client.authentication.k8s.io/exec');
  if (ext) out.execExtension = ext.extension;
  return out;
}

export function parseUser(name: string, u: Obj, where = ''): UserConfig {
  const out: UserConfig = { name };
  for (const [k, f] of [
    ['token', 'token'], ['tokenFile', 'tokenFile'], ['client-certificate', 'clientCertificate'], ['client-certificate-data', 'clientCertificateData'],
    ['client-key', 'clientKey'], ['client-key-data', 'clientKeyData'], ['username', 'username'], ['password', 'password'],
  ] as const) {
    const v = str(u[k]);
    if (v) out[f] = v;
  }
  const what = `the kubeconfig (${where}user "${name}")`;
  // client-go's validateAuthInfo, rule by rule.
  if (out.token && (out.username || out.password)) throw new UserError(`${what} has more than one authentication method (token, basic auth); only one is allowed`, 'kubectl refuses this too');
  if (u.exec && u['auth-provider']) throw new UserError(`${what} has both exec and auth-provider; only one is allowed`, 'kubectl refuses this too');
  if (out.clientCertificate && out.clientCertificateData) throw new UserError(`${what} sets both client-certificate and client-certificate-data`, 'kubectl refuses this too');
  if (out.clientKey && out.clientKeyData) throw new UserError(`${what} sets both client-key and client-key-data`, 'kubectl refuses this too');
  if (Boolean(out.clientCertificate || out.clientCertificateData) !== Boolean(out.clientKey || out.clientKeyData)) {
    throw new UserError(`${what} has a client certificate without its key, or a key without its certificate`);
  }
  const groups = u['as-groups'];
  const extra = u['as-user-extra'];
  if (str(u.as) || str(u['as-uid']) || Array.isArray(groups) || (extra && typeof extra === 'object')) {
    out.impersonate = {
      ...(str(u.as) && { user: str(u.as) }),
      ...(str(u['as-uid']) && { uid: str(u['as-uid']) }),
      groups: Array.isArray(groups) ? groups.map(String) : [],
      extra: Object.fromEntries(Object.entries((extra ?? {}) as Obj).map(([k, v]) => [k, Array.isArray(v) ? v.map(String) : [String(v)]])),
    };
    if (!out.impersonate.user && (out.impersonate.groups.length || out.impersonate.uid || Object.keys(out.impersonate.extra).length)) {
      throw new UserError(`${what}: as-groups, as-uid and as-user-extra need "as" (the user to impersonate)`, 'kubectl refuses this too');
    }
  }
  if (u.exec) out.exec = parseExec(u.exec as Obj, what);
  const ap = u['auth-provider'] as Obj | undefined;
  if (ap) {
    const file = userFile.get(u);
    out.authProvider = { name: String(ap.name ?? ''), config: Object.fromEntries(Object.entries((ap.config ?? {}) as Obj).map(([k, v]) => [k, String(v)])), ...(file && { file }) };
  }
  return out;
}

const EXEC_VERSIONS = ['client.authentication.k8s.io/v1', 'client.authentication.k8s.io/v1beta1'];

function parseExec(e: Obj, what: string): ExecConfig {
  const apiVersion = String(e.apiVersion ?? '');
  if (!EXEC_VERSIONS.includes(apiVersion)) {
    throw new UserError(`${what}: exec apiVersion "${apiVersion}" is not supported`, `use ${EXEC_VERSIONS.join(' or ')} (v1alpha1 was removed in Kubernetes 1.24)`, 'KubeconfigUnsupported');
  }
  const command = str(e.command);
  if (!command) throw new UserError(`${what}: exec has no command`);
  const v1 = apiVersion.endsWith('/v1');
  const mode = e.interactiveMode ?? (v1 ? undefined : 'IfAvailable');
  if (mode !== 'Never' && mode !== 'IfAvailable' && mode !== 'Always') {
    throw new UserError(`${what}: exec interactiveMode must be Never, IfAvailable or Always${v1 ? ' (required in client.authentication.k8s.io/v1)' : ''}, not ${JSON.stringify(mode ?? null)}`);
  }
  return {
    apiVersion,
    command,
    args: Array.isArray(e.args) ? e.args.map(String) : [],
    env: Array.isArray(e.env) ? (e.env as Obj[]).map((x) => ({ name: String(x?.name ?? ''), value: String(x?.value ?? '') })) : [],
    ...(str(e.installHint) && { installHint: cleanAnsiEscapes(str(e.installHint)!) }),
    provideClusterInfo: e.provideClusterInfo === true,
    interactiveMode: mode,
  };
}

/** client-go's cleanANSIEscapeCodes: an installHint cannot drive the terminal (ESC and other controls shown as U+001B...). */
function cleanAnsiEscapes(s: string): string {
  return s.replace(/[^\p{L}\p{M}\p{N}\p{P}\p{S}\p{Z}\t\n\v\f\r]/gu, (c) => `U+${c.codePointAt(0)!.toString(16).toUpperCase().padStart(4, '0')}`);
}
