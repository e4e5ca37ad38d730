// Hostile-input benchmark: how long /-/healthy and an ordinary webhook wait while webhooks of
// adversarial label shapes at the body limit, or a flood of wrong basic-auth passwords, are
// being handled; each beside the same request on an idle process, alternating. Run with
// `npm run bench -- hostile`; writes the `## Hostile input` section of docs/BENCHMARKS.md.
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import bcrypt from 'bcryptjs';
import { startStackwatch } from '../tests/support/stackwatch.js';
import { tempDir } from '../tests/support/util.js';
import { webhook } from '../tests/support/webhooks.js';
import { machineNote, median, writeSection } from './_lib.js';

const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 20);
const TOKEN = 'bench-token';
const LABEL = 63 * 1024;

const p95 = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(0.95 * (xs.length - 1))] as number;
const fmt = (xs: number[]) => `median ${median(xs).toFixed(1)} ms, p95 ${p95(xs).toFixed(1)} ms`;

async function timed(f: () => Promise<Response>): Promise<number> {
  const t = performance.now();
  const res = await f();
  await res.arrayBuffer();
  if (res.status >= 500) throw new Error(`status ${res.status}`);
  return performance.now() - t;
}

/** Alertmanager-shaped webhook whose area labels and group key are `value`, in three alerts. */
function hostileBody(value: string): string {
  const base = webhook({ alertname: 'Hostile' });
  const labels = { alertname: value, service: value, component: value, job: value };
  return JSON.stringify({
    ...base,
    groupKey: value,
    commonLabels: {},
    groupLabels: {},
    alerts: [0, 1, 2].map((i) => ({ ...base.alerts[0], labels: { ...labels, instance: `i-${i}` } })),
  });
}

const SHAPES: [string, string][] = [
  ['capital run', 'A'.repeat(LABEL)],
  ['name-character run', 'a'.repeat(LABEL)],
  ['alternating case', 'aA'.repeat(LABEL / 2)],
  ['unterminated quotes', 'a="\\'.repeat(LABEL / 4)],
];

async function main(): Promise<void> {
  const tmp = tempDir('swbench');
  const webConfig = join(tmp.path, 'web-config.yml');
  writeFileSync(webConfig, `basic_auth_users:\n  prometheus: ${bcrypt.hashSync('right', 10)}\n`);
  const sw = await startStackwatch({
    args: [`--web.config.file=${webConfig}`],
    config: `receiver:\n  webhook_token: ${TOKEN}\n  escalation:\n    enabled: false\n`,
  });
  const post = (body: string) =>
    fetch(`${sw.url}/api/v1/alerts`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', authorization: `Bearer ${TOKEN}` },
      body,
    });
  const healthy = () => fetch(`${sw.url}/-/healthy`);
  const wrongPassword = (i: number) =>
    fetch(`${sw.url}/metrics`, {
      headers: { authorization: `Basic ${Buffer.from(`prometheus:wrong${i}`).toString('base64')}` },
    });
  let n = 0;
  const ordinary = () => post(JSON.stringify(webhook({ alertname: `Ordinary${n++}` })));

  const rows: string[] = [];
  try {
    const idle: number[] = [];
    const during: number[] = [];
    const hostileMs = new Map<string, number[]>(SHAPES.map(([name]) => [name, []]));
    for (let r = 0; r < ROUNDS; r++) {
      idle.push(await timed(healthy));
      for (const [name, value] of SHAPES) {
        const pending = timed(() => post(hostileBody(value)));
        await new Promise((res) => setTimeout(res, 5));
        during.push(await timed(healthy));
        hostileMs.get(name)?.push(await pending);
      }
    }
    rows.push(`| /-/healthy, idle | ${fmt(idle)} |`);
    rows.push(`| /-/healthy, sent 5 ms after a hostile webhook | ${fmt(during)} |`);
    for (const [name, xs] of hostileMs) rows.push(`| hostile webhook (${name}), ~800 KiB | ${fmt(xs)} |`);

    const hookIdle: number[] = [];
    const hookFlood: number[] = [];
    const refusals: number[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      hookIdle.push(await timed(ordinary));
      const flood = Array.from({ length: 30 }, (_, i) => timed(() => wrongPassword(i)));
      hookFlood.push(await timed(ordinary));
      refusals.push(...(await Promise.all(flood)));
    }
    rows.push(`| ordinary webhook, idle | ${fmt(hookIdle)} |`);
    rows.push(`| ordinary webhook during 30 wrong basic-auth passwords | ${fmt(hookFlood)} |`);
    rows.push(`| each of those 30 refusals (401, or 429 beyond 8 checks in progress) | ${fmt(refusals)} |`);
  } finally {
    await sw.stop();
    tmp.cleanup();
  }

  const body = `\`npm run bench -- hostile\` (${machineNote()}; ${ROUNDS} rounds, one stackwatch process, SQLite
outbox, basic auth with a bcrypt cost of 10). Each hostile webhook has three alerts whose four
area labels and the group key are one 63 KiB run of the shape named.

| Measure | Result |
|---|---|
${rows.join('\n')}

Before the fix, measured by the test in \`tests/foundation/hostile.test.ts\`: the capital-run
webhook took 56 s while every other request waited, and 30 wrong passwords delayed a webhook
until all 30 bcrypt comparisons had run on the event loop (it was answered last).
`;
  writeSection('Hostile input', body);
  process.stdout.write(body);
}

await main();
