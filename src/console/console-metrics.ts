import { Counter, type Registry } from 'prom-client';

export const CONSOLE_ACTIONS = [
  'login',
  'login_failed',
  'acknowledge',
  'unacknowledge',
  'silence',
  'redrive',
  'maintenance_create',
  'maintenance_end',
  'override_create',
  'override_delete',
  'refused',
] as const;
export type ConsoleAction = (typeof CONSOLE_ACTIONS)[number];

const NAME = 'stackwatch_console_actions_total';

/** Console and Acknowledge-link actions, every series from 0 (`refused`: a bad CSRF token or link). */
export function consoleActions(registry: Registry): Counter<'action'> {
  const existing = registry.getSingleMetric(NAME);
  if (existing) return existing as Counter<'action'>;
  const c = new Counter({
    name: NAME,
    help: 'Actions taken in the console and through Acknowledge links, by action.',
    labelNames: ['action'],
    registers: [registry],
  });
  for (const action of CONSOLE_ACTIONS) c.inc({ action }, 0);
  return c;
}
