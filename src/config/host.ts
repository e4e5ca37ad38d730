import { z } from 'zod';
import { clientTls, duration, regex, targetName } from './common.js';

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

/** A regular expression matched anywhere in the text (blackbox's body regexes are unanchored). */
const searchRegex = z.string().transform((v, ctx) => {
  try {
    return new RegExp(v);
  } catch (err) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `invalid regular expression ${JSON.stringify(v)}: ${(err as Error).message}`,
    });
    return z.NEVER;
  }
});

/** A check on one field of a JSON body; `path` is dotted, array items by index (`agents.0.status`). */
export const jsonCheck = z
  .object({
    path: z.string().min(1),
    equals: z.union([z.string(), z.number(), z.boolean(), z.null()]).optional(),
    matches: searchRegex.optional(),
  })
  .strict()
  .refine((c) => c.equals !== undefined || c.matches !== undefined, {
    message: 'give equals or matches',
  });

/** Reads per-agent states from a JSON body such as the application's /api/agents/status. */
export const agentsCheck = z
  .object({
    /** States that count as running (compared case-insensitively). */
    running_states: z.array(z.string().min(1)).default(['running']),
    /** At most this many agents become series; the rest are logged and dropped. */
    max_agents: z.number().int().positive().default(100),
    /** The probe fails when no agent is running (the manual's `grep -q running`). */
    require_running: z.boolean().default(false),
  })
  .strict();

export const httpProbe = z
  .object({
    name: targetName,
    url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http:// or https:// URL' }),
    method: z.enum(['GET', 'HEAD', 'POST']).default('GET'),
    headers: z.record(z.string()).default({}),
    /** Capped by the scrape deadline. */
    timeout: duration.default('5s'),
    /** Accepted status codes; empty means any 2xx (blackbox's default). */
    expected_status: z.array(z.number().int().min(100).max(599)).default([]),
    body_regex: searchRegex.optional(),
    body_not_regex: searchRegex.optional(),
    json_checks: z.array(jsonCheck).default([]),
    agents: agentsCheck.optional(),
    follow_redirects: z.boolean().default(true),
    /** Bodies are read up to this size; checks see only this much. */
    max_body_bytes: z
      .number()
      .int()
      .positive()
      .default(1024 * 1024),
    tls: clientTls.default({}),
  })
  .strict();

export const probesSection = z
  .object({
    /** Base URL of the application; adds the manuals' default health probes. */
    app_base_url: z
      .string()
      .url()
      .refine((u) => /^https?:\/\//i.test(u), { message: 'must be an http:// or https:// URL' })
      .optional(),
    /** Applied to the default probes (e.g. a private CA for the application). */
    app_tls: clientTls.default({}),
    app_timeout: duration.default('5s'),
    http: z.array(httpProbe).default([]),
  })
  .strict()
  .superRefine((s, ctx) => uniqueNames(s.http, ctx, ['http']));

/** Names serve as label values and target names, so two entries may not share one. */
function uniqueNames<T extends { name: string }>(
  items: T[],
  ctx: z.RefinementCtx,
  prefix: (string | number)[] = [],
) {
  const seen = new Set<string>();
  items.forEach((p, i) => {
    if (seen.has(p.name))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: [...prefix, i, 'name'],
        message: `duplicate name ${p.name}`,
      });
    seen.add(p.name);
  });
}

const GLOB_CHARS = /[*?[\]{}]/;

export const backupsSection = z
  .array(
    z
      .object({
        name: targetName,
        /** Wildcards (`*`, `?`, `[...]`) in the file-name part only: `/opt/backups/app/postgres_*.sql.gz`. */
        glob: z
          .string()
          .min(1)
          .refine((g) => g.startsWith('/'), { message: 'must be an absolute path' })
          .refine((g) => !GLOB_CHARS.test(g.slice(0, g.lastIndexOf('/'))), {
            message: 'wildcards are allowed in the file name only, not in directories',
          })
          .refine((g) => !g.endsWith('/'), { message: 'must end with a file-name pattern' }),
        /** Age above which the backup alert fires; 0 disables it. */
        max_age: duration.default('8d'),
        /** `auto`: a gzip check when the file name ends in .gz. */
        integrity: z.enum(['auto', 'gzip', 'none']).default('auto'),
      })
      .strict(),
  )
  .superRefine((items, ctx) => uniqueNames(items, ctx));

export const logsSection = z
  .array(
    z
      .object({
        name: targetName,
        path: z.string().min(1),
        /** Where to start in a file that already exists when stackwatch starts (like `tail -f`: the end). */
        start_at: z.enum(['end', 'beginning']).default('end'),
      })
      .strict(),
  )
  .superRefine((items, ctx) => uniqueNames(items, ctx));
