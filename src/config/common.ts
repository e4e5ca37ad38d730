import { z } from 'zod';

const UNIT_MS: Record<string, number> = {
  ms: 1,
  s: 1000,
  m: 60_000,
  h: 3_600_000,
  d: 86_400_000,
  w: 604_800_000,
};

/** Parses Prometheus-style durations (`500ms`, `10s`, `1h30m`) to milliseconds. */
export function parseDuration(text: string): number | undefined {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h|d|w)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    if (m.index !== consumed) return undefined;
    total += Number(m[1]) * (UNIT_MS[m[2] as string] as number);
    consumed += m[0].length;
  }
  return consumed === text.length && consumed > 0 ? total : undefined;
}

/** A duration given as `10s`/`500ms`/`5m` or as a number of seconds; the parsed value is milliseconds. */
export const duration = z.union([z.string(), z.number().nonnegative()]).transform((v, ctx) => {
  if (typeof v === 'number') return v * 1000;
  const ms = parseDuration(v.trim());
  if (ms === undefined) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `invalid duration ${JSON.stringify(v)} (use e.g. 500ms, 10s, 5m, 1h)`,
    });
    return z.NEVER;
  }
  return ms;
});

/** A regular expression given as a string; anchored like Prometheus regexes. */
export const regex = z.string().transform((v, ctx) => {
  try {
    return new RegExp(`^(?:${v})$`);
  } catch (err) {
    ctx.addIssue({
      code: z.ZodIssueCode.custom,
      message: `invalid regular expression ${JSON.stringify(v)}: ${(err as Error).message}`,
    });
    return z.NEVER;
  }
});

/** Names of targets, probes, backups: safe in URLs and label values. */
export const targetName = z
  .string()
  .regex(/^[A-Za-z0-9_.-]{1,64}$/, 'must be 1-64 characters of A-Z a-z 0-9 _ . -');

/**
 * TLS of a client connection (https probes, rediss:// targets). `ca`, `cert` and `key` are PEM
 * text; in YAML they are usually given as `ca_file`, `cert_file`, `key_file`, which the loader
 * reads.
 */
export const clientTls = z
  .object({
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    server_name: z.string().optional(),
    insecure_skip_verify: z.boolean().default(false),
  })
  .strict();
