import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';

/** Every `.ts` file under `dir`, recursively, as absolute paths. */
export function sourceFiles(dir: string): string[] {
  const out: string[] = [];
  for (const e of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, e.name);
    if (e.isDirectory()) out.push(...sourceFiles(p));
    else if (e.name.endsWith('.ts')) out.push(p);
  }
  return out;
}

// Static imports and re-exports (`import … from`, `export … from`, `import type`) and dynamic
// `import('…')`: every edge a reader would follow, types included.
const IMPORT = /(?:\bfrom\s*|\bimport\s*\(\s*|^\s*import\s+)(['"])(\.{1,2}\/[^'"]+)\1/gm;

/** The relative imports of one file's text, resolved to `.ts` paths next to `file`. */
export function relativeImports(file: string, text: string): string[] {
  const out: string[] = [];
  for (const m of text.matchAll(IMPORT))
    out.push(resolve(dirname(file), (m[2] as string).replace(/\.js$/, '.ts')));
  return out;
}

/** The import graph of a source tree: file → the files it imports (relative paths from `root`). */
export function importGraph(root: string, dir: string): Map<string, string[]> {
  const graph = new Map<string, string[]>();
  for (const f of sourceFiles(dir)) {
    const deps = relativeImports(f, readFileSync(f, 'utf8')).map((d) => relative(root, d));
    graph.set(relative(root, f), [...new Set(deps)]);
  }
  return graph;
}

/** Every import circle, each as the files along it (first repeated at the end); Tarjan-free DFS. */
export function importCircles(graph: Map<string, string[]>): string[][] {
  const circles: string[][] = [];
  const state = new Map<string, 'open' | 'done'>();
  const stack: string[] = [];
  const visit = (n: string): void => {
    state.set(n, 'open');
    stack.push(n);
    for (const d of graph.get(n) ?? []) {
      if (state.get(d) === 'open') circles.push([...stack.slice(stack.indexOf(d)), d]);
      else if (!state.has(d)) visit(d);
    }
    stack.pop();
    state.set(n, 'done');
  };
  for (const n of graph.keys()) if (!state.has(n)) visit(n);
  return circles;
}
