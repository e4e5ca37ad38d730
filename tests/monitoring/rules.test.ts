import { describe, it, expect } from 'vitest';
import { spawnSync } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { parse as parseYaml } from 'yaml';
import { loadRuleFiles, repoRoot, ruleFileNames, rulesDir } from '../support/promql.js';

const testsDir = join(rulesDir, 'tests');
const RUNBOOK_BASE = 'https://github.com/stackwatch/stackwatch/blob/main/docs/runbooks/';
const SERVICES = ['api', 'postgres', 'redis', 'docker', 'host', 'backup', 'agent', 'stackwatch'];

function run(cmd: string, args: string[], cwd = repoRoot) {
  const r = spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 60_000 });
  return { code: r.status, out: `${r.stdout ?? ''}${r.stderr ?? ''}` };
}

const allAlerts = loadRuleFiles().flatMap((rf) =>
  rf.groups.flatMap((g) =>
    g.rules.filter((r) => r.alert).map((r) => ({ file: rf.file, group: g.name, ...r, alert: r.alert! })),
  ),
);
/** The alert pipeline's heartbeat: it fires always, so it has no threshold, no for: and no severity of a page. */
const WATCHDOG = 'Watchdog';
const alerts = allAlerts.filter((a) => a.alert !== WATCHDOG);

/** The annotations every alert carries: a static summary, a templated description, a runbook that exists. */
function expectMixinAnnotations(a: (typeof allAlerts)[number]) {
  const ann = a.annotations ?? {};
  expect(Object.keys(ann).sort()).toEqual(['description', 'runbook_url', 'summary']);
  expect(ann.summary).not.toContain('{{');
  expect(ann.summary).toMatch(/^[A-Z].*\.$/);
  expect(ann.description).toMatch(/\{\{.*\}\}/);
  expect(ann.runbook_url!.startsWith(RUNBOOK_BASE)).toBe(true);
  const [file, anchor] = ann.runbook_url!.slice(RUNBOOK_BASE.length).split('#');
  expect(existsSync(join(repoRoot, 'docs', 'runbooks', file!)), file).toBe(true);
  expect(anchor).toBe(a.alert.toLowerCase());
  expect(runbookAnchors(file!).has(anchor!), `${file}#${anchor}`).toBe(true);
}

/** GitHub's heading anchor: lower-case, punctuation dropped, spaces to dashes. */
function githubSlug(heading: string): string {
  return heading
    .trim()
    .toLowerCase()
    .replace(/[^\p{L}\p{N}\s_-]/gu, '')
    .replace(/\s/g, '-');
}

function runbookAnchors(file: string): Set<string> {
  const text = readFileSync(join(repoRoot, 'docs', 'runbooks', file), 'utf8');
  return new Set(
    text
      .split('\n')
      .filter((l) => /^#{1,6}\s/.test(l))
      .map((l) => githubSlug(l.replace(/^#+\s*/, ''))),
  );
}

describe('promtool', () => {
  it('check rules is clean for every rule file', () => {
    const files = ruleFileNames().map((f) => join(rulesDir, f));
    expect(files.length).toBeGreaterThan(0);
    const r = run('promtool', ['check', 'rules', ...files]);
    expect(r.out).not.toMatch(/WARNING|FAILED/);
    expect(r.code, r.out).toBe(0);
  });

  it('test rules passes for every unit-test file', () => {
    const files = readdirSync(testsDir)
      .filter((f) => f.endsWith('.yml'))
      .map((f) => join(testsDir, f));
    expect(files.length).toBeGreaterThan(0);
    const r = run('promtool', ['test', 'rules', ...files]);
    expect(r.code, r.out).toBe(0);
    expect(r.out).not.toMatch(/FAILED/);
  });

  it('every rule file has a unit-test file that loads it', () => {
    for (const f of ruleFileNames()) {
      const testFile = join(testsDir, f.replace(/\.ya?ml$/, '.test.yml'));
      expect(existsSync(testFile), testFile).toBe(true);
      const doc = parseYaml(readFileSync(testFile, 'utf8')) as { rule_files: string[] };
      expect(doc.rule_files).toContain(`../${f}`);
    }
  });
});

describe('alert conventions (mixin style)', () => {
  it('has alerts', () => expect(alerts.length).toBeGreaterThan(20));

  it('groups have at most 20 rules and unique names', () => {
    const names = loadRuleFiles().flatMap((rf) => rf.groups.map((g) => g.name));
    expect(new Set(names).size).toBe(names.length);
    for (const rf of loadRuleFiles())
      for (const g of rf.groups) expect(g.rules.length, g.name).toBeLessThanOrEqual(20);
  });

  it.each(alerts.map((a) => [`${a.alert} (${a.labels?.severity})`, a] as const))('%s', (_, a) => {
    expect(a.alert).toMatch(/^[A-Z][A-Za-z0-9]*$/);
    expect(a.alert.length).toBeLessThanOrEqual(40);
    expect(['critical', 'warning']).toContain(a.labels?.severity);
    expect(SERVICES).toContain(a.labels?.service);
    expect(a.for, 'every alert waits before firing').toMatch(/^[1-9]\d*[smh]$/);
    expectMixinAnnotations(a);
  });

  it('the Watchdog is one alert, always firing from the first evaluation, with a severity of its own', () => {
    const [w, ...more] = allAlerts.filter((a) => a.alert === WATCHDOG);
    expect(more).toEqual([]);
    expect(w!.expr.trim()).toBe('vector(1)');
    expect(w!.for).toBeUndefined();
    // Not a page: no route by severity takes it, and no inhibition by critical touches it.
    expect(w!.labels).toEqual({ severity: 'none' });
    expectMixinAnnotations(w!);
  });

  it('an alert defined at two severities keeps the same service and runbook', () => {
    const byName = new Map<string, typeof alerts>();
    for (const a of alerts) byName.set(a.alert, [...(byName.get(a.alert) ?? []), a]);
    for (const [name, list] of byName) {
      expect(new Set(list.map((a) => a.labels?.severity)).size, name).toBe(list.length);
      expect(new Set(list.map((a) => a.labels?.service)).size, name).toBe(1);
      expect(new Set(list.map((a) => a.annotations?.runbook_url)).size, name).toBe(1);
    }
  });
});

describe('SPEC §3.1 coverage', () => {
  // Each row of the table, as the alert (and severity) that implements it.
  const rows: [string, string, 'critical' | 'warning'][] = [
    ['API response time P95 > 2 s', 'ApiHighLatency', 'warning'],
    ['API response time P95 > 5 s', 'ApiHighLatency', 'critical'],
    ['API error rate > 1 %', 'ApiHighErrorRatio', 'warning'],
    ['API error rate > 5 %', 'ApiHighErrorRatio', 'critical'],
    ['request volume < 10 req/min', 'ApiLowRequestVolume', 'warning'],
    ['memory usage > 85 %', 'HostHighMemoryUsage', 'warning'],
    ['memory usage > 95 %', 'HostHighMemoryUsage', 'critical'],
    ['CPU usage > 80 %', 'HostHighCpuUsage', 'warning'],
    ['disk space free < 20 %', 'DiskSpaceLow', 'warning'],
    ['disk space free < 10 %', 'DiskSpaceLow', 'critical'],
    ['Redis memory > 90 %', 'RedisHighMemoryUsage', 'warning'],
    ['PostgreSQL connections > 80', 'PostgresTooManyConnections', 'warning'],
    ['TaskFailed', 'TaskFailed', 'critical'],
    ['HighLatency', 'HighLatency', 'warning'],
    ['LLMErrorRate (as a ratio)', 'LLMErrorRate', 'warning'],
    ['active tasks > 100', 'AgentTooManyActiveTasks', 'warning'],
    ['health probe failing', 'HealthProbeFailing', 'critical'],
    ['container not running', 'ContainerNotRunning', 'critical'],
    ['container restarting', 'ContainerRestarting', 'critical'],
    ['pg_up == 0', 'PostgresDown', 'critical'],
    ['redis_up == 0', 'RedisDown', 'critical'],
    ['backup older than its schedule', 'BackupTooOld', 'warning'],
    ['backup fails integrity check', 'BackupIntegrityCheckFailed', 'critical'],
    ['TLS certificate < 14 days', 'TLSCertificateExpiring', 'warning'],
    ['TLS certificate < 3 days', 'TLSCertificateExpiring', 'critical'],
    ['PostgreSQL waiting locks', 'PostgresLocksWaiting', 'warning'],
    ['PostgreSQL blocked sessions', 'PostgresSessionsBlocked', 'warning'],
    ['PostgreSQL long-running transaction', 'PostgresLongRunningTransaction', 'warning'],
    ['PostgreSQL deadlocks', 'PostgresDeadlocks', 'warning'],
    ["exporter's own collector failing", 'StackwatchCollectorFailing', 'warning'],
    ['receiver: notifications failing', 'StackwatchNotificationsFailing', 'critical'],
    ['receiver: dead letters present', 'StackwatchDeadLetters', 'critical'],
  ];
  it.each(rows)('%s → %s (%s)', (_, name, severity) => {
    expect(alerts.some((a) => a.alert === name && a.labels?.severity === severity)).toBe(true);
  });

  it('the PostgreSQL-down alert is PostgresDown with service="postgres" (DBA routing)', () => {
    const a = alerts.find((x) => x.alert === 'PostgresDown')!;
    expect(a.labels).toMatchObject({ severity: 'critical', service: 'postgres' });
    expect(a.expr.replace(/\s/g, '')).toBe('pg_up==0');
  });

  it("LLM errors are a ratio of calls, not the guide's per-second rate", () => {
    const rec = loadRuleFiles()
      .flatMap((rf) => rf.groups.flatMap((g) => g.rules))
      .find((r) => r.record === 'job:llm_api_error_ratio:rate5m')!;
    expect(rec.expr).toMatch(/llm_api_errors_total[\s\S]*\/[\s\S]*llm_api_calls_total[\s\S]*> 0/);
  });
});

describe('unit-test coverage of every alert', () => {
  interface Exp {
    exp_labels?: Record<string, string>;
    exp_annotations?: Record<string, string>;
  }
  interface AlertTest {
    eval_time: string;
    alertname: string;
    exp_alerts?: Exp[];
  }
  const cases: AlertTest[] = readdirSync(testsDir)
    .filter((f) => f.endsWith('.yml'))
    .flatMap((f) => {
      const doc = parseYaml(readFileSync(join(testsDir, f), 'utf8')) as {
        tests: { alert_rule_test?: AlertTest[] }[];
      };
      return doc.tests.flatMap((t) => t.alert_rule_test ?? []);
    });
  const seconds = (d: string) => {
    const m = /^(\d+)([smhd])$/.exec(d)!;
    return Number(m[1]) * { s: 1, m: 60, h: 3600, d: 86_400 }[m[2] as 's' | 'm' | 'h' | 'd'];
  };

  it.each(alerts.map((a) => [`${a.alert} (${a.labels?.severity})`, a] as const))(
    '%s fires in a test',
    (_, a) => {
      const firing = cases.filter(
        (c) =>
          c.alertname === a.alert &&
          (c.exp_alerts ?? []).some((e) => e.exp_labels?.severity === a.labels?.severity),
      );
      expect(firing.length).toBeGreaterThan(0);
      // the test names every annotation, so a changed template cannot pass unnoticed
      for (const c of firing)
        for (const e of c.exp_alerts!)
          expect(Object.keys(e.exp_annotations ?? {}).sort()).toEqual([
            'description',
            'runbook_url',
            'summary',
          ]);
    },
  );

  it('the Watchdog is shown firing at the first evaluation and a day later', () => {
    const firingAt = cases
      .filter((c) => c.alertname === WATCHDOG && (c.exp_alerts ?? []).length === 1)
      .map((c) => seconds(c.eval_time));
    expect(firingAt).toEqual(expect.arrayContaining([0, 86_400]));
    expect(cases.filter((c) => c.alertname === WATCHDOG && !(c.exp_alerts ?? []).length)).toEqual([]);
  });

  it.each([...new Set(alerts.map((a) => a.alert))])(
    '%s is shown not firing before its for: elapsed',
    (name) => {
      const forSeconds = Math.min(...alerts.filter((a) => a.alert === name).map((a) => seconds(a.for!)));
      const quiet = cases.filter((c) => c.alertname === name && (c.exp_alerts ?? []).length === 0);
      expect(quiet.length).toBeGreaterThan(0);
      const firstFiring = Math.min(
        ...cases
          .filter((c) => c.alertname === name && (c.exp_alerts ?? []).length > 0)
          .map((c) => seconds(c.eval_time)),
      );
      // an empty expectation earlier than the first firing one, and no sooner than for: allows
      expect(quiet.some((c) => seconds(c.eval_time) < firstFiring)).toBe(true);
      expect(firstFiring).toBeGreaterThanOrEqual(forSeconds);
    },
  );
});
