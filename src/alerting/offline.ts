import type { Config } from '../config/schema.js';
import type { Logger } from '../logger.js';
import type { Labels } from '../matchers.js';
import { sendTestNotifications } from './send-test.js';
import { buildSetup, routeTestWith } from './setup.js';

/** For the CLI: just enough to route-test or send-test without starting the service or its outbox. */
export function offlineReceiver(config: Config, logger: Logger) {
  const setup = buildSetup(config.receiver, logger);
  return {
    routeTest: (labels: Labels) => routeTestWith(setup, setup.configSilences, labels, Date.now()),
    sendTest: () => sendTestNotifications(setup, { closeAfter: true }),
  };
}
