import type { Labels } from '../../matchers.js';
import * as P from '../pages.js';

import { str, type ConsoleKit } from '../kit.js';

const MAX_LABEL_LINES = 50;

/** `name=value` (or `name="value"`) per line into labels; an error names the bad line. */
export function parseLabelLines(text: string): Labels | string {
  const out: Labels = {};
  const lines = text.split(/\r?\n/).filter((l) => l.trim());
  if (lines.length > MAX_LABEL_LINES) return `at most ${MAX_LABEL_LINES} labels`;
  for (const line of lines) {
    const m = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|(.*?))\s*$/.exec(line);
    if (!m) return `not a name=value line: ${JSON.stringify(line.slice(0, 80))}`;
    out[m[1] as string] = m[2] !== undefined ? (m[2] as string).replace(/\\(.)/g, '$1') : (m[3] as string);
  }
  return out;
}

/** Route test and the contact table. */
export function routeTestRoutes(kit: ConsoleKit): void {
  const { router, send, guarded, ctx } = kit;
  router.get(
    '/route-test',
    guarded((req, res, viewer, r) => {
      const labelsText = str(req.query.labels, 4000);
      const labels = labelsText ? parseLabelLines(labelsText) : undefined;
      const body =
        typeof labels === 'string'
          ? P.routeTestPage({ labelsText, error: labels })
          : P.routeTestPage({ labelsText, result: labels && r.routeTest(labels) });
      send(res, typeof labels === 'string' ? 400 : 200, ctx(viewer, 'Route test', '/route-test'), body);
    }),
  );
  router.get(
    '/contacts',
    guarded((_req, res, viewer, r) =>
      send(res, 200, ctx(viewer, 'Contacts', '/contacts'), P.contactsPage(r.contacts())),
    ),
  );
}
