// The one place that makes Docker Engine API clients (dockerode). DOCKER_HOST is honoured
// (unix:// and tcp://), so the same code drives Docker and Podman's Docker-compatible API.
import Docker from 'dockerode';
import { RuntimeFailure } from '../../errors.js';

export const LABEL_MANAGED = 'io.envserve.managed';
export const LABEL_ENV_FILE = 'io.envserve.env-file';
export const LABEL_ENV_NAME = 'io.envserve.env-name';

/** The engine address as users know it. */
export function engineAddress(env: NodeJS.ProcessEnv = process.env): string {
  return env.DOCKER_HOST || 'unix:///var/run/docker.sock';
}

export function dockerClient(engine = engineAddress()): Docker {
  if (engine.startsWith('unix://')) return new Docker({ socketPath: engine.slice('unix://'.length) });
  if (engine.startsWith('npipe://')) return new Docker({ socketPath: engine.slice('npipe://'.length) });
  const u = new URL(engine.replace(/^tcp:/, 'http:'));
  return new Docker({ host: u.hostname, port: Number(u.port || 2375), protocol: 'http' });
}

/** Whether the engine's published ports bind on this machine (a local socket), so we can check them. */
export function engineIsLocal(engine = engineAddress()): boolean {
  if (engine.startsWith('unix://') || engine.startsWith('npipe://')) return true;
  try {
    const h = new URL(engine.replace(/^tcp:/, 'http:')).hostname;
    return h === 'localhost' || h.startsWith('127.') || h === '[::1]';
  } catch {
    return false;
  }
}

export async function pingEngine(docker: Docker, engine = engineAddress()): Promise<void> {
  try {
    await docker.ping();
  } catch (e) {
    throw new RuntimeFailure(
      `cannot reach the Docker engine at ${engine}: ${(e as Error).message}`,
      'start Docker (or `podman system service`), or point DOCKER_HOST at a running engine',
    );
  }
}

export function statusCode(e: unknown): number | undefined {
  return (e as { statusCode?: number })?.statusCode;
}

/** Stops (briefly) and removes a container; false if it was already gone. */
export async function removeContainer(id: string, engine?: string): Promise<boolean> {
  const c = dockerClient(engine).getContainer(id);
  try {
    await c.stop({ t: 2 });
  } catch (e) {
    if (statusCode(e) === 404) return false;
    // 304: already stopped; anything else: remove with force below
  }
  try {
    await c.remove({ force: true, v: true });
    return true;
  } catch (e) {
    if (statusCode(e) === 404) return false;
    throw e;
  }
}
