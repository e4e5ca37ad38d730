import { templateContext } from '../render/webhook.js';
import type { DeliveryResult } from '../model/notification.js';
import type { RobotBook, RobotReply, RobotService } from './robot.js';
import { classifyHttpStatus } from './robot.js';

// The outgoing webhook: a receiver's own request (URL, method, headers) with a body rendered
// from its Liquid template, for an SMS or voice gateway. The gateway's answer is read by its
// HTTP status: 2xx sent, 429 waits (Retry-After), 5xx and network errors retry, 401/403 is an
// authentication error and other 4xx a dead letter.

export function classifyWebhook(reply: RobotReply): DeliveryResult {
  return reply.status >= 200 && reply.status < 300
    ? { kind: 'success' }
    : classifyHttpStatus(reply, 'webhook');
}

export function webhookService(book: () => RobotBook): RobotService {
  return {
    channel: 'webhook',
    request: (robot, input, receiver) => {
      const spec = book().webhookFor(robot, receiver);
      if (!spec) throw new Error(`no webhook request configured for receiver ${receiver}`);
      const headers: Record<string, string> = { ...spec.headers };
      if (!Object.keys(headers).some((k) => k.toLowerCase() === 'content-type'))
        headers['content-type'] = 'application/json; charset=utf-8';
      return {
        url: robot.url,
        method: spec.method,
        headers,
        body: spec.template.render(templateContext(input, receiver)),
      };
    },
    classify: classifyWebhook,
  };
}
