// The PostgreSQL test harness itself: it starts a real server, answers, survives the faults
// other tests put it through (stop, kill, pause) and leaves nothing behind.
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import pg from 'pg';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { startPostgres, type PostgresServer } from '../support/postgres.js';

/** Whether a process exists and is not a zombie (this machine's init reaps late). */
function running(pid: number): boolean {
  try {
    return !/\) Z /.test(readFileSync(`/proc/${pid}/stat`, 'utf8'));
  } catch {
    return false;
  }
}

describe('PostgreSQL harness', () => {
  let server: PostgresServer;
  beforeAll(async () => {
    server = await startPostgres();
  });
  afterAll(async () => {
    await server?.destroy();
  });

  it('runs PostgreSQL 15 on loopback with pg_stat_statements', async () => {
    expect(await server.psql('show server_version_num')).toMatch(/^15\d{4}$/);
    expect(await server.psql("select extname from pg_extension where extname = 'pg_stat_statements'")).toBe(
      'pg_stat_statements',
    );
    expect(Number(await server.psql('select count(*) from pg_stat_statements'))).toBeGreaterThan(0);
    const client = new pg.Client({ connectionString: server.dsn('postgres', 'any-password') });
    await client.connect();
    expect((await client.query('select 1 as one')).rows).toEqual([{ one: 1 }]);
    await client.end();
  });

  it('stops and starts on the same port with its data', async () => {
    await server.psql('create table kept(x int); insert into kept values (7)');
    await server.stop();
    await expect(server.psql('select 1')).rejects.toThrow(/psql failed.*Connection refused/s);
    await server.start();
    expect(await server.psql('select x from kept')).toBe('7');
  });

  it('dies on kill and recovers on start', async () => {
    await server.kill();
    await expect(server.psql('select 1')).rejects.toThrow(/psql failed.*Connection refused/s);
    await server.start();
    expect(await server.psql('select x from kept')).toBe('7');
  });

  it('pauses every process so that a connection hangs, and resumes', async () => {
    const client = new pg.Client({ connectionString: server.dsn(), connectionTimeoutMillis: 1000 });
    await client.connect();
    await server.pause();
    const pid = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    expect(readFileSync(`/proc/${pid}/stat`, 'utf8')).toMatch(/\) T /);
    const fresh = new pg.Client({ connectionString: server.dsn(), connectionTimeoutMillis: 1000 });
    await expect(fresh.connect()).rejects.toThrow(/timeout/i);
    await server.resume();
    expect((await client.query('select 2 as two')).rows).toEqual([{ two: 2 }]);
    await client.end();
  });

  it('removes its directory and processes on destroy', async () => {
    const pid = Number(readFileSync(join(server.dir, 'data', 'postmaster.pid'), 'utf8').split('\n')[0]);
    await server.destroy();
    expect(existsSync(server.dir)).toBe(false);
    expect(running(pid)).toBe(false);
  });
});
