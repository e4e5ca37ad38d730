import { existsSync } from 'node:fs';
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { startBlackhole, startRedis } from '../support/redis.js';

/** PING over a raw socket with a deadline: '+PONG' or 'timeout'. */
async function ping(port: number, ms = 1000): Promise<string> {
  return await new Promise((resolve) => {
    const s = connect(port, '127.0.0.1');
    const timer = setTimeout(() => {
      s.destroy();
      resolve('timeout');
    }, ms);
    s.on('error', (e: NodeJS.ErrnoException) => {
      clearTimeout(timer);
      resolve(e.code ?? 'error');
    });
    s.on('connect', () => s.write('PING\r\n'));
    s.on('data', (d) => {
      clearTimeout(timer);
      s.destroy();
      resolve(d.toString().trim());
    });
  });
}

describe('Redis test harness', () => {
  it('starts a real Redis 7, pauses, kills, restarts on the same port and cleans up', async () => {
    const r = await startRedis();
    try {
      expect(await r.cli(['INFO', 'server'])).toMatch(/redis_version:7\./);
      await r.cli(['SET', 'k', 'v']);
      expect(await r.cli(['GET', 'k'])).toBe('v');
      // No persistence: a restart starts empty.
      expect(await r.cli(['CONFIG', 'GET', 'save'])).toBe('save');

      r.pause();
      expect(await ping(r.port, 300)).toBe('timeout');
      r.resume();
      expect(await ping(r.port)).toBe('+PONG');

      await r.kill();
      expect(await ping(r.port)).toBe('ECONNREFUSED');
      await r.start();
      expect(await ping(r.port)).toBe('+PONG');
      expect(await r.cli(['DBSIZE'])).toBe('0');
    } finally {
      await r.close();
    }
    expect(r.proc().child.exitCode !== null || r.proc().child.signalCode !== null).toBe(true);
    expect(existsSync(r.dir)).toBe(false);
  });

  it('passes extra arguments: requirepass and a renamed-away CONFIG', async () => {
    const r = await startRedis({
      args: ['--requirepass', 'pw1', '--rename-command', 'CONFIG', ''],
      password: 'pw1',
    });
    try {
      expect(await r.cli(['PING'])).toBe('PONG');
      await expect(r.cli(['PING'], { password: 'wrong' })).rejects.toThrow(/WRONGPASS/);
      await expect(r.cli(['CONFIG', 'GET', 'maxmemory'])).rejects.toThrow(/unknown command/);
    } finally {
      await r.close();
    }
  });

  it('a blackhole accepts connections and never answers', async () => {
    const b = await startBlackhole();
    try {
      expect(await ping(b.port, 300)).toBe('timeout');
      expect(b.accepted()).toBe(1);
    } finally {
      await b.close();
    }
  });
});
