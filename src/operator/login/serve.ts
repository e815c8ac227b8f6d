// The login gateway as every operator replica runs it (issue 22): its own port, apart from the HTTP
// API; the session keys from the Secret all replicas share (re-read every minute, so a rotation by
// another replica is picked up); routes from a watch of the login Ingresses (and HTTPRoutes, once
// Gateway API is served) in the operator's namespace, held only while their ExposureSet exists with the same UID (the operator's own watch
// of ExposureSets says so). Any change re-checks the open connections at once: a deleted set cuts
// its WebSockets in well under a second, a lost RoleBinding within the re-check interval.
import type { KubeClient } from '../../apply/k8s/client.js';
import { Informer } from '../../apply/k8s/informer.js';
import { MANAGED_BY } from '../../apply/k8s/manifests.js';
import { whileApiServerAway } from '../crds.js';
import type { Obj } from '../../apply/k8s/owned.js';
import { sarAuthorizer } from './authorize.js';
import { LoginGateway, type GatewayRoute } from './gateway.js';
import { LABEL_LOGIN } from './ingress.js';
import { loadKeyRing, loadPassKey } from './key-store.js';
import type { KeyRing } from './keys.js';
import { routesFrom } from './routes.js';
import { whenServed } from './when-served.js';
import { loginPath } from './manifests.js';
import { TICKET_TTL_MS } from './ticket.js';

const HOUR = 3_600_000;

export interface LoginGatewayServer {
  gateway: LoginGateway;
  port: number;
  /** Call when an ExposureSet changed: routes are rebuilt and open connections re-checked. */
  setsChanged(): void;
  close(): Promise<void>;
}

export async function startLoginGateway(
  client: Pick<KubeClient, 'request' | 'watch'>,
  o: {
    namespace: string;
    listen: { host: string; port: number };
    setUid: (namespace: string, name: string) => string | undefined;
    /** How often open connections are checked again (SubjectAccessReview answers are cached as long). */
    recheckMs?: number;
    /** `--login-check traefik`: hand out passes (signed with the pass key) for the ingress controller's check. */
    passes?: boolean;
    /** How often to ask again whether Gateway API is served, until it is. */
    gatewayApiRecheckMs?: number;
    log: (level: 'info' | 'warn' | 'error', m: string) => void;
  },
): Promise<LoginGatewayServer> {
  const recheckMs = o.recheckMs ?? 15_000;
  // Keep a retired key for the longest session a policy may set (168 h); a new key once a day.
  const loadKeys = () => loadKeyRing(client, o.namespace, { lifetimeMs: 168 * HOUR, rotateAfterMs: 24 * HOUR });
  // At start, the API server may be away (a replica started during an outage, or one that went
  // away right after the CRD check): wait, as for the CRDs, rather than crash.
  const away = { log: (_level: string, m: string) => o.log('warn', `login gateway: ${m}`) };
  let keys: KeyRing = await whileApiServerAway(loadKeys, away);
  let passKey = o.passes ? await whileApiServerAway(() => loadPassKey(client, o.namespace), away) : undefined;
  const keyTimer = setInterval(() => {
    void loadKeys().then((k) => (keys = k), (e: Error) => o.log('warn', `login gateway: reading the session keys: ${e.message} (keeping the ones loaded)`));
    if (o.passes) void loadPassKey(client, o.namespace).then((k) => (passKey = k), (e: Error) => o.log('warn', `login gateway: reading the pass key: ${e.message} (keeping the one loaded)`));
  }, 60_000);
  keyTimer.unref();

  // Logins nobody redeemed (the browser never came): removed once past their 60 s, by every replica (deletes are idempotent).
  const sweepTimer = setInterval(() => void sweepLogins(client).catch((e: Error) => o.log('warn', `login gateway: removing expired Logins: ${e.message}`)), 5 * 60_000);
  sweepTimer.unref();

  const selector = `app.kubernetes.io/managed-by=${MANAGED_BY},${LABEL_LOGIN}=true`;
  const ns = encodeURIComponent(o.namespace);
  const watches = [new Informer<Obj>(client, `/apis/networking.k8s.io/v1/namespaces/${ns}/ingresses`, selector)];
  let routes = new Map<string, GatewayRoute>();
  const gateway = new LoginGateway({
    routes: (h) => routes.get(h),
    keys: () => keys,
    passKey: () => passKey,
    api: client,
    authorize: sarAuthorizer(client, { ttlMs: recheckMs }),
    recheckMs,
    log: (m) => o.log('info', m),
  });
  let pending: NodeJS.Timeout | undefined;
  const rebuild = () => {
    routes = routesFrom(watches.flatMap((w) => w.all()), o.setUid);
    // Coalesced: a burst of events costs one pass over the open connections.
    pending ??= setTimeout(() => {
      pending = undefined;
      void gateway.revalidate().then((n) => n && o.log('info', `login gateway: closed ${n} connection(s) whose session no longer holds`));
    }, 50);
  };
  const follow = (w: Informer<Obj>) => {
    w.on('change', rebuild);
    w.on('watchError', (m: string) => o.log('warn', `login gateway: watching ${w.path}: ${m} (retrying)`));
  };
  for (const w of watches) follow(w);
  await Promise.all(watches.map((w) => w.start()));
  rebuild();
  // HTTPRoutes where Gateway API is served: at start, or as soon as it is (whenServed asks again every minute).
  let closed = false;
  const routeWatch = whenServed(client, '/apis/gateway.networking.k8s.io/v1', o.gatewayApiRecheckMs ?? 60_000, async () => {
    const w = new Informer<Obj>(client, `/apis/gateway.networking.k8s.io/v1/namespaces/${ns}/httproutes`, selector);
    try {
      await w.start();
    } catch (e) {
      w.stop();
      throw e;
    }
    if (closed) return w.stop();
    follow(w);
    watches.push(w);
    rebuild();
  }, (level, m) => o.log(level, `login gateway: ${m}`));
  await routeWatch.first;
  const port = await gateway.listen(o.listen.port, o.listen.host);
  return {
    gateway,
    port,
    setsChanged: rebuild,
    close: async () => {
      closed = true;
      routeWatch.stop();
      clearInterval(keyTimer);
      clearInterval(sweepTimer);
      clearTimeout(pending);
      for (const w of watches) w.stop();
      await gateway.close();
    },
  };
}

/** Deletes Logins older than twice the ticket lifetime (uid precondition: only that very object). */
export async function sweepLogins(client: Pick<KubeClient, 'request'>, now = Date.now()): Promise<number> {
  const list = await client.request<{ items: { metadata: { name: string; uid: string; creationTimestamp: string } }[] }>(loginPath());
  let n = 0;
  for (const l of list.items) {
    if (now - Date.parse(l.metadata.creationTimestamp) < 2 * TICKET_TTL_MS) continue;
    await client.request(loginPath(l.metadata.name), { method: 'DELETE', body: { apiVersion: 'v1', kind: 'DeleteOptions', preconditions: { uid: l.metadata.uid } } }).then(
      () => n++,
      () => undefined, // redeemed or removed meanwhile
    );
  }
  return n;
}
