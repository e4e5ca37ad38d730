import { spawn, type ChildProcess, type SpawnOptions } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

// Ports handed out for a server a test starts later. They are taken below the kernel's
// ephemeral range, so the servers other test files start on port 0 (and their outgoing
// connections) can never be given the same port between this reservation and its use.
function reservablePorts(): { low: number; high: number } {
  try {
    const low = Number(readFileSync('/proc/sys/net/ipv4/ip_local_port_range', 'utf8').trim().split(/\s+/)[0]);
    if (low > 12_000) return { low: 10_000, high: low - 1 };
  } catch {
    // not Linux: fall back to the top of the port space, above the usual ephemeral ranges
  }
  return { low: 61_000, high: 65_000 };
}

function canListen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const srv = createServer();
    srv.once('error', () => resolve(false));
    srv.listen(port, '127.0.0.1', () => srv.close(() => resolve(true)));
  });
}

/** A free TCP port on loopback, for a server that must know its own address before it starts. */
export async function freePort(): Promise<number> {
  const { low, high } = reservablePorts();
  for (let attempt = 0; attempt < 200; attempt++) {
    const port = low + Math.floor(Math.random() * (high - low + 1));
    if (await canListen(port)) return port;
  }
  throw new Error(`no free port between ${low} and ${high} on 127.0.0.1`);
}

/** A temp dir removed by the returned cleanup. Short paths: unix sockets fail past ~100 chars. */
export function tempDir(prefix = 'sw'): { path: string; cleanup: () => void } {
  const path = mkdtempSync(join(tmpdir(), `${prefix}-`));
  return { path, cleanup: () => rmSync(path, { recursive: true, force: true }) };
}

export const sleep = (ms: number) => new Promise<void>((r) => setTimeout(r, ms));

/** Polls `fn` until it returns a truthy value (or stops throwing); throws the last error on timeout. */
export async function waitFor<T>(
  fn: () => T | Promise<T>,
  timeoutMs = 10_000,
  what = 'condition',
  intervalMs = 100,
): Promise<NonNullable<T>> {
  const end = Date.now() + timeoutMs;
  let last: unknown;
  for (;;) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    if (Date.now() > end)
      throw new Error(
        `timed out after ${timeoutMs} ms waiting for ${what}${last ? `: ${String(last)}` : ''}`,
      );
    await sleep(intervalMs);
  }
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  /** Resolves with the exit code (or signal) once the process has exited. */
  exited: Promise<number | string>;
  stop: (signal?: NodeJS.Signals, graceMs?: number) => Promise<void>;
}

/** Spawns a server process, keeping its combined output for diagnostics. */
export function startProcess(cmd: string, args: string[], opts: SpawnOptions = {}): Proc {
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'], ...opts });
  let out = '';
  child.stdout?.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (out += d.toString()));
  const exited = new Promise<number | string>((resolve) => {
    child.once('exit', (code, signal) => resolve(code ?? signal ?? -1));
    child.once('error', (err) => {
      out += `spawn error: ${err.message}\n`;
      resolve(-1);
    });
  });
  // A detached child leads its own process group: stop signals the whole group (npm and the
  // node it starts) and waits until none of it is left.
  const group = opts.detached === true && child.pid !== undefined ? child.pid : undefined;
  const signal = (sig: NodeJS.Signals) => {
    try {
      if (group !== undefined) process.kill(-group, sig);
      else child.kill(sig);
    } catch {
      // already gone
    }
  };
  const groupAlive = () => {
    if (group === undefined) return false;
    try {
      process.kill(-group, 0);
      return true;
    } catch {
      return false;
    }
  };
  const stop = async (sig: NodeJS.Signals = 'SIGTERM', graceMs = 5000) => {
    if (child.exitCode === null && child.signalCode === null) {
      signal(sig);
      const timer = setTimeout(() => signal('SIGKILL'), graceMs);
      await exited;
      clearTimeout(timer);
    } else if (!groupAlive()) return;
    if (groupAlive()) {
      signal(sig);
      const gone = () => !groupAlive() || undefined;
      await waitFor(gone, graceMs, 'the process group to exit').catch(async () => {
        // A member slower than the grace period is killed, and waited for: a killed process is
        // still listed until the kernel has torn it down, and the suite's end-of-run check
        // must not find it.
        signal('SIGKILL');
        // (An unreaped zombie still counts as a member, so this wait is bounded and quiet.)
        await waitFor(gone, graceMs, 'the killed process group to exit').catch(() => undefined);
      });
    }
  };
  return { child, output: () => out, exited, stop };
}

/** Runs a command to completion and returns its exit code and output. */
export async function run(
  cmd: string,
  args: string[],
  opts: SpawnOptions & { input?: string } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return await new Promise((resolve) => {
    const child = spawn(cmd, args, { stdio: ['pipe', 'pipe', 'pipe'], ...opts });
    let stdout = '';
    let stderr = '';
    child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
    child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
    child.once('error', (err) => resolve({ code: -1, stdout, stderr: stderr + err.message }));
    child.once('close', (code) => resolve({ code: code ?? -1, stdout, stderr }));
    // A child that exits without reading its input closes the pipe (EPIPE): its exit code and
    // output are the result. Anything else is reported with them.
    child.stdin?.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code !== 'EPIPE') stderr += `stdin: ${err.message}\n`;
    });
    child.stdin?.end(opts.input ?? '');
  });
}
