import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import { BackupCollector } from './backup.js';
import type { Collector } from './collector.js';
import { DockerCollector, dockerEnabled } from './docker.js';
import { FilesystemCollector } from './filesystem.js';
import { postgresCollectors } from './postgres.js';
import { buildRedisCollectors } from './redis.js';
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

/** The enabled collectors for a configuration: this list is stackwatch's feature list. */
export function buildCollectors(config: Config, logger: Logger): Collector[] {
  const out: Collector[] = [];
  const c = config.collectors;
  if (c.filesystem.enabled) out.push(new FilesystemCollector(c.filesystem));
  if (c.uname.enabled) out.push(new UnameCollector());
  out.push(...postgresCollectors(c.postgres, logger));
  out.push(...buildRedisCollectors(c.redis));
  if (dockerEnabled(c.docker)) out.push(new DockerCollector(c.docker, logger));
  for (const p of allProbes(c.probes)) out.push(new HttpProbeCollector(p));
  for (const b of c.backups) out.push(new BackupCollector(b));
  for (const l of c.logs) out.push(new LogLinesCollector(l));
  return out;
}
