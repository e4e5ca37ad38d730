import {
  appendFileSync,
  copyFileSync,
  readFileSync,
  renameSync,
  rmSync,
  truncateSync,
  writeFileSync,
} from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { classifyLine, LOG_LEVEL_LABELS, type LogLevelLabel } from '../../src/collectors/log-level.js';
import { samples, value } from '../support/exposition.js';
import { startStackwatch, type StackwatchHandle } from '../support/stackwatch.js';
import { run, tempDir } from '../support/util.js';

const FIXTURES = fileURLToPath(new URL('../fixtures/logs/', import.meta.url));

function countLevels(text: string): Partial<Record<LogLevelLabel, number>> {
  const out: Partial<Record<LogLevelLabel, number>> = {};
  for (const line of text.split('\n').slice(0, -1)) {
    const level = classifyLine(line);
    out[level] = (out[level] ?? 0) + 1;
  }
  return out;
}

describe('line classifier', () => {
  it.each([
    // Counts checked against `grep -c` on each file (see tests/fixtures/logs/README.md).
    ['python-basic.log', { DEBUG: 1, INFO: 1, WARNING: 1, ERROR: 2, CRITICAL: 1, NONE: 5 }],
    ['python-asctime.log', { DEBUG: 1, INFO: 1, WARNING: 1, ERROR: 1, CRITICAL: 1 }],
    ['python-brackets.log', { DEBUG: 1, INFO: 1, WARNING: 1, ERROR: 1, CRITICAL: 1 }],
    ['prometheus.log', { DEBUG: 3, INFO: 32, WARNING: 1 }],
    // LOG → INFO, FATAL → CRITICAL; STATEMENT and CONTEXT continue the line before.
    ['postgres.log', { INFO: 12, ERROR: 1, CRITICAL: 1, WARNING: 1, NONE: 2 }],
    ['stackwatch-pino.log', { DEBUG: 1, INFO: 1, WARNING: 1, ERROR: 1, CRITICAL: 1 }],
    ['pino-numeric.log', { TRACE: 1, INFO: 1, ERROR: 1, CRITICAL: 1 }],
  ])('classifies %s', (file, expected) => {
    expect(countLevels(readFileSync(join(FIXTURES, file), 'utf8'))).toEqual(expected);
  });

  it.each([
    ['2024-01-01 12:00:00 ERROR database connection lost', 'ERROR'],
    ['2024-01-01 12:00:00,123 CRITICAL out of memory', 'CRITICAL'],
    ['[ERROR] tool call failed', 'ERROR'],
    ['[warn] queue long', 'WARNING'],
    ['2024-01-01T12:00:00Z <Info> started', 'INFO'],
    ['ts=2024-01-01T12:00:00Z level=error msg="scrape failed"', 'ERROR'],
    ['time="2024-01-01" level="warning" msg=x', 'WARNING'],
    ['{"time":"2024","msg":"a long message first","level":"error"}', 'ERROR'],
    ['{"severity":"CRITICAL","message":"x"}', 'CRITICAL'],
    ['{"levelname": "WARNING", "message": "x"}', 'WARNING'],
    ['{"level":50,"msg":"pino"}', 'ERROR'],
    ['{"msg":"no level field"}', 'NONE'],
    ['2024-01-01 12:00:00 INFO retrying after ERROR from provider', 'INFO'],
    ['the task had an error but this line has no level', 'NONE'],
    ['FATAL: could not open file', 'CRITICAL'],
    ['E0101 12:00:00.000 ERROR in klog style', 'ERROR'],
    ['   at Object.<anonymous> (/app/index.js:1:1)', 'NONE'],
    ['LOG IN to continue', 'NONE'],
    ['', 'NONE'],
  ] as const)('%s → %s', (line, level) => {
    expect(classifyLine(line)).toBe(level);
  });

  it('uses only the bounded set of level labels', () => {
    expect(LOG_LEVEL_LABELS).toEqual(['CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG', 'TRACE', 'NONE']);
  });
});

describe('following log files through /metrics', () => {
  const tmp = tempDir('swlog');
  const path = (name: string) => join(tmp.path, name);
  let sw: StackwatchHandle;
  const preexisting = '2024-01-01 00:00:00 ERROR old line, before stackwatch started\n'.repeat(50);

  beforeAll(async () => {
    writeFileSync(path('renamed.log'), preexisting);
    writeFileSync(path('copytrunc.log'), preexisting);
    writeFileSync(path('partial.log'), '');
    writeFileSync(path('whole.log'), readFileSync(join(FIXTURES, 'python-basic.log')));
    sw = await startStackwatch({
      config: `
collectors:
  filesystem: { enabled: false }
  logs:
    - { name: renamed, path: '${path('renamed.log')}' }
    - { name: copytrunc, path: '${path('copytrunc.log')}' }
    - { name: partial, path: '${path('partial.log')}' }
    - { name: later, path: '${path('later.log')}' }
    - { name: whole, path: '${path('whole.log')}', start_at: beginning }
`,
    });
  });
  afterAll(async () => {
    await sw?.stop();
    tmp.cleanup();
  });

  async function scrape(): Promise<string> {
    return (await fetch(`${sw.url}/metrics`)).text();
  }
  function levels(text: string, log: string): Record<string, number> {
    const out: Record<string, number> = {};
    for (const s of samples(text, 'stackwatch_log_lines_total'))
      if (s.labels.log === log) out[s.labels.level as string] = s.value;
    return out;
  }
  const zero = Object.fromEntries(LOG_LEVEL_LABELS.map((l) => [l, 0]));
  const line = (level: string, msg = 'message') => `2024-01-01 12:00:00 ${level} ${msg}\n`;

  it('starts at the end of a file that exists (like tail -f), or at its beginning when configured', async () => {
    const text = await scrape();
    expect(levels(text, 'renamed')).toEqual(zero);
    expect(levels(text, 'whole')).toEqual({
      ...zero,
      DEBUG: 1,
      INFO: 1,
      WARNING: 1,
      ERROR: 2,
      CRITICAL: 1,
      NONE: 5,
    });
    expect(value(text, 'stackwatch_log_read_bytes_total', { log: 'renamed' })).toBe(0);
  });

  it('counts appended lines and reads only what was appended', async () => {
    const appended = line('ERROR').repeat(3) + line('INFO').repeat(2);
    appendFileSync(path('renamed.log'), appended);
    const text = await scrape();
    expect(levels(text, 'renamed')).toEqual({ ...zero, ERROR: 3, INFO: 2 });
    expect(value(text, 'stackwatch_log_read_bytes_total', { log: 'renamed' })).toBe(appended.length);
    // Nothing new: nothing read.
    const again = await scrape();
    expect(levels(again, 'renamed')).toEqual({ ...zero, ERROR: 3, INFO: 2 });
    expect(value(again, 'stackwatch_log_read_bytes_total', { log: 'renamed' })).toBe(appended.length);
  });

  it('survives rename-and-create rotation, finishing the old file first', async () => {
    appendFileSync(path('renamed.log'), line('ERROR', 'written before the rotation'));
    renameSync(path('renamed.log'), path('renamed.log.1'));
    // The application still writes to its open file until it is told to reopen (postrotate HUP).
    appendFileSync(path('renamed.log.1'), line('CRITICAL', 'written to the old file after the rename'));
    writeFileSync(path('renamed.log'), line('WARNING').repeat(2));
    let text = await scrape();
    expect(levels(text, 'renamed')).toEqual({ ...zero, ERROR: 4, INFO: 2, CRITICAL: 1, WARNING: 2 });
    expect(value(text, 'stackwatch_log_reopens_total', { log: 'renamed', reason: 'rotated' })).toBe(1);

    appendFileSync(path('renamed.log'), line('ERROR'));
    text = await scrape();
    expect(levels(text, 'renamed')).toEqual({ ...zero, ERROR: 5, INFO: 2, CRITICAL: 1, WARNING: 2 });
    expect(value(text, 'stackwatch_log_reopens_total', { log: 'renamed', reason: 'rotated' })).toBe(1);
  });

  it('survives copy-truncate rotation, reading the truncated file from the start', async () => {
    appendFileSync(path('copytrunc.log'), line('ERROR').repeat(4));
    let text = await scrape();
    expect(levels(text, 'copytrunc')).toEqual({ ...zero, ERROR: 4 });

    copyFileSync(path('copytrunc.log'), path('copytrunc.log.1'));
    truncateSync(path('copytrunc.log'), 0);
    appendFileSync(path('copytrunc.log'), line('CRITICAL') + line('INFO'));
    text = await scrape();
    expect(levels(text, 'copytrunc')).toEqual({ ...zero, ERROR: 4, CRITICAL: 1, INFO: 1 });
    expect(value(text, 'stackwatch_log_reopens_total', { log: 'copytrunc', reason: 'truncated' })).toBe(1);

    appendFileSync(path('copytrunc.log'), line('WARNING'));
    text = await scrape();
    expect(levels(text, 'copytrunc')).toEqual({ ...zero, ERROR: 4, CRITICAL: 1, INFO: 1, WARNING: 1 });
  });

  it('counts a partial last line once it is completed', async () => {
    appendFileSync(path('partial.log'), '2024-01-01 12:00:00 ERROR the first half');
    let text = await scrape();
    expect(levels(text, 'partial')).toEqual(zero);
    appendFileSync(path('partial.log'), ', and the rest');
    text = await scrape();
    expect(levels(text, 'partial')).toEqual(zero);
    appendFileSync(path('partial.log'), '\n' + line('INFO'));
    text = await scrape();
    expect(levels(text, 'partial')).toEqual({ ...zero, ERROR: 1, INFO: 1 });
  });

  it('waits for a file that does not exist yet and reads it from its start when it appears', async () => {
    let text = await scrape();
    expect(levels(text, 'later')).toEqual(zero);
    expect(value(text, 'stackwatch_log_file_present', { log: 'later' })).toBe(0);
    expect(value(text, 'stackwatch_scrape_collector_success', { collector: 'log/later' })).toBe(1);

    writeFileSync(path('later.log'), line('ERROR') + line('CRITICAL'));
    text = await scrape();
    expect(levels(text, 'later')).toEqual({ ...zero, ERROR: 1, CRITICAL: 1 });
    expect(value(text, 'stackwatch_log_file_present', { log: 'later' })).toBe(1);

    // Removed and created again: a new file, read from its start; the counters keep counting.
    rmSync(path('later.log'));
    writeFileSync(path('later.log'), line('WARNING'));
    text = await scrape();
    expect(levels(text, 'later')).toEqual({ ...zero, ERROR: 1, CRITICAL: 1, WARNING: 1 });
  });

  it('passes promtool check metrics', async () => {
    const r = await run('promtool', ['check', 'metrics'], { input: await scrape() });
    expect(r.stdout + r.stderr).toBe('');
    expect(r.code).toBe(0);
  });
});
