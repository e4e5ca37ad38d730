import { readdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { describe, expect, it } from 'vitest';
import { importCircles, importGraph } from '../support/imports.js';

const root = resolve(import.meta.dirname, '..', '..');
const graph = importGraph(root, join(root, 'src'));

describe('module layout (docs/ARCHITECTURE.md)', () => {
  it('has no import circle in src/', () => {
    expect(graph.size).toBeGreaterThan(50);
    expect(importCircles(graph)).toEqual([]);
  });

  it('finds a circle when there is one (the check itself)', () => {
    const g = new Map([
      ['a.ts', ['b.ts']],
      ['b.ts', ['c.ts']],
      ['c.ts', ['a.ts']],
      ['d.ts', ['a.ts']],
    ]);
    expect(importCircles(g)).toEqual([['a.ts', 'b.ts', 'c.ts', 'a.ts']]);
  });

  it('keeps only the entry points in the root of src/alerting; every stage is in its folder', () => {
    const files = readdirSync(join(root, 'src', 'alerting'), { withFileTypes: true })
      .filter((e) => e.isFile())
      .map((e) => e.name)
      .sort();
    expect(files).toEqual([
      'commands.ts',
      'escalation.ts',
      'index.ts',
      'receiver-metrics.ts',
      'receiver.ts',
      'setup.ts',
    ]);
  });

  it('is imported from outside src/alerting through its index only', () => {
    const pastIndex: string[] = [];
    for (const [file, deps] of graph)
      if (!file.startsWith('src/alerting/'))
        for (const d of deps)
          if (d.startsWith('src/alerting/') && d !== 'src/alerting/index.ts')
            pastIndex.push(`${file} → ${d}`);
    expect(pastIndex).toEqual([]);
  });

  it('keeps ingest and delivery apart: neither imports the other', () => {
    const crossing: string[] = [];
    for (const [file, deps] of graph)
      for (const [from, to] of [
        ['src/alerting/ingest/', 'src/alerting/delivery/'],
        ['src/alerting/delivery/', 'src/alerting/ingest/plan'],
      ] as const)
        if (file.startsWith(from))
          for (const d of deps) if (d.startsWith(to)) crossing.push(`${file} → ${d}`);
    expect(crossing).toEqual([]);
  });
});
