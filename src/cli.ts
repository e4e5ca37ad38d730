#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { Stackwatch } from './app.js';
import { ConfigError, loadConfig } from './config/load.js';
import { healthcheckCommand, SERVICE_FLAGS } from './healthcheck.js';
import { LOG_LEVELS, type LogLevel } from './logger.js';
import { VERSION } from './version.js';
import {
  configNotes,
  consoleTokenCommand,
  routeTestCommand,
  sendTestCommand,
  templateTestCommand,
} from './alerting/index.js';

// statfs and DNS run on libuv's pool; a few hung mounts must not starve it.
process.env.UV_THREADPOOL_SIZE ??= '16';

const USAGE = `usage: stackwatch [flags]                 run the exporter and alert receiver
       stackwatch check-config FILE      validate a configuration file (exit 0 ok, 2 bad)
       stackwatch route-test [--config.file=F] [--json] label=value...
                                         who would be told about these labels (nothing is sent)
       stackwatch send-test [--config.file=F]
                                         send one test notification through each channel
       stackwatch template-test [--config.file=F] [--receiver=R] [--channel=C] [--id=N] [--json]
                                         each channel's message for a sample or stored
                                         notification, rendered, not sent
       stackwatch console-token [--config.file=F] [--rotate]
                                         print the console's first-run token (or replace it)
       stackwatch healthcheck [flags]    exit 0 when the service here is healthy and ready (the
                                         image's HEALTHCHECK); without flags, the running service's

flags:
  --config.file=FILE          configuration file (YAML); without it, defaults plus environment
  --web.listen-address=ADDR   address to listen on (default :9879)
  --web.config.file=FILE      exporter-toolkit web config: TLS and basic auth
  --log.level=LEVEL           debug, info, warn, error (default info, or LOG_LEVEL)
  --version                   print the version
`;

export const EXIT_BAD_CONFIG = 2;

/** Subcommands by name; each returns the process exit code. */
export const commands: Record<string, (args: string[]) => Promise<number>> = {
  'check-config': async (args) => {
    const file = args[0];
    if (!file) {
      process.stderr.write('usage: stackwatch check-config FILE\n');
      return EXIT_BAD_CONFIG;
    }
    try {
      const config = loadConfig(file, process.env, {
        onWarning: (w) => process.stderr.write(`warning: ${w}\n`),
      });
      process.stdout.write(`${file}: configuration is valid\n`);
      for (const note of configNotes(config)) process.stdout.write(`${note}\n`);
      return 0;
    } catch (err) {
      process.stderr.write(`${(err as Error).message}\n`);
      return EXIT_BAD_CONFIG;
    }
  },
  'route-test': routeTestCommand,
  'send-test': sendTestCommand,
  'template-test': templateTestCommand,
  'console-token': consoleTokenCommand,
  healthcheck: (args) => healthcheckCommand(args, process.argv[1] as string),
};

async function runServer(argv: string[]): Promise<number> {
  const { values } = parseArgs({ args: argv, options: SERVICE_FLAGS, strict: true });
  if (values.help) {
    process.stdout.write(USAGE);
    return 0;
  }
  if (values.version) {
    process.stdout.write(`stackwatch ${VERSION} (node ${process.version})\n`);
    return 0;
  }
  const level = values['log.level'];
  if (level !== undefined && !(LOG_LEVELS as readonly string[]).includes(level)) {
    process.stderr.write(
      `--log.level: expected one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(level)}\n`,
    );
    return EXIT_BAD_CONFIG;
  }
  const sw = new Stackwatch({
    configFile: values['config.file'],
    webConfigFile: values['web.config.file'],
    listenAddress: values['web.listen-address'] as string,
    logLevel: level as LogLevel | undefined,
  });
  // Every stderr line of the service is a JSON log line, Node's own warnings included.
  process.removeAllListeners('warning');
  process.on('warning', (w) => sw.logger.warn({ warning: w.name, err: w.message }, 'runtime warning'));
  await sw.start();

  process.on('SIGHUP', () => void sw.reload());
  return await new Promise<number>((resolveExit) => {
    let stopping = false;
    const stop = (signal: string) => {
      if (stopping) return;
      stopping = true;
      sw.logger.info({ signal }, 'shutting down');
      sw.stop().then(
        () => resolveExit(0),
        () => resolveExit(1),
      );
    };
    process.on('SIGTERM', () => stop('SIGTERM'));
    process.on('SIGINT', () => stop('SIGINT'));
  });
}

async function main(argv: string[]): Promise<number> {
  const [first, ...rest] = argv;
  const command = first !== undefined && !first.startsWith('-') ? commands[first] : undefined;
  if (first !== undefined && !first.startsWith('-') && !command) {
    process.stderr.write(`unknown command ${JSON.stringify(first)}\n${USAGE}`);
    return EXIT_BAD_CONFIG;
  }
  try {
    return command ? await command(rest) : await runServer(argv);
  } catch (err) {
    if (err instanceof ConfigError || (err as NodeJS.ErrnoException).code?.startsWith('ERR_PARSE_ARGS')) {
      process.stderr.write(`${(err as Error).message}\n`);
      return EXIT_BAD_CONFIG;
    }
    process.stderr.write(`stackwatch: ${(err as Error).stack ?? String(err)}\n`);
    return 1;
  }
}

// The oldest Node.js line of package.json's engines: on an older one the SQLite binding would
// crash the process when the outbox opens, so say why instead.
const OLDEST_NODE = 22;
if (Number(process.versions.node.split('.')[0]) < OLDEST_NODE) {
  process.stderr.write(
    `stackwatch: Node.js ${process.versions.node} is not supported; run it on Node.js ${OLDEST_NODE} or 24 (LTS)\n`,
  );
  process.exit(1);
}

main(process.argv.slice(2)).then(
  (code) => process.exit(code),
  (err: unknown) => {
    process.stderr.write(`stackwatch: ${String(err)}\n`);
    process.exit(1);
  },
);
