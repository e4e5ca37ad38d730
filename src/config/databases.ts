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

export const redisTarget = z
  .object({
    name: targetName,
    /** redis://[user:password@]host:port[/db] or rediss:// for TLS. */
    url: z.string().min(1),
  })
  .strict();

export const redisSection = z
  .object({
    targets: z.array(redisTarget).default([]),
    connect_timeout: duration.default('3s'),
  })
  .strict();
