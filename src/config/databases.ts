import { z } from 'zod';
import { clientTls, duration, regex, targetName } from './common.js';

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
    /** Databases to report (anchored regexes over datname); templates are never reported. */
    database_include: regex.optional(),
    database_exclude: regex.optional(),
    /** Cap on discovered databases per target; the rest are ignored (by name order) and logged. */
    max_databases: z.number().int().min(1).default(50),
    /** Scrape connections to the DSN's database; the index sample opens up to one fewer, briefly. */
    pool_size: z.number().int().min(1).max(20).default(3),
    /**
     * Database sizes (a walk of each database's directory) and index statistics (a connection
     * per database) change slowly and cost the most: sampled in the background at most this often.
     */
    sample_interval: duration.default('1m'),
    statements: z
      .object({
        enabled: z.boolean().default(true),
        /** Top statements by total execution time (postgres_exporter's stat_statements collector). */
        limit: z.number().int().min(1).max(10_000).default(100),
        /** Top statements by mean execution time: the slow-query view. */
        slow_limit: z.number().int().min(0).max(1_000).default(10),
        /** Adds pg_stat_statements_query_id{queryid,query} with the truncated query text. */
        include_query: z.boolean().default(false),
        query_length: z.number().int().min(1).max(10_000).default(120),
      })
      .strict()
      .default({}),
    indexes: z
      .object({
        enabled: z.boolean().default(true),
        /** Largest indexes per target that get per-index series; unused counts cover all. */
        limit: z.number().int().min(0).max(10_000).default(50),
      })
      .strict()
      .default({}),
    /** pg_stat_user_tables_* and pg_statio_user_tables_* per table, read with the index sample. */
    tables: z
      .object({
        enabled: z.boolean().default(true),
        /** Largest tables per target that get per-table series (each table is 27 series). */
        limit: z.number().int().min(0).max(10_000).default(50),
        /** Anchored regexes over `schema.table`. */
        include: regex.optional(),
        exclude: regex.optional(),
      })
      .strict()
      .default({}),
    /** Replication slots exported per target, by name. */
    max_replication_slots: z.number().int().min(0).max(1_000).default(50),
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
    tls: clientTls.optional(),
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
    /**
     * A SCAN visits every key: it runs at most this often, in the background, and scrapes in
     * between serve its counts with their age; 0 scans on every scrape.
     */
    key_prefix_scan_interval: duration.default('1m'),
    /** Caps on label values: the most-called commands, the lowest-numbered databases. */
    max_commands: z.number().int().nonnegative().default(100),
    max_dbs: z.number().int().nonnegative().default(16),
  })
  .strict();
