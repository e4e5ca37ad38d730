import { Router } from 'express';
import { consoleKit, type ConsoleDeps } from './kit.js';
import { acknowledgeLinkRoutes } from './routes/acknowledge-link.js';
import { acknowledgementRoutes } from './routes/acknowledgements.js';
import { incidentRoutes } from './routes/incident.js';
import { maintenanceRoutes } from './routes/maintenance.js';
import { notificationRoutes } from './routes/notifications.js';
import { nowRoutes } from './routes/now.js';
import { overviewRoutes } from './routes/overview.js';
import { routeTestRoutes } from './routes/route-test.js';
import { scheduleRoutes } from './routes/schedules.js';
import { signInRoutes } from './routes/sign-in.js';
import { templateTestRoutes } from './routes/template-test.js';

export type { ConsoleDeps } from './kit.js';
export { parseLabelLines } from './routes/route-test.js';

/**
 * The on-call console at `/` and the Acknowledge-link pages: server-rendered HTML, no script,
 * a strict Content-Security-Policy, CSRF tokens on every form that changes anything. Each page
 * is a file of routes/; what they share (sign-in, the CSRF guard, headers) is kit.ts.
 */
export function consoleRouter(deps: ConsoleDeps): Router {
  const kit = consoleKit(deps);
  for (const routes of [
    signInRoutes,
    nowRoutes,
    incidentRoutes,
    overviewRoutes,
    notificationRoutes,
    maintenanceRoutes,
    routeTestRoutes,
    templateTestRoutes,
    acknowledgementRoutes,
    acknowledgeLinkRoutes,
    scheduleRoutes,
  ])
    routes(kit);
  return kit.router;
}
