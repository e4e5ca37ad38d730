import { chownSync, readdirSync, readFileSync } from 'node:fs';
import { userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort, run, tempDir, waitFor } from './util.js';

const BIN = '/usr/lib/postgresql/15/bin';

export interface PostgresServer {
  host: string;
  port: number;
  /** Temp dir holding the data directory, the socket and the server log. */
  dir: string;
  /** `postgres://user[:password]@127.0.0.1:port/db`; the server trusts loopback, so any password works. */
  dsn: (db?: string, password?: string) => string;
  /** Runs SQL through psql (unaligned, tuples only) and returns its trimmed output; throws on error. */
  psql: (sql: string, db?: string) => Promise<string>;
  /** The server log, for diagnostics. */
  log: () => string;
  /** Starts the server again on the same port and data directory. */
  start: () => Promise<void>;
  /** Fast shutdown (what `systemctl stop` does). */
  stop: () => Promise<void>;
  /** SIGKILL to the postmaster and every backend: the server dies without a word. */
  kill: () => Promise<void>;
  /** SIGSTOP to the postmaster and every backend: connections are accepted by the kernel, never answered. */
  pause: () => Promise<void>;
  resume: () => Promise<void>;
  /** Stops the server (whatever its state) and removes its directory. */
  destroy: () => Promise<void>;
}

const asRoot = userInfo().uid === 0;

/** Runs a PostgreSQL binary as the postgres user when we are root (the server refuses root). */
async function pgRun(bin: string, args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  return asRoot
    ? run('runuser', ['-u', 'postgres', '--', join(BIN, bin), ...args])
    : run(join(BIN, bin), args);
}

/** The postmaster and all its children, from /proc (backends are direct children of the postmaster). */
function serverPids(postmaster: number): number[] {
  const pids = [postmaster];
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue;
    try {
      const stat = readFileSync(`/proc/${entry}/stat`, 'utf8');
      // Field 4 (after the parenthesised command, which may hold spaces) is the parent pid.
      const ppid = Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]);
      if (ppid === postmaster) pids.push(Number(entry));
    } catch {
      // The process exited while we looked.
    }
  }
  return pids;
}

/**
 * A throwaway PostgreSQL 15 on a free loopback port: initdb in a temp dir, trust auth,
 * pg_stat_statements preloaded and created in the `postgres` database.
 */
export async function startPostgres(
  opts: { settings?: Record<string, string> } = {},
): Promise<PostgresServer> {
  const tmp = tempDir('swpg');
  const dir = tmp.path;
  if (asRoot) chownSync(dir, uidOf('postgres'), -1);
  const data = join(dir, 'data');
  const logFile = join(dir, 'server.log');
  const port = await freePort();
  const init = await pgRun('initdb', [
    '-D',
    data,
    '-A',
    'trust',
    '-U',
    'postgres',
    '-E',
    'UTF8',
    '--locale=C',
    '--no-sync',
  ]);
  if (init.code !== 0) throw new Error(`initdb failed: ${init.stderr}`);

  const settings: Record<string, string> = {
    listen_addresses: '127.0.0.1',
    shared_preload_libraries: 'pg_stat_statements',
    fsync: 'off',
    full_page_writes: 'off',
    synchronous_commit: 'off',
    ...opts.settings,
  };
  const serverOpts = [
    `-p ${port}`,
    `-k ${dir}`,
    ...Object.entries(settings).map(([k, v]) => `-c ${k}=${v}`),
  ].join(' ');

  const postmasterPid = (): number | undefined => {
    try {
      return Number(readFileSync(join(data, 'postmaster.pid'), 'utf8').split('\n')[0]);
    } catch {
      return undefined;
    }
  };

  const psql = async (sql: string, db = 'postgres'): Promise<string> => {
    const r = await run('psql', [
      '-X',
      '-A',
      '-t',
      '-q',
      '-v',
      'ON_ERROR_STOP=1',
      '-h',
      '127.0.0.1',
      '-p',
      String(port),
      '-U',
      'postgres',
      '-d',
      db,
      '-c',
      sql,
    ]);
    if (r.code !== 0) throw new Error(`psql failed (${r.code}): ${r.stderr}`);
    return r.stdout.trim();
  };

  const start = async () => {
    const r = await pgRun('pg_ctl', ['-D', data, '-l', logFile, '-o', serverOpts, '-w', '-t', '60', 'start']);
    if (r.code !== 0) throw new Error(`pg_ctl start failed: ${r.stdout}${r.stderr}\n${readLog()}`);
    await waitFor(async () => (await psql('select 1')) === '1', 30_000, 'postgres to answer');
  };
  const readLog = () => {
    try {
      return readFileSync(logFile, 'utf8');
    } catch {
      return '';
    }
  };
  const signalAll = (signal: NodeJS.Signals): number[] => {
    const pm = postmasterPid();
    if (!pm) return [];
    const pids = serverPids(pm);
    for (const pid of pids) {
      try {
        process.kill(pid, signal);
      } catch {
        // Already gone.
      }
    }
    return pids;
  };
  const isRunning = () => {
    const pm = postmasterPid();
    if (!pm) return false;
    try {
      process.kill(pm, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async () => {
    if (!isRunning()) return;
    await pgRun('pg_ctl', ['-D', data, '-m', 'fast', '-w', '-t', '60', 'stop']);
  };
  const kill = async () => {
    const pm = postmasterPid();
    if (!pm) return;
    const pids = serverPids(pm);
    signalAll('SIGKILL');
    await waitFor(
      () =>
        pids.every((pid) => {
          try {
            process.kill(pid, 0);
            return false;
          } catch {
            return true;
          }
        }),
      10_000,
      'postgres processes to die',
    );
  };

  await start();
  await psql('create extension if not exists pg_stat_statements');
  return {
    host: '127.0.0.1',
    port,
    dir,
    dsn: (db = 'postgres', password?: string) =>
      `postgres://postgres${password ? ':' + encodeURIComponent(password) : ''}@127.0.0.1:${port}/${db}`,
    psql,
    log: readLog,
    start,
    stop,
    kill,
    pause: async () => {
      const pids = signalAll('SIGSTOP');
      await waitFor(
        () => pids.every((pid) => procState(pid) !== 'R' && procState(pid) !== 'S'),
        10_000,
        'stopped',
      );
    },
    resume: async () => {
      const pids = signalAll('SIGCONT');
      await waitFor(() => pids.every((pid) => procState(pid) !== 'T'), 10_000, 'resumed');
    },
    destroy: async () => {
      signalAll('SIGCONT');
      await stop();
      if (isRunning()) await kill();
      tmp.cleanup();
    },
  };
}

/** A process's state letter from /proc (R running, S sleeping, T stopped, Z zombie); `gone` if it exited. */
function procState(pid: number): string {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[0] as string;
  } catch {
    return 'gone';
  }
}

function uidOf(user: string): number {
  const line = readFileSync('/etc/passwd', 'utf8')
    .split('\n')
    .find((l) => l.startsWith(`${user}:`));
  if (!line) throw new Error(`no ${user} user on this machine`);
  return Number(line.split(':')[2]);
}
