// Where the Docker engine is and whether the collector is on, apart from the collector itself
// so that deciding does not load dockerode.
import { existsSync } from 'node:fs';
import type { z } from 'zod';
import type { dockerSection } from '../config/host.js';

type DockerConfig = z.infer<typeof dockerSection>;

export const DEFAULT_DOCKER_SOCKET = '/var/run/docker.sock';

export type EngineAddress =
  { socketPath: string } | { host: string; port: number; protocol: 'http' | 'https' };

/** DOCKER_HOST syntax: `unix:///path`, a bare socket path, or `tcp://host:port` (2376 means TLS). */
export function engineAddress(host: string | undefined): EngineAddress {
  if (!host) return { socketPath: DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('unix://'))
    return { socketPath: host.slice('unix://'.length) || DEFAULT_DOCKER_SOCKET };
  if (host.startsWith('/')) return { socketPath: host };
  const u = new URL(host.includes('://') ? host : `tcp://${host}`);
  const port = Number(u.port || (u.protocol === 'https:' ? 2376 : 2375));
  const tls = u.protocol === 'https:' || port === 2376 || process.env.DOCKER_TLS_VERIFY === '1';
  return { host: u.hostname, port, protocol: tls ? 'https' : 'http' };
}

/** `enabled: auto` turns the collector on when the engine's socket exists (or a TCP host is configured). */
export function dockerEnabled(cfg: Pick<DockerConfig, 'enabled' | 'host'>): boolean {
  if (cfg.enabled !== 'auto') return cfg.enabled;
  const addr = engineAddress(cfg.host);
  return 'socketPath' in addr ? existsSync(addr.socketPath) : true;
}
