import { z } from 'zod';
import { duration, regex, targetName } from './common.js';

export const postgresTarget = z
  .object({
    name: targetName,
    /** postgres://user:password@host:port/db?sslmode=…; `dsn_file` reads it from a file. */
    dsn: z.string().min(1),
  })
  .strict();

export const postgresSection = z
  .object({
    targets: z.array(postgresTarget).default([]),
    connect_timeout: duration.default('3s'),
    database_include: regex.optional(),
    database_exclude: regex.optional(),
  })
  .strict();

const redisTls = z
  .object({
    /** PEM text; give `ca_file` (and `cert_file`/`key_file`) to read it from a file. */
    ca: z.string().optional(),
    cert: z.string().optional(),
    key: z.string().optional(),
    server_name: z.string().optional(),
    insecure_skip_verify: z.boolean().default(false),
  })
  .strict();

export const redisTarget = z
  .object({
    name: targetName,
    /** redis://[user:password@]host:port[/db] or rediss:// for TLS; `url_file` reads it from a file. */
    url: z.string().min(1),
    /** ACL user and password, if not in the URL; `password_file` reads the password from a file. */
    username: z.string().optional(),
    password: z.string().optional(),
    tls: redisTls.optional(),
    /** Overrides the section's key_prefixes for this target. */
    key_prefixes: z.array(z.string().min(1).max(200)).max(50).optional(),
  })
  .strict();

export const redisSection = z
  .object({
    targets: z.array(redisTarget).default([]),
    connect_timeout: duration.default('3s'),
    /** Key families counted by a SCAN of the target's database (the manuals' cache families). */
    key_prefixes: z
      .array(z.string().min(1).max(200))
      .max(50)
      .default(['llm_response', 'tool_result', 'user_session', 'config']),
    /** A key belongs to prefix P when it is P or starts with P + separator; '' means any key starting with P. */
    key_prefix_separator: z.string().max(8).default(':'),
    /** The SCAN stops after this long or this many keys; the counts are then marked partial. */
    key_prefix_scan_timeout: duration.default('1s'),
    key_prefix_scan_max_keys: z.number().int().positive().default(100_000),
    /** Caps on label values: the most-called commands, the lowest-numbered databases. */
    max_commands: z.number().int().nonnegative().default(100),
    max_dbs: z.number().int().nonnegative().default(16),
  })
  .strict();
