import { readdirSync, readFileSync, realpathSync } from 'node:fs';
import { request as httpRequest } from 'node:http';
import { request as httpsRequest } from 'node:https';
import { parseArgs } from 'node:util';
import { parseListenAddress } from './app.js';
import { loadWebConfig } from './webconfig.js';

/** The flags of `stackwatch` (the service, no subcommand), shared with the health check. */
export const SERVICE_FLAGS = {
  'config.file': { type: 'string' },
  'web.listen-address': { type: 'string', default: ':9879' },
  'web.config.file': { type: 'string' },
  'log.level': { type: 'string' },
  version: { type: 'boolean' },
  help: { type: 'boolean', short: 'h' },
} as const;

export interface ProbeTarget {
  /** `http://127.0.0.1:9879` or `https://…` when the web config turns TLS on. */
  baseUrl: string;
  tls: boolean;
}

/**
 * Where to reach the service from inside its own container or host: the listen address, with
 * a wildcard host (`:9879`, `0.0.0.0`, `::`) replaced by loopback, and the web config's scheme.
 */
export function probeTarget(listenAddress: string, tls: boolean): ProbeTarget {
  const { host, port } = parseListenAddress(listenAddress);
  let h = host ?? '127.0.0.1';
  if (h === '0.0.0.0') h = '127.0.0.1';
  if (h === '::') h = '::1';
  if (h.includes(':')) h = `[${h}]`;
  return { baseUrl: `${tls ? 'https' : 'http'}://${h}:${port}`, tls };
}

/**
 * The service's flags from its command line (`node …/cli.js FLAGS`), or undefined when the
 * command line is another program or a subcommand. Pure, so it is tested on captured argv.
 */
export function serviceArgs(argv: string[], cliPath: string): string[] | undefined {
  const [, script, ...args] = argv;
  if (script === undefined || !sameFile(script, cliPath)) return undefined;
  if (args[0] !== undefined && !args[0].startsWith('-')) return undefined;
  return args;
}

function sameFile(a: string, b: string): boolean {
  if (a === b) return true;
  try {
    return realpathSync(a) === realpathSync(b);
  } catch {
    return false;
  }
}

/**
 * The running service's flags, read from /proc: in the image, the entrypoint plus whatever
 * `command:` the compose file or `docker run` gave it, which a HEALTHCHECK line cannot know.
 * The lowest PID wins (PID 1 in a container, or the child of `--init`).
 */
export function findServiceArgs(cliPath: string, procDir = '/proc'): string[] | undefined {
  let best: { pid: number; args: string[] } | undefined;
  for (const entry of readdirSync(procDir)) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid || (best && pid > best.pid)) continue;
    let argv: string[];
    try {
      argv = readFileSync(`${procDir}/${pid}/cmdline`, 'utf8').split('\0').slice(0, -1);
    } catch {
      continue; // exited meanwhile, or not ours to read
    }
    const args = serviceArgs(argv, cliPath);
    if (args) best = { pid, args };
  }
  return best?.args;
}

interface Answer {
  status: number;
  body: string;
}

function get(url: string, tls: boolean, timeoutMs: number): Promise<Answer> {
  return new Promise((resolve, reject) => {
    // Our own server on loopback: its certificate names the public host, not 127.0.0.1.
    const req = (tls ? httpsRequest : httpRequest)(
      url,
      { method: 'GET', timeout: timeoutMs, rejectUnauthorized: false },
      (res) => {
        let body = '';
        res.setEncoding('utf8');
        res.on('data', (d: string) => {
          if (body.length < 4096) body += d;
        });
        res.on('end', () => resolve({ status: res.statusCode ?? 0, body: body.trim() }));
      },
    );
    req.on('timeout', () => req.destroy(new Error(`no answer within ${timeoutMs} ms`)));
    req.on('error', reject);
    req.end();
  });
}

/**
 * `stackwatch healthcheck [flags]`: exit 0 when the service on this machine is alive
 * (`/-/healthy`) and ready (`/-/ready`, e.g. its outbox open), 1 otherwise, with the reason on
 * stdout (Docker keeps it in the container's health log). Without flags it reads the running
 * service's own. Readiness behind basic auth cannot be asked without a password, so there
 * liveness alone decides.
 */
export async function healthcheckCommand(argv: string[], cliPath: string): Promise<number> {
  const given = argv.length > 0 ? argv : (findServiceArgs(cliPath) ?? []);
  const { values } = parseArgs({ args: given, options: SERVICE_FLAGS, strict: true });
  const webConfigFile = values['web.config.file'];
  const tls = webConfigFile ? Boolean(loadWebConfig(webConfigFile).tls) : false;
  const target = probeTarget(values['web.listen-address'], tls);
  const say = (line: string) => process.stdout.write(`${line}\n`);
  try {
    const healthy = await get(`${target.baseUrl}/-/healthy`, tls, 4000);
    if (healthy.status !== 200) {
      say(`${target.baseUrl}/-/healthy: HTTP ${healthy.status} ${healthy.body}`);
      return 1;
    }
    const ready = await get(`${target.baseUrl}/-/ready`, tls, 4000);
    if (ready.status === 401) {
      say(`${target.baseUrl}: healthy (readiness needs basic auth, not checked)`);
      return 0;
    }
    if (ready.status !== 200) {
      say(`${target.baseUrl}/-/ready: HTTP ${ready.status} ${ready.body}`);
      return 1;
    }
    say(`${target.baseUrl}: healthy and ready`);
    return 0;
  } catch (err) {
    say(`${target.baseUrl}: ${(err as Error).message}`);
    return 1;
  }
}
