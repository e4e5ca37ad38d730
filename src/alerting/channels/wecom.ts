import type { DeliveryResult } from '../model/notification.js';
import { renderWeCom } from '../render/robots.js';
import { errcodeOf, type RobotReply, type RobotService } from './robot.js';

// WeCom (企业微信) group robots: POST to `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`;
// the key is the credential (no signature). Answers are HTTP 200 with an errcode:
//   0      sent
//   45009  "api freq out of limit": more than 20 messages in a minute
//   93000  "invalid webhook url" (a wrong or removed key)
//   40058  content over its limit (text 2,048 bytes, markdown 4,096)
//   -1     system busy

/** WeCom counts a robot's messages per minute: after a refusal, the minute has to pass. */
export const WECOM_RATE_PAUSE_MS = 60_000;

export function classifyWeCom(reply: RobotReply): DeliveryResult {
  const answer = errcodeOf(reply, 'WeCom');
  if ('kind' in answer) return answer;
  const { code, body } = answer;
  // WeCom's errmsg ends with a hint and the caller's IP: the first sentence says it.
  const reason = `WeCom errcode ${code}: ${String(body.errmsg ?? '')
    .split(',')[0]
    ?.slice(0, 160)}`;
  if (code === 45009)
    return { kind: 'retryable', retryAfterMs: WECOM_RATE_PAUSE_MS, reason, cause: 'rateLimited' };
  if (code === -1) return { kind: 'retryable', reason, cause: 'serverError' };
  if (code === 93000) return { kind: 'failure', reason, cause: 'authError' };
  return { kind: 'failure', reason, cause: 'clientError' };
}

export const wecomService: RobotService = {
  channel: 'wecom',
  request: (robot, input) => ({
    url: robot.url,
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(renderWeCom(input)),
  }),
  classify: classifyWeCom,
};
