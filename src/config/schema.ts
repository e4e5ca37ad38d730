import { z } from 'zod';
import { LOG_LEVELS } from '../logger.js';
import { duration, regex } from './common.js';
import { postgresSection, redisSection } from './databases.js';
import { dockerSection, probesSection, backupsSection, logsSection } from './host.js';
import { receiverSection } from './receiver.js';

// node_exporter 1.5's defaults for the filesystem collector.
export const DEFAULT_MOUNT_POINTS_EXCLUDE =
  '/(dev|proc|run/credentials/.+|sys|var/lib/docker/.+|var/lib/containers/storage/.+)($|/).*';
export const DEFAULT_FS_TYPES_EXCLUDE =
  'autofs|binfmt_misc|bpf|cgroup2?|configfs|debugfs|devpts|devtmpfs|fusectl|hugetlbfs|iso9660|mqueue|nsfs|overlay|proc|procfs|pstore|rpc_pipefs|securityfs|selinuxfs|squashfs|sysfs|tracefs';

export const filesystemSection = z
  .object({
    enabled: z.boolean().default(true),
    mount_points_exclude: regex.default(DEFAULT_MOUNT_POINTS_EXCLUDE),
    fs_types_exclude: regex.default(DEFAULT_FS_TYPES_EXCLUDE),
    /** A statfs still pending after this long marks the mount `device_error 1`. */
    stat_timeout: duration.default('5s'),
    /** Where the mount table is read; `/host/proc/1/mounts` when running in a container. */
    mounts_path: z.string().default('/proc/1/mounts'),
    /** Prefix of the host root inside a container (node_exporter's --path.rootfs). */
    root_prefix: z.string().default(''),
  })
  .strict();

export const configSchema = z
  .object({
    global: z
      .object({
        /** Used when a scrape has no X-Prometheus-Scrape-Timeout-Seconds header. */
        scrape_timeout: duration.default('10s'),
        scrape_timeout_offset: duration.default('500ms'),
        /**
         * Host names (without port) requests must be addressed to, against DNS rebinding;
         * empty: any. Liveness and readiness answer any Host.
         */
        allowed_hosts: z.array(z.string().min(1)).default([]),
      })
      .strict()
      .default({}),
    log_level: z.enum(LOG_LEVELS).default('info'),
    data_dir: z.string().default('./data'),
    collectors: z
      .object({
        filesystem: filesystemSection.default({}),
        /** node_exporter's uname collector: node_uname_info. */
        uname: z
          .object({ enabled: z.boolean().default(true) })
          .strict()
          .default({}),
        docker: dockerSection.default({}),
        postgres: postgresSection.default({}),
        redis: redisSection.default({}),
        probes: probesSection.default({}),
        backups: backupsSection.default([]),
        logs: logsSection.default([]),
      })
      .strict()
      .default({}),
    receiver: receiverSection.default({}),
  })
  .strict();

export type Config = z.infer<typeof configSchema>;
export type ConfigInput = z.input<typeof configSchema>;
