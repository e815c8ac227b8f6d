// The local runtime: the environment is this machine. `up` starts its processes (Jupyter when
// installed, RStudio, runtime.daemon commands) as children; each host exposure is envserve's own
// TCP proxy from the requested host address/port to wherever the env port listens here.
import { EventEmitter } from 'node:events';
import { dirname, resolve as resolvePath } from 'node:path';
import { delimiter } from 'node:path';
import { UserError } from '../../errors.js';
import { environmentProcesses } from '../../plan/env-commands.js';
import type { Exposure, HostExposure, Plan } from '../../plan/types.js';
import type { Endpoint, ProcessRecord } from '../../status/types.js';
import type { ExposureHandle, HandleCondition, Runtime, StartOptions } from '../types.js';
import { checkPortsFree, fmtAddr, isWildcard } from './ports.js';
import { ListenerTable, type TcpListener } from './proc-net.js';
import { logTail, ProcessGroup, which } from './processes.js';
import { restartsOf } from './restart.js';
import { defaultProxyThreads, ProxyThreads, proxyCondition, TcpProxy, threadsSupported } from './proxy.js';

export interface LocalRuntimeOptions {
  logDir: string;
  procRoot?: string;
  /** false (`up --no-restart`): a process that exits stays down. Default: restarted with backoff. */
  restart?: boolean;
  /** Forwarding threads of each exposure's proxy (TcpProxyOptions.threads). */
  proxyThreads?: number;
}

/** Emits 'change' when one of the environment's processes exits. */
export class LocalRuntime extends EventEmitter implements Runtime {
  readonly name = 'local' as const;
  readonly kinds = ['host'] as const;
  private readonly procs = new ProcessGroup(() => this.emit('change'));
  private readonly notes: string[] = [];
  private readonly proxies = new Map<string, TcpProxy>();
  /** The forwarding threads every exposure's proxy shares (started with the first, ended with the last). */
  private readonly threads: ProxyThreads | undefined;
  private listenOverride: string | undefined;
  private plan?: Plan;

  constructor(private readonly opts: LocalRuntimeOptions) {
    super();
    const n = threadsSupported() ? opts.proxyThreads ?? defaultProxyThreads() : 1;
    this.threads = n > 1 ? new ProxyThreads(n) : undefined;
  }

  async preflight(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void> {
    this.listenOverride = opts.listenOverride;
    this.plan = plan;
    const problems: string[] = [];
    const hosts = (opts.reload?.added ?? exposures).filter((e): e is HostExposure => e.kind === 'host');
    for (const e of hosts) {
      const listen = this.listenAddressOf(e);
      // The proxy cannot listen where the service itself listens.
      if (e.hostPort === e.envPort && (isWildcard(listen) || listen.startsWith('127.') || listen === '::1')) {
        problems.push(`${e.position}: host port ${e.hostPort} is the env port itself; on the local runtime the proxy would listen where the service does (use another host_port, or a specific non-loopback listen_addr)`);
      }
    }
    if (opts.mode === 'up' && !opts.reload) {
      const path = this.pathFor(plan);
      for (const p of environmentProcesses(plan.env, { listenAddress: '127.0.0.1' })) {
        if (p.name === 'jupyter' || p.name === 'rstudio') continue; // optional: reported, not fatal
        if (!which(p.argv[0]!, path)) problems.push(`runtime.daemon command not found: ${p.argv[0]} (from ${JSON.stringify(p.argv)})`);
      }
    }
    if (problems.length) throw new UserError(`${problems.join('\n')}\nnothing was started`);
    await checkPortsFree(
      hosts.map((e) => ({ address: this.listenAddressOf(e), port: e.hostPort, by: `host.bind at ${e.position}` })),
      this.opts.procRoot,
    );
  }

  async startEnvironment(plan: Plan): Promise<void> {
    const path = this.pathFor(plan);
    const env = { ...process.env, ...plan.env.environment, PATH: path };
    const cwd = dirname(resolvePath(plan.source));
    for (const p of environmentProcesses(plan.env, { listenAddress: '127.0.0.1', asRoot: process.getuid?.() === 0 })) {
      if ((p.name === 'jupyter' || p.name === 'rstudio') && !which(p.argv[0]!, path)) {
        const hint = p.name === 'jupyter' ? 'pip install jupyterlab, or use --runtime docker' : 'install RStudio Server, or use --runtime docker';
        this.procs.records.push({ name: p.name, argv: p.argv, state: 'not-installed', message: `${p.argv[0]} is not installed here (not on PATH): ${hint}` });
        continue;
      }
      this.procs.start(p.name, p.argv, { env, cwd, logDir: this.opts.logDir }, this.opts.restart !== false && p.restart);
    }
  }

  async expose(e: Exposure): Promise<ExposureHandle> {
    if (e.kind !== 'host') throw new Error(`the local runtime cannot apply ${e.kind} exposures`);
    const target = new TargetResolver(e.envPort, ListenerTable.of(this.opts.procRoot));
    const proxy = await TcpProxy.start({
      listen: { address: this.listenAddressOf(e), port: e.hostPort },
      target: () => target.current(proxy?.listen),
      onUpstreamError: () => target.invalidate(),
      ...(this.threads ? { pool: this.threads } : { threads: 1 }),
    });
    this.proxies.set(e.id, proxy);
    return {
      spec: e,
      listen: proxy.listen,
      get target() {
        const t = target.current(proxy.listen);
        return `${fmtAddr(t.address)}:${t.port}`;
      },
      observed: () => ({ listener: proxy.listen, backend: target.current(proxy.listen) }),
      condition: () => proxyCondition(proxy),
      details: () => restartsOf(this.processFor(e)),
      stop: () => {
        if (this.proxies.get(e.id) === proxy) this.proxies.delete(e.id);
        return proxy.close();
      },
    };
  }

  /** @internal The proxy of a running exposure (tests end one of its threads). */
  proxyOf(id: string): TcpProxy | undefined {
    return this.proxies.get(id);
  }

  /** An exposure whose process (Jupyter for its port, or the only process there is) is not running. */
  conditionFor(e: Exposure): HandleCondition | undefined {
    const rec = this.processFor(e);
    if (!rec || rec.state === 'running') return undefined;
    if (rec.state === 'not-installed') return { reason: 'ProcessNotInstalled', message: rec.message ?? `${rec.name} is not installed`, blocking: true };
    const tail = (rec.log ? logTail(rec.log, 3) : []).map((l) => (l.length > 160 ? `${l.slice(0, 157)}...` : l));
    const how = rec.state === 'failed' ? `could not start (${rec.message})` : rec.message ?? 'exited';
    return {
      reason: 'ProcessExited',
      message: `${rec.name} ${how}${tail.length ? `; last lines of ${rec.log}: ${tail.join(' | ')}` : ''}`,
      blocking: true,
      ...(rec.restartAt !== undefined && { transient: true }),
    };
  }

  /** The process behind an exposure: the service's on its port, or the only process there is. */
  private processFor(e: Exposure): ProcessRecord | undefined {
    const recs = this.procs.records;
    const service = this.plan?.env.services.find((s) => s.port === e.envPort)?.name;
    return recs.find((r) => r.name === service) ?? (recs.length === 1 ? recs[0] : undefined);
  }

  async stopEnvironment(): Promise<void> {
    await this.procs.stopAll();
  }

  resources() {
    return { processes: this.procs.records, notes: this.notes };
  }

  private listenAddressOf(e: HostExposure): string {
    return this.listenOverride ?? e.listenAddress;
  }

  private pathFor(plan: Plan): string {
    return [...plan.env.extraPath, process.env.PATH ?? ''].filter(Boolean).join(delimiter);
  }
}

/**
 * Where the env port listens on this machine: 127.0.0.1 when it listens there or on every
 * address, else ::1, else the one address it is bound to (a service bound to another interface);
 * while nothing listens, the two loopbacks in turn. Read from /proc once, then again after a
 * refused connection: on libuv's thread pool, shared with the other exposures' targets and at
 * most every LOOK_INTERVAL_MS (proc-net.ts: printing /proc/net/tcp takes milliseconds of CPU, and
 * this runs on the forwarding thread: a client retrying against a stopped app must not stall
 * every other connection). Connections meanwhile go where the last look said.
 */
export class TargetResolver {
  private found: string | undefined;
  private looked = false;
  private looking: Promise<void> | undefined;
  private self: Endpoint | undefined;
  private toggle = false;
  constructor(private readonly port: number, private readonly table: ListenerTable) {}

  /** `self`: the proxy's own listener, never a target (a host port equal to the env port). */
  current(self?: Endpoint): Endpoint {
    this.self = self ?? this.self;
    if (!this.looked) this.take(this.table.recent());
    return { address: this.found ?? (this.toggle ? '::1' : '127.0.0.1'), port: this.port };
  }

  /** A connection was refused: look again (once for any number of refusals meanwhile); resolves when done. */
  invalidate(): Promise<void> {
    this.toggle = !this.toggle;
    return (this.looking ??= this.table.fresh().then((ls) => {
      this.take(ls);
      this.looking = undefined;
    }));
  }

  private take(listeners: TcpListener[]): void {
    const self = this.self;
    const addrs = listeners
      .filter((l) => l.port === this.port && !(self && self.port === this.port && l.address === self.address))
      .map((l) => l.address);
    if (addrs.includes('127.0.0.1') || addrs.includes('0.0.0.0') || addrs.includes('::')) this.found = '127.0.0.1';
    else if (addrs.includes('::1')) this.found = '::1';
    else this.found = addrs[0]; // undefined: nothing listens (or no /proc)
    this.looked = true;
  }
}
