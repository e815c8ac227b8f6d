// The docker runtime: the environment is a container, through the Docker Engine API.
//  up:    creates and starts the container from build() with every host exposure published by
//         the engine on the requested address (the engine's own forwarding, no proxy of ours).
//  serve: --target docker:<name> exposes ports of a running container that publishes none, with
//         envserve's proxy to the container's address (refused where the host cannot reach it).
import { resolve } from 'node:path';
import { createHash } from 'node:crypto';
import { RuntimeFailure, UserError } from '../../errors.js';
import type { Exposure, HostExposure, Plan } from '../../plan/types.js';
import type { ContainerRecord, Endpoint, ProcessExit } from '../../status/types.js';
import { checkPortsFree, connectAddress, fmtAddr } from '../local/ports.js';
import { defaultProxyThreads, ProxyThreads, proxyCondition, TcpProxy } from '../local/proxy.js';
import type { ExposureHandle, HandleCondition, Runtime, StartOptions } from '../types.js';
import { restartsOf } from '../local/restart.js';
import { followExits, noteRestarts, RESTART_POLICY } from './restarts.js';
import {
  LABEL_ENV_FILE, LABEL_ENV_NAME, LABEL_MANAGED, dockerClient, engineAddress, engineIsLocal, pingEngine, removeContainer, statusCode,
  type ContainerInspect, type DockerEngine,
} from './client.js';
import { containerCommand } from '../../plan/env-commands.js';
import { imageFor } from './image.js';

export interface DockerRuntimeOptions {
  /** --image */
  image?: string;
  /** serve --target docker:<name> */
  target?: string;
  /** Told about progress (pulling, removing a leftover container). */
  log?: (line: string) => void;
  /** false (`up --no-restart`): no restart policy; a container whose processes exit stays as it is. */
  restart?: boolean;
}

export function containerNameFor(plan: Plan): string {
  const abs = resolve(plan.source);
  const safe = plan.env.name.toLowerCase().replace(/[^a-z0-9_.-]/g, '-').replace(/^[^a-z0-9]+/, '') || 'env';
  return `envserve-${safe}-${createHash('sha256').update(abs).digest('hex').slice(0, 8)}`;
}

export class DockerRuntime implements Runtime {
  readonly name = 'docker' as const;
  readonly kinds = ['host'] as const;
  private readonly engine = engineAddress();
  private readonly docker: DockerEngine = dockerClient(this.engine);
  private container: ContainerRecord | undefined;
  private published = new Map<string, Endpoint>();
  private targetAddress: string | undefined;
  /** `serve --target`'s proxies: told when the container comes back with another address. */
  private readonly targetProxies = new Set<TcpProxy>();
  private listenOverride: string | undefined;
  private readonly notes: string[] = [];
  /** The forwarding threads every exposure's proxy shares (`serve --target`), as in the local runtime. */
  private readonly threads = defaultProxyThreads() > 1 ? new ProxyThreads(defaultProxyThreads()) : undefined;
  private logChecks = 0;
  private lastDie: ProcessExit | undefined;
  private unfollow: (() => void) | undefined;

  constructor(private readonly opts: DockerRuntimeOptions = {}) {}

  async preflight(plan: Plan, exposures: Exposure[], opts: StartOptions): Promise<void> {
    this.listenOverride = opts.listenOverride;
    if (!opts.reload) {
      await pingEngine(this.docker, this.engine);
      if (opts.mode === 'serve') await this.resolveTarget();
    }
    const hosts = (opts.reload?.added ?? exposures).filter((e): e is HostExposure => e.kind === 'host');
    // serve: our proxy listens here. up: the engine binds; with a remote engine that is over
    // there and only the engine can check it.
    if (opts.mode === 'serve' || engineIsLocal(this.engine)) {
      await checkPortsFree(hosts.map((e) => ({ address: this.listenOf(e), port: e.hostPort, by: `host.bind at ${e.position}` })));
    }
    if (opts.mode === 'up' && !opts.reload) await this.removeLeftover(plan);
  }

  fixedExposures(mode: StartOptions['mode']): string | undefined {
    // The engine publishes ports when it creates the container: they cannot change in place.
    return mode === 'up' && this.targetAddress === undefined ? 'the container publishes its ports when created: restart envserve up to apply the new exposures' : undefined;
  }

  private listenOf(e: HostExposure): string {
    return this.listenOverride ?? e.listenAddress;
  }

  /** A container of ours for this env file that no state file knew about (envserve was killed mid-start). */
  private async removeLeftover(plan: Plan): Promise<void> {
    const name = containerNameFor(plan);
    try {
      const info = await this.docker.getContainer(name).inspect();
      if (info.Config.Labels?.[LABEL_MANAGED] !== 'true') {
        throw new UserError(`a container named ${name} exists and was not made by envserve`, `remove or rename it (docker rm ${name})`);
      }
      this.opts.log?.(`removing leftover container ${name}`);
      await removeContainer(info.Id, this.engine);
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
  }

  async startEnvironment(plan: Plan, exposures: Exposure[]): Promise<void> {
    const image = imageFor(plan.env, this.opts.image);
    await this.ensureImage(image);
    const hosts = exposures.filter((e): e is HostExposure => e.kind === 'host');
    const exposed: Record<string, object> = {};
    const bindings: Record<string, { HostIp: string; HostPort: string }[]> = {};
    for (const e of hosts) {
      const key = `${e.envPort}/tcp`;
      exposed[key] = {};
      // Podman (netavark 1.4) hangs on HostIp 0.0.0.0; an empty HostIp means every address on both engines.
      const ip = this.listenOf(e) === '0.0.0.0' ? '' : this.listenOf(e);
      (bindings[key] ??= []).push({ HostIp: ip, HostPort: e.hostPort ? String(e.hostPort) : '' });
    }
    const name = containerNameFor(plan);
    const env = Object.entries(plan.env.environment).map(([k, v]) => `${k}=${v}`);
    if (plan.env.extraPath.length) env.push(`PATH=${plan.env.extraPath.join(':')}:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin`);
    const created = await this.engineCall('create the container', () => this.docker.createContainer({
      name,
      Image: image,
      Entrypoint: [],
      Cmd: containerCommand(plan.env, { restart: this.restarts }),
      Env: env,
      Labels: { [LABEL_MANAGED]: 'true', [LABEL_ENV_FILE]: resolve(plan.source), [LABEL_ENV_NAME]: plan.env.name },
      ExposedPorts: exposed,
      HostConfig: { PortBindings: bindings, ...(this.restarts && { RestartPolicy: RESTART_POLICY }) },
    }));
    this.container = { id: created.id, name, image, engine: this.engine, owned: true, state: 'created' };
    // (a failed start is rolled back by the session: stopEnvironment removes the container)
    if (this.restarts) this.unfollow = await followExits(this.docker, created.id, (e) => (this.lastDie = e)).catch(() => undefined);
    await this.engineCall('start the container', () => created.start());
    const info = await created.inspect();
    this.container.state = info.State.Status;
    // Map each exposure to the address the engine actually bound (host_port=0 gets one here).
    const ports = (info.NetworkSettings.Ports ?? {}) as Record<string, { HostIp: string; HostPort: string }[] | null>;
    const taken = new Set<string>();
    for (const e of hosts) {
      const list = ports[`${e.envPort}/tcp`] ?? [];
      const match = list.find((b) => !taken.has(b.HostPort) && (e.hostPort === 0 || Number(b.HostPort) === e.hostPort));
      if (!match) continue;
      taken.add(match.HostPort);
      // The API omits HostIp when none was given: it then means every address.
      this.published.set(e.id, { address: match.HostIp || this.listenOf(e) || '0.0.0.0', port: Number(match.HostPort) });
    }
  }

  private get restarts(): boolean {
    return this.opts.restart !== false;
  }

  /** Engine refusals are runtime failures (exit 1) with the engine's own words. */
  private async engineCall<T>(what: string, fn: () => Promise<T>): Promise<T> {
    try {
      return await fn();
    } catch (e) {
      const msg = (e as { json?: { message?: string } }).json?.message ?? (e as Error).message;
      throw new RuntimeFailure(`the engine at ${this.engine} could not ${what}: ${msg}`);
    }
  }

  private async ensureImage(image: string): Promise<void> {
    try {
      await this.docker.getImage(image).inspect();
      return;
    } catch (e) {
      if (statusCode(e) !== 404) throw e;
    }
    this.opts.log?.(`pulling ${image} (use --image to run another image)`);
    let problem = '';
    try {
      problem = (await this.docker.pull(image)) ?? '';
    } catch (e) {
      problem = (e as Error).message;
    }
    if (!problem) {
      try {
        await this.docker.getImage(image).inspect();
        return;
      } catch {
        problem = 'the engine reported no error, but has no such image afterwards';
      }
    }
    throw new UserError(`image ${image} is not here and could not be pulled: ${problem}`, 'pass --image with an image the engine has (docker images)');
  }

  async expose(e: Exposure): Promise<ExposureHandle> {
    if (e.kind !== 'host') throw new Error(`the docker runtime cannot apply ${e.kind} exposures`);
    if (this.targetAddress !== undefined) return this.proxyTo(e);
    const pub = this.published.get(e.id);
    if (!pub) throw new Error(`the engine did not publish port ${e.envPort}`);
    const name = this.container?.name ?? '?';
    return {
      spec: e,
      listen: pub,
      target: `container ${name} port ${e.envPort} (published by the engine)`,
      observed: () => ({ listener: { address: connectAddress(pub.address), port: pub.port } }),
      condition: () => this.notRunning(),
      details: () => restartsOf(this.container),
      stop: async () => {}, // published ports go with the container
    };
  }

  private async proxyTo(e: HostExposure): Promise<ExposureHandle> {
    // The container's address as last inspected: a restart may give it another (refresh()).
    const target = () => ({ address: this.targetAddress!, port: e.envPort });
    const proxy = await TcpProxy.start({ listen: { address: this.listenOf(e), port: e.hostPort }, target, ...(this.threads ? { pool: this.threads } : { threads: 1 }) });
    this.targetProxies.add(proxy);
    const name = this.container?.name;
    return {
      spec: e,
      listen: proxy.listen,
      get target() {
        const t = target();
        return `container ${name} ${fmtAddr(t.address)}:${t.port}`;
      },
      observed: () => ({ listener: proxy.listen, backend: target() }),
      condition: () => this.notRunning() ?? proxyCondition(proxy),
      stop: () => (this.targetProxies.delete(proxy), proxy.close()),
    };
  }

  /** Set while the container is not running; `up`'s restart policy brings it back by itself. */
  private notRunning(): HandleCondition | undefined {
    const state = this.container?.state;
    if (!state || state === 'running') return undefined;
    const transient = this.container!.owned && this.restarts && state !== 'removed';
    // (`docker stop` by hand is the one case the policy leaves it down: the engine does not say so)
    return { reason: 'ContainerNotRunning', message: `container is ${state}${transient ? '; its restart policy starts it again' : ''}`, blocking: true, ...(transient && { transient }) };
  }

  /** serve --target docker:<name>: the container must run and its address be reachable from here. */
  private async resolveTarget(): Promise<void> {
    const t = this.opts.target;
    if (!t) throw new UserError('serve with --runtime docker needs --target docker:<container>', 'or use `envserve up --runtime docker` to start the environment');
    let info: ContainerInspect;
    try {
      info = await this.docker.getContainer(t).inspect();
    } catch (e) {
      if (statusCode(e) === 404) throw new UserError(`no container named ${t} in the engine at ${this.engine}`, 'docker ps lists the running ones');
      throw e;
    }
    if (!info.State.Running) throw new UserError(`container ${t} is not running (${info.State.Status})`, `start it first: docker start ${t}`);
    this.container = { id: info.Id, name: info.Name.replace(/^\//, ''), image: info.Config.Image, engine: this.engine, owned: false, state: info.State.Status };
    if (info.HostConfig.NetworkMode === 'host') {
      this.targetAddress = containerAddress(info);
      return;
    }
    const sysInfo = (await this.docker.info().catch(() => ({}))) as { OperatingSystem?: string };
    if (process.platform === 'darwin' || process.platform === 'win32' || /Docker Desktop/i.test(sysInfo.OperatingSystem ?? '')) {
      throw new UserError(
        `container addresses are not reachable from this host (${sysInfo.OperatingSystem ?? process.platform}: the engine runs in a VM)`,
        `publish the ports instead: envserve up --runtime docker, or docker run -p 127.0.0.1:<host port>:<env port> ...`,
      );
    }
    const address = containerAddress(info);
    if (!address) {
      throw new UserError(
        `container ${t} has no address this host can reach (rootless engine or no network)`,
        'publish the ports instead: envserve up --runtime docker, or docker run -p 127.0.0.1:<host port>:<env port> ...',
      );
    }
    this.targetAddress = address;
  }

  async refresh(): Promise<boolean> {
    if (!this.container) return false;
    const notesBefore = this.notes.length;
    if (this.container.owned && this.logChecks < 5) {
      this.logChecks++;
      await this.noteMissingCommands();
    }
    let state: string;
    let changedDetails = false;
    try {
      const info = await this.docker.getContainer(this.container.id).inspect();
      state = info.State.Running ? 'running' : `${info.State.Status} (exit code ${info.State.ExitCode}; docker logs ${this.container.name})`;
      const restarted = this.container.owned && noteRestarts(this.container, info, this.lastDie);
      const moved = this.followAddress(info);
      changedDetails = restarted || moved;
    } catch (e) {
      if (statusCode(e) !== 404) return false;
      state = 'removed';
    }
    const changed = state !== this.container.state || this.notes.length !== notesBefore || changedDetails;
    this.container.state = state;
    return changed;
  }

  /**
   * `serve --target`: a container started again may have another address (the engine hands them
   * out at start), and its old one may meanwhile be another container's: forward to the new one.
   */
  private followAddress(info: ContainerInspect): boolean {
    if (this.targetAddress === undefined || !info.State.Running) return false;
    const address = containerAddress(info);
    if (!address || address === this.targetAddress) return false;
    this.targetAddress = address;
    for (const p of this.targetProxies) p.retarget();
    return true;
  }

  /** The container command says on stderr which processes the image lacks (jupyter, ...): show it. */
  private async noteMissingCommands(): Promise<void> {
    try {
      const buf = await this.docker.getContainer(this.container!.id).logs({ stdout: false, stderr: true, tail: 50 });
      for (const m of buf.toString('latin1').matchAll(/envserve: ([^\n]*is not installed in this image[^\n]*)/g)) {
        const note = `${m[1]!.trim()}: use an image that has it (--image)`;
        if (!this.notes.includes(note)) this.notes.push(note);
      }
    } catch {
      /* logs are a nicety */
    }
  }

  async stopEnvironment(): Promise<void> {
    this.unfollow?.();
    if (this.container?.owned) {
      await removeContainer(this.container.id, this.engine).catch(() => false);
      this.container.state = 'removed';
    }
  }

  resources() {
    return { processes: [], ...(this.container ? { container: this.container } : {}), notes: this.notes };
  }
}

/** Where this host reaches a container: loopback on the host's network, else its address on the engine's network. */
function containerAddress(info: ContainerInspect): string | undefined {
  if (info.HostConfig.NetworkMode === 'host') return '127.0.0.1';
  const nets = Object.values(info.NetworkSettings.Networks ?? {});
  return (info.NetworkSettings as { IPAddress?: string }).IPAddress || nets.find((n) => n.IPAddress)?.IPAddress || undefined;
}
