import { createServer, type Server, type Socket } from 'node:net';
import { freePort, run, startProcess, tempDir, waitFor, type Proc } from './util.js';

export interface RedisOptions {
  /** Extra redis-server arguments, e.g. ['--requirepass', 'pw'] or ['--rename-command', 'CONFIG', '""']. */
  args?: string[];
  /** Credentials redis-cli uses (the `default` user's password, or an ACL user). */
  user?: string;
  password?: string;
}

export interface RedisHandle {
  port: number;
  /** redis://127.0.0.1:PORT, without credentials. */
  url: string;
  dir: string;
  /** The running server process (replaced by `start()` after a stop or kill). */
  proc: () => Proc;
  /** Runs redis-cli against this server and returns its trimmed stdout; throws on an error reply. */
  cli: (args: string[], opts?: { user?: string; password?: string; db?: number }) => Promise<string>;
  /** Graceful shutdown (SIGTERM). */
  stop: () => Promise<void>;
  /** Sudden death (SIGKILL). */
  kill: () => Promise<void>;
  /** SIGSTOP: the port still accepts connections, nothing answers. */
  pause: () => void;
  /** SIGCONT. */
  resume: () => void;
  /** Starts the server again on the same port (after stop or kill). */
  start: () => Promise<void>;
  /** Kills the server and removes its directory. */
  close: () => Promise<void>;
}

/** A throwaway Redis 7 on a free loopback port: no persistence, its own temp dir. */
export async function startRedis(opts: RedisOptions = {}): Promise<RedisHandle> {
  const port = await freePort();
  const dir = tempDir('swredis');
  const args = [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--daemonize',
    'no',
    '--dir',
    dir.path,
    ...(opts.args ?? []),
  ];
  let proc: Proc;
  const launch = async () => {
    proc = startProcess('redis-server', args);
    await waitFor(
      () => {
        if (proc.child.exitCode !== null) throw new Error(`redis-server exited: ${proc.output()}`);
        return proc.output().includes('Ready to accept connections');
      },
      15_000,
      'redis-server to accept connections',
      50,
    );
  };
  await launch();

  const cli: RedisHandle['cli'] = async (cmd, o = {}) => {
    const user = o.user ?? opts.user;
    const password = o.password ?? opts.password;
    const a = ['-h', '127.0.0.1', '-p', String(port), '--no-auth-warning'];
    if (user) a.push('--user', user);
    if (password) a.push('--pass', password);
    if (o.db !== undefined) a.push('-n', String(o.db));
    const r = await run('redis-cli', [...a, ...cmd], { stdio: ['ignore', 'pipe', 'pipe'] });
    const out = r.stdout.trim();
    if (r.code !== 0 || /^(ERR|WRONGPASS|NOAUTH|NOPERM|WRONGTYPE)\b/.test(out))
      throw new Error(`redis-cli ${cmd.join(' ')}: ${out} ${r.stderr}`);
    return out;
  };

  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    dir: dir.path,
    proc: () => proc,
    cli,
    stop: () => proc.stop('SIGTERM'),
    kill: () => proc.stop('SIGKILL'),
    pause: () => proc.child.kill('SIGSTOP'),
    resume: () => proc.child.kill('SIGCONT'),
    start: launch,
    close: async () => {
      proc.child.kill('SIGCONT');
      await proc.stop('SIGKILL');
      dir.cleanup();
    },
  };
}

/** Parses `redis-cli INFO` text into field → value. */
export function infoFields(text: string): Map<string, string> {
  const out = new Map<string, string>();
  for (const line of text.split(/\r?\n/)) {
    const i = line.indexOf(':');
    if (i > 0 && !line.startsWith('#')) out.set(line.slice(0, i), line.slice(i + 1));
  }
  return out;
}

export interface BlackholeHandle {
  port: number;
  url: string;
  /** Connections currently open to it. */
  open: () => number;
  /** Connections accepted since start. */
  accepted: () => number;
  close: () => Promise<void>;
}

/** A TCP server that accepts connections, reads, and never answers: a hung Redis behind a proxy. */
export async function startBlackhole(): Promise<BlackholeHandle> {
  const sockets = new Set<Socket>();
  let accepted = 0;
  const server: Server = createServer((s) => {
    accepted++;
    sockets.add(s);
    s.on('error', () => undefined);
    // Reads and discards requests, never answers, closes when the client does.
    s.resume();
    s.on('close', () => sockets.delete(s));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const port = (server.address() as { port: number }).port;
  return {
    port,
    url: `redis://127.0.0.1:${port}`,
    open: () => sockets.size,
    accepted: () => accepted,
    close: async () => {
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
