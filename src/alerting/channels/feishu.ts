import { createHmac } from 'node:crypto';
import type { DeliveryResult } from '../model/notification.js';
import { renderFeishu } from '../render/robots.js';
import { classifyHttpStatus, replyJson, type RobotReply, type RobotService } from './robot.js';

// Feishu (飞书) custom bots: POST to `https://open.feishu.cn/open-apis/bot/v2/hook/…`. With
// 签名校验 set, the body carries `timestamp` (seconds, within an hour of Feishu's clock) and
// `sign`: Base64 of HmacSHA256(key = timestamp + "\n" + secret, data = empty). Answers carry a
// code (HTTP 200, or 400 for refusals):
//   0      sent
//   9499   "Bad Request" (body not a message, or over 20 KB); "too many request" past the rate
//   11232  "frequency limited": past 100 a minute or 5 a second per bot
//   19021  "sign match fail or timestamp is not within one hour from current time"
//   19022  "Ip Not Allowed"; 19024 "Key Words Not Found"

/** Feishu does not say how long a limited bot waits; its window is a second or a minute. */
export const FEISHU_RATE_PAUSE_MS = 5_000;

export function feishuSign(secret: string, timestampSeconds: number): string {
  return createHmac('sha256', `${timestampSeconds}\n${secret}`).update('').digest('base64');
}

export function classifyFeishu(reply: RobotReply): DeliveryResult {
  const body = replyJson(reply);
  const raw = body?.code ?? body?.StatusCode;
  const code = typeof raw === 'number' ? raw : undefined;
  if (code === undefined)
    return reply.status === 200 ? { kind: 'success' } : classifyHttpStatus(reply, 'Feishu');
  if (code === 0 && reply.status < 300) return { kind: 'success' };
  const msg = String(body?.msg ?? body?.StatusMessage ?? '');
  const reason = `Feishu code ${code}: ${msg.slice(0, 160)}`;
  if (code === 11232 || (code === 9499 && /too many/i.test(msg)) || reply.status === 429) {
    const reset = Number(reply.headers.get('x-ogw-ratelimit-reset'));
    const retryAfterMs = Number.isFinite(reset) && reset > 0 ? reset * 1000 : FEISHU_RATE_PAUSE_MS;
    return { kind: 'retryable', retryAfterMs, reason, cause: 'rateLimited' };
  }
  if (reply.status >= 500) return { kind: 'retryable', reason, cause: 'serverError' };
  if (code === 19021 || code === 19022) return { kind: 'failure', reason, cause: 'authError' };
  return { kind: 'failure', reason, cause: 'clientError' };
}

export const feishuService: RobotService = {
  channel: 'feishu',
  request: (robot, input, _receiver, now) => {
    const card = renderFeishu(input);
    const timestamp = Math.floor(now / 1000);
    const signed = robot.secret
      ? { timestamp: String(timestamp), sign: feishuSign(robot.secret, timestamp), ...card }
      : card;
    return {
      url: robot.url,
      method: 'POST',
      headers: { 'content-type': 'application/json; charset=utf-8' },
      body: JSON.stringify(signed),
    };
  },
  classify: classifyFeishu,
};
