import { z } from 'zod';
import { duration, targetName } from './common.js';

export const dockerSection = z
  .object({
    /** `auto` enables the collector when the socket exists. */
    enabled: z.union([z.boolean(), z.literal('auto')]).default('auto'),
    host: z.string().optional(),
    sample_interval: duration.default('10s'),
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
