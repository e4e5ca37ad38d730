import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { applicationHistograms, applicationMetricNames } from '../support/exporter-metric-names.js';
import { startFakeApp, type FakeAppHandle } from '../support/fakeapp.js';
import { samples, typeOf } from '../support/exposition.js';
import { run } from '../support/util.js';

describe('fake application', () => {
  let app: FakeAppHandle;
  beforeAll(async () => {
    app = await startFakeApp();
  });
  afterAll(async () => {
    await app?.close();
  });

  it('answers the health endpoints and the agents status', async () => {
    for (const path of ['/health', '/health/db', '/health/redis']) {
      const res = await fetch(app.url + path);
      expect(res.status).toBe(200);
      expect(await res.json()).toEqual({ status: 'ok' });
    }
    expect(await (await fetch(app.url + '/api/agents/status')).json()).toEqual({
      agents: [
        { name: 'planner', status: 'running' },
        { name: 'coder', status: 'running' },
        { name: 'reviewer', status: 'running' },
      ],
    });
    expect((await fetch(app.url + '/nope')).status).toBe(404);
  });

  it('exports every application metric the rules and dashboards use, valid for promtool', async () => {
    const text = await (await fetch(app.url + '/metrics')).text();
    for (const name of applicationMetricNames) {
      const series = (applicationHistograms as readonly string[]).includes(name) ? `${name}_bucket` : name;
      expect(typeOf(text, name), name).toBeDefined();
      expect(samples(text, series).length, series).toBeGreaterThan(0);
    }
    const r = await run('promtool', ['check', 'metrics'], { input: text });
    // The platform's two counters without _total (SPEC §1.3) are the only remarks.
    expect((r.stdout + r.stderr).trim().split('\n').sort()).toEqual([
      'agent_tasks_completed counter metrics should have "_total" suffix',
      'agent_tasks_failed counter metrics should have "_total" suffix',
    ]);
  });

  it('takes metric values and failures through the control endpoint', async () => {
    const post = (body: unknown) =>
      fetch(app.url + '/-/control', { method: 'POST', body: JSON.stringify(body) }).then((r) => r.status);
    expect(
      await post({
        inc: { agent_tasks_total: 10, agent_tasks_completed: 9, agent_tasks_failed: 1 },
        set: { agent_tasks_active: 3, system_cpu_usage: 0.5 },
        observe: { llm_api_duration_seconds: [0.7, 1.5] },
        requests: [{ code: '500', seconds: 0.2, count: 4 }],
        route: '/health/redis',
        reply: { status: 503 },
      }),
    ).toBe(200);
    expect(await post({ inc: { no_such_metric: 1 } })).toBe(400);
    const text = await (await fetch(app.url + '/metrics')).text();
    expect(samples(text, 'agent_tasks_total')).toEqual([{ labels: {}, value: 10 }]);
    expect(samples(text, 'agent_tasks_active')).toEqual([{ labels: {}, value: 3 }]);
    expect(samples(text, 'llm_api_duration_seconds_count')).toEqual([{ labels: {}, value: 2 }]);
    expect(
      samples(text, 'http_request_duration_seconds_count').find((s) => s.labels.code === '500')?.value,
    ).toBe(4);
    expect((await fetch(app.url + '/health/redis')).status).toBe(503);
    app.reset();
    expect((await fetch(app.url + '/health/redis')).status).toBe(200);
  });

  it('frees its port when closed', async () => {
    const other = await startFakeApp();
    await other.close();
    await expect(fetch(other.url + '/health')).rejects.toMatchObject({ cause: { code: 'ECONNREFUSED' } });
  });
});
