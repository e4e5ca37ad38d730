import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { BackupCollector } from './backup.js';
import type { Collector } from './collector.js';
import { dockerEnabled } from './docker-engine.js';
import { FilesystemCollector } from './filesystem.js';
import { allProbes, HttpProbeCollector } from './http-probe.js';
import { LogLinesCollector } from './log-lines.js';
import { UnameCollector } from './node-info.js';

/**
 * The kinds of collector, the part of a collector's name before `/` (`postgres/main`): what
 * `collect[]` selects by, whether or not the configuration has one of the kind.
 */
export const COLLECTOR_KINDS = [
  'filesystem',
  'uname',
  'docker',
  'postgres',
  'redis',
  'probe',
  'backup',
  'log',
] as const;

/**
 * The enabled collectors for a configuration: this list is stackwatch's feature list. The
 * PostgreSQL, Redis and Docker collectors (and their client libraries) are loaded only when
 * configured, so a service without them does not hold pg, ioredis or dockerode.
 */
export async function buildCollectors(config: Config, logger: Logger): Promise<Collector[]> {
  const out: Collector[] = [];
  const c = config.collectors;
  if (c.filesystem.enabled) out.push(new FilesystemCollector(c.filesystem));
  if (c.uname.enabled) out.push(new UnameCollector());
  if (c.postgres.targets.length)
    out.push(...(await import('./postgres.js')).postgresCollectors(c.postgres, logger));
  if (c.redis.targets.length) out.push(...(await import('./redis.js')).buildRedisCollectors(c.redis));
  if (dockerEnabled(c.docker)) out.push(new (await import('./docker.js')).DockerCollector(c.docker, logger));
  for (const p of allProbes(c.probes)) out.push(new HttpProbeCollector(p));
  for (const b of c.backups) out.push(new BackupCollector(b));
  for (const l of c.logs) out.push(new LogLinesCollector(l));
  return out;
}
