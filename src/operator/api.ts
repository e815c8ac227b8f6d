// The operator's HTTP API (reached through a port-forward to its pod or Service):
//   GET  /healthz                                        liveness (no auth, says nothing)
//   GET  /v1/version                                     versions, and CRD skew
//   POST /v1/namespaces/{ns}/exposuresets                submit an envserve/v1 Plan (JSON) → ExposureSet
//   GET  /v1/namespaces/{ns}/exposuresets/{name}         one ExposureSet with its status
//   DELETE /v1/namespaces/{ns}/exposuresets/{name}
//   GET  /v1/namespaces/{ns}/events                      live status of the namespace's ExposureSets (SSE)
// Every /v1 request needs `Authorization: Bearer <token>`: TokenReview says who, SubjectAccessReview
// on exposuresets.envserve.dev in the namespace says whether. Errors are Kubernetes-style Status
// objects with a stable reason.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { isNotFound, KubeApiError, type KubeClient } from '../apply/k8s/client.js';
import type { Plan } from '../plan/types.js';
import { validatePlan } from '../plan/validate.js';
import type { OperatorReason } from '../reasons.js';
import { Authenticator, type UserInfo } from './auth.js';
import type { Operator, VersionInfo } from './controller.js';
import { exposureSetFromPlan } from './exposure-set.js';
import { resourcePath, type ExposureSet } from './resource.js';

const MAX_BODY = 1 << 20;
const NAME = /^[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?$/;

export interface ApiOptions {
  client: Pick<KubeClient, 'request'>;
  operator: Operator;
  version: VersionInfo;
  authenticator?: Authenticator;
}

class HttpError extends Error {
  constructor(readonly code: number, readonly reason: OperatorReason, message: string, readonly details?: unknown) {
    super(message);
  }
}

export function createApiServer(o: ApiOptions): http.Server {
  const auth = o.authenticator ?? new Authenticator(o.client);
  const server = http.createServer((req, res) => {
    handle(req, res).catch((e) => {
      const err = e instanceof HttpError ? e : e instanceof KubeApiError ? new HttpError(502, 'ApiServerError', `the Kubernetes API server answered ${e.code} ${e.reason}: ${e.message}`) : new HttpError(500, 'InternalError', (e as Error).message);
      if (!res.headersSent) send(res, err.code, { kind: 'Status', apiVersion: 'v1', status: 'Failure', code: err.code, reason: err.reason, message: err.message, ...(err.details !== undefined && { details: err.details }) });
      else res.end();
    });
  });

  async function caller(req: http.IncomingMessage): Promise<UserInfo> {
    const h = req.headers.authorization ?? '';
    const m = /^Bearer\s+(\S+)$/i.exec(h);
    if (!m) throw new HttpError(401, 'Unauthorized', 'send your Kubernetes bearer token: Authorization: Bearer <token>');
    const user = await auth.authenticate(m[1]!);
    if (!user) throw new HttpError(401, 'Unauthorized', 'the Kubernetes API server did not accept this token (TokenReview)');
    return user;
  }

  async function allow(user: UserInfo, verb: string, ns: string, name?: string): Promise<void> {
    const r = await auth.authorize(user, verb, ns, name);
    if (!r.allowed) {
      throw new HttpError(403, 'Forbidden', `user "${user.username}" cannot ${verb} exposuresets.envserve.dev${name ? ` "${name}"` : ''} in namespace "${ns}"${r.reason ? ` (${r.reason})` : ''}; ask your cluster's ops for the envserve-user role there`);
    }
  }

  async function handle(req: http.IncomingMessage, res: http.ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://operator');
    const parts = url.pathname.split('/').filter(Boolean);
    if (url.pathname === '/healthz') return send(res, 200, { ok: true });
    if (parts[0] !== 'v1') throw new HttpError(404, 'NotFound', `no such endpoint: ${url.pathname}`);
    const user = await caller(req);
    if (parts[1] === 'version' && parts.length === 2) return send(res, 200, o.version);
    if (parts[1] !== 'namespaces' || !parts[2] || !NAME.test(parts[2])) throw new HttpError(404, 'NotFound', `no such endpoint: ${url.pathname}`);
    const ns = parts[2];
    if (parts[3] === 'events' && parts.length === 4 && req.method === 'GET') {
      await allow(user, 'watch', ns);
      return events(req, res, ns);
    }
    if (parts[3] !== 'exposuresets') throw new HttpError(404, 'NotFound', `no such endpoint: ${url.pathname}`);
    if (parts.length === 4 && req.method === 'POST') {
      const body = await readJson(req);
      const { plan, name, selector } = unwrap(body);
      await allow(user, 'create', ns, name ?? plan.env.name);
      const existing = await getSet(ns, name ?? plan.env.name);
      if (existing) await allow(user, 'update', ns, existing.metadata.name);
      const set = exposureSetFromPlan(plan, ns, { ...(name && { name }), ...(selector && { selector }), user: user.username });
      const stored = await o.client.request<ExposureSet>(resourcePath(ns, set.metadata.name), {
        method: 'PATCH',
        query: { fieldManager: 'envserve-api', force: true },
        contentType: 'application/apply-patch+yaml',
        body: set,
      });
      return send(res, existing ? 200 : 201, stored);
    }
    const name = parts[4];
    if (parts.length === 5 && name && NAME.test(name)) {
      if (req.method === 'GET') {
        await allow(user, 'get', ns, name);
        const s = await getSet(ns, name);
        if (!s) throw new HttpError(404, 'NotFound', `exposureset ${ns}/${name} does not exist`);
        return send(res, 200, s);
      }
      if (req.method === 'DELETE') {
        await allow(user, 'delete', ns, name);
        try {
          await o.client.request(resourcePath(ns, name), { method: 'DELETE' });
        } catch (e) {
          if (isNotFound(e)) throw new HttpError(404, 'NotFound', `exposureset ${ns}/${name} does not exist`);
          throw e;
        }
        return send(res, 200, { kind: 'Status', apiVersion: 'v1', status: 'Success', code: 200 });
      }
    }
    throw new HttpError(405, 'MethodNotAllowed', `${req.method} ${url.pathname} is not supported`);
  }

  async function getSet(ns: string, name: string): Promise<ExposureSet | undefined> {
    try {
      return await o.client.request<ExposureSet>(resourcePath(ns, name));
    } catch (e) {
      if (isNotFound(e)) return undefined;
      throw e;
    }
  }

  function events(req: http.IncomingMessage, res: http.ServerResponse, ns: string): void {
    res.writeHead(200, { 'content-type': 'text/event-stream', 'cache-control': 'no-cache', connection: 'keep-alive' });
    const emit = (type: string, s: ExposureSet) => {
      if (s.metadata.namespace !== ns) return;
      res.write(`event: ${type === 'DELETED' ? 'deleted' : 'status'}\ndata: ${JSON.stringify({ name: s.metadata.name, namespace: ns, generation: s.metadata.generation, status: s.status ?? {} })}\n\n`);
    };
    // What is there now, then every change.
    for (const s of o.operator.sets.values()) emit('ADDED', s);
    const onSet = (type: string, s: ExposureSet) => emit(type, s);
    o.operator.on('set', onSet);
    const ping = setInterval(() => res.write(': ping\n\n'), 15_000);
    const close = () => {
      clearInterval(ping);
      o.operator.off('set', onSet);
    };
    req.on('close', close);
    res.on('error', close);
  }

  return server;
}

function unwrap(body: unknown): { plan: Plan; name?: string; selector?: Record<string, string> } {
  const b = body as Record<string, unknown>;
  const wrapped = b && typeof b === 'object' && 'plan' in b;
  const plan = (wrapped ? b.plan : b) as Plan;
  if (!plan || typeof plan !== 'object' || plan.apiVersion !== 'envserve/v1' || plan.kind !== 'Plan') {
    throw new HttpError(400, 'Invalid', 'the body must be an envserve/v1 Plan (the JSON of `envserve plan -o json`), or {"plan": Plan, "name": ..., "selector": {...}}; env-file source is never accepted');
  }
  if (!plan.env || typeof plan.env.name !== 'string' || !NAME.test(plan.env.name) || !Array.isArray(plan.exposures)) {
    throw new HttpError(400, 'Invalid', 'the Plan needs env.name (a DNS label) and an exposures list');
  }
  const v = validatePlan(plan);
  if (!v.ok) throw new HttpError(400, 'Invalid', `the plan has ${v.issues.length} problem(s): ${v.issues.map((i) => `${i.position}: ${i.message}`).join('; ')}`, v.issues);
  const name = wrapped && typeof b.name === 'string' ? b.name : undefined;
  if (name !== undefined && !NAME.test(name)) throw new HttpError(400, 'Invalid', `name must be a DNS label, got "${name}"`);
  const selector = wrapped && b.selector && typeof b.selector === 'object' ? (b.selector as Record<string, string>) : undefined;
  return { plan, ...(name && { name }), ...(selector && { selector }) };
}

function readJson(req: http.IncomingMessage): Promise<unknown> {
  return new Promise((resolve, reject) => {
    if (!/^application\/json\b/.test(req.headers['content-type'] ?? '')) return reject(new HttpError(415, 'UnsupportedMediaType', 'send the Plan as Content-Type: application/json'));
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY) {
        reject(new HttpError(413, 'RequestEntityTooLarge', `the body is larger than ${MAX_BODY} bytes`));
        req.destroy();
      } else chunks.push(c);
    });
    req.on('end', () => {
      try {
        resolve(JSON.parse(Buffer.concat(chunks).toString('utf8')));
      } catch (e) {
        reject(new HttpError(400, 'Invalid', `the body is not JSON: ${(e as Error).message}`));
      }
    });
    req.on('error', reject);
  });
}

function send(res: http.ServerResponse, code: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(code, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) });
  res.end(text);
}

export function listenAddress(server: http.Server): string {
  const a = server.address() as AddressInfo;
  return `${a.address}:${a.port}`;
}
