import { z } from 'zod';
import { duration, regex, targetName } from './common.js';

export const dockerSection = z
  .object({
    /** `auto` enables the collector when the socket exists. */
    enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    /** `unix:///path/docker.sock` or `tcp://host:2375`; default the local socket (or DOCKER_HOST). */
    host: z.string().optional(),
    /** How often container stats are sampled in the background. */
    sample_interval: duration.default('10s'),
    /** Container labels exported as `container_label_<name>`, like cAdvisor. */
    label_allowlist: z
      .array(z.string().min(1))
      .default(['com.docker.compose.service', 'com.docker.compose.project']),
    /** Container names (without the leading slash) to export; anchored regexes. */
    include: regex.default('.*'),
    exclude: regex.optional(),
    /** At most this many containers are exported (running ones first). */
    max_containers: z.number().int().positive().default(100),
    /** Parallel stats requests of the background sampler (the engine answers them once a second). */
    stats_concurrency: z.number().int().positive().max(256).default(32),
  })
  .strict();

export const httpProbe = z
  .object({
    name: targetName,
    url: z.string().url(),
    timeout: duration.default('5s'),
    expected_status: z.array(z.number().int().min(100).max(599)).default([200]),
  })
  .strict();

export const probesSection = z
  .object({
    /** Base URL of the application; adds the manuals' default health probes. */
    app_base_url: z.string().url().optional(),
    http: z.array(httpProbe).default([]),
  })
  .strict();

export const backupsSection = z.array(
  z.object({ name: targetName, glob: z.string().min(1), max_age: duration.default('8d') }).strict(),
);

export const logsSection = z.array(z.object({ name: targetName, path: z.string().min(1) }).strict());
