import {
  copyFileSync,
  mkdirSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  symlinkSync,
} from 'node:fs';
import { request } from 'node:http';
import { join } from 'node:path';
import { run, sleep, startProcess, waitFor, type Proc } from './util.js';

export const BUSYBOX_IMAGE = 'local/busybox:1';
const APPLETS = ['sh', 'sleep', 'yes', 'true', 'false', 'head', 'cat', 'dd', 'echo'];

export interface DockerEngine {
  /** Temp dir holding the socket, data-root and exec-root. */
  dir: string;
  socket: string;
  /** `unix://…`, for DOCKER_HOST or `collectors.docker.host`. */
  host: string;
  proc: Proc;
  /** Runs the docker CLI against this engine; throws with its output on failure. */
  docker: (args: string[]) => Promise<string>;
  /** `docker run -d --network none --name NAME [flags] busybox CMD…`; returns the full container ID. */
  runContainer: (name: string, flags: string[], cmd: string[]) => Promise<string>;
  /** Engine API GET over the socket, parsed JSON. */
  api: <T>(path: string) => Promise<T>;
  /** Stops dockerd and its containerd (containers first); the directory stays until `cleanup`. */
  stopEngine: () => Promise<void>;
  /** Stops everything and removes the directory, unmounting what the engine mounted there. */
  cleanup: () => Promise<void>;
}

/** GET on a unix socket, JSON answer. */
function apiGet<T>(socket: string, path: string, timeoutMs = 5000): Promise<T> {
  return new Promise((resolve, reject) => {
    const req = request({ socketPath: socket, path, method: 'GET', timeout: timeoutMs }, (res) => {
      let body = '';
      res.on('data', (d: Buffer) => (body += d.toString()));
      res.on('end', () => {
        if ((res.statusCode ?? 500) >= 300) return reject(new Error(`${path}: ${res.statusCode} ${body}`));
        try {
          resolve(JSON.parse(body) as T);
        } catch {
          resolve(body as T);
        }
      });
    });
    req.on('timeout', () => req.destroy(new Error(`${path}: timeout`)));
    req.on('error', reject);
    req.end();
  });
}

/** PIDs whose command line mentions `dir` (dockerd, containerd, shims), plus all their descendants. */
function processesUnder(dir: string): number[] {
  const parent = new Map<number, number>();
  const roots: number[] = [];
  for (const entry of readdirSync('/proc')) {
    const pid = Number(entry);
    if (!Number.isInteger(pid) || pid === process.pid) continue;
    try {
      const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
      parent.set(pid, Number(stat.slice(stat.lastIndexOf(')') + 2).split(' ')[1]));
      if (readFileSync(`/proc/${pid}/cmdline`, 'utf8').includes(dir + '/')) roots.push(pid);
    } catch {
      // exited meanwhile
    }
  }
  const out = new Set(roots);
  let grew = true;
  while (grew) {
    grew = false;
    for (const [pid, ppid] of parent) {
      if (!out.has(pid) && out.has(ppid)) {
        out.add(pid);
        grew = true;
      }
    }
  }
  return [...out];
}

/** Mount points under `dir`, deepest first (overlays, netns bind mounts, the data-root bind mount). */
function mountsUnder(dir: string): string[] {
  return readFileSync('/proc/self/mounts', 'utf8')
    .split('\n')
    .map((l) =>
      (l.split(' ')[1] ?? '').replace(/\\([0-7]{3})/g, (_, o: string) => String.fromCharCode(parseInt(o, 8))),
    )
    .filter((mp) => mp === dir || mp.startsWith(dir + '/'))
    .sort((a, b) => b.length - a.length);
}

export interface DockerEngineOptions {
  /**
   * Runs the engine in a mount namespace of its own whose `/` is a shared mount, as on a
   * systemd host, so `-v /:/host:ro,rslave` is accepted even where the machine's `/` is private
   * (the engine refuses rslave there). Nothing the engine mounts is then visible outside it.
   */
  sharedRoot?: boolean;
}

/**
 * A real Docker engine (dockerd 20.10 from docker.io) with its own socket, data-root and a
 * short exec-root under a temp dir, no bridge and no iptables, and a busybox image imported
 * from the static /bin/busybox (no registry). One per test file.
 */
export async function startDockerEngine(opts: DockerEngineOptions = {}): Promise<DockerEngine> {
  // Short path: containerd's sockets live under the exec-root and must stay under ~100 characters.
  const dir = mkdtempSync('/tmp/swd-');
  const socket = join(dir, 'docker.sock');
  const host = `unix://${socket}`;
  // unshare execs dockerd in place, so the process handle is dockerd's either way.
  const [cmd, prefix] = opts.sharedRoot
    ? ['unshare', ['--mount', '--propagation', 'shared', 'dockerd']]
    : ['dockerd', []];
  const proc = startProcess(cmd, [
    ...prefix,
    `--host=${host}`,
    `--data-root=${join(dir, 'data')}`,
    `--exec-root=${join(dir, 'x')}`,
    `--pidfile=${join(dir, 'docker.pid')}`,
    '--iptables=false',
    '--ip-masq=false',
    '--bridge=none',
    // Containers that ignore SIGTERM (sh as PID 1) would hold a shutdown for 15 s.
    '--shutdown-timeout=1',
    '--log-level=warn',
  ]);
  const env = { ...process.env, DOCKER_HOST: host };
  const docker = async (args: string[]): Promise<string> => {
    const r = await run('docker', args, { env });
    if (r.code !== 0) throw new Error(`docker ${args.join(' ')}: exit ${r.code}: ${r.stderr}${r.stdout}`);
    return r.stdout.trim();
  };

  let stopped = false;
  const stopEngine = async () => {
    if (stopped) return;
    stopped = true;
    if (proc.child.exitCode === null && proc.child.signalCode === null) {
      try {
        const ids = await apiGet<{ Id: string }[]>(socket, '/containers/json?all=1');
        if (ids.length) await docker(['rm', '-f', '-v', ...ids.map((c) => c.Id)]);
      } catch {
        // engine already unhealthy: the process sweep below handles leftovers
      }
      await proc.stop('SIGTERM', 20_000);
    }
    // containerd and shims outlive a killed dockerd; they (and container processes) mention our dir.
    for (let i = 0; i < 20; i++) {
      const left = processesUnder(dir);
      if (left.length === 0) break;
      for (const pid of left) {
        try {
          process.kill(pid, 'SIGKILL');
        } catch {
          // gone
        }
      }
      await sleep(100);
    }
  };

  const cleanup = async () => {
    await stopEngine();
    for (const mp of mountsUnder(dir)) await run('umount', ['-l', mp]);
    for (let i = 0; i < 5; i++) {
      try {
        rmSync(dir, { recursive: true, force: true });
        return;
      } catch (err) {
        if (i === 4) throw err;
        await sleep(200);
      }
    }
  };

  try {
    await waitFor(
      async () => {
        if (proc.child.exitCode !== null)
          throw new Error(`dockerd exited ${proc.child.exitCode}: ${proc.output()}`);
        return (await apiGet<string>(socket, '/_ping', 1000)) === 'OK';
      },
      60_000,
      'dockerd to answer /_ping',
      200,
    );
    const rootfs = join(dir, 'rootfs');
    mkdirSync(join(rootfs, 'bin'), { recursive: true });
    copyFileSync('/bin/busybox', join(rootfs, 'bin', 'busybox'));
    for (const a of APPLETS) symlinkSync('busybox', join(rootfs, 'bin', a));
    const imported = await run('sh', ['-c', `tar -C '${rootfs}' -c . | docker import - ${BUSYBOX_IMAGE}`], {
      env,
    });
    if (imported.code !== 0) throw new Error(`docker import: ${imported.stderr}`);
  } catch (err) {
    await cleanup();
    throw err;
  }

  return {
    dir,
    socket,
    host,
    proc,
    docker,
    runContainer: async (name, flags, cmd) =>
      await docker(['run', '-d', '--network', 'none', '--name', name, ...flags, BUSYBOX_IMAGE, ...cmd]),
    api: (path) => apiGet(socket, path),
    stopEngine,
    cleanup,
  };
}
