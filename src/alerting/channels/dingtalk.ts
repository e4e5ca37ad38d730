import { createHmac } from 'node:crypto';
import type { DeliveryResult } from '../model/notification.js';
import { renderDingTalk } from '../render/robots.js';
import { errcodeOf, type RobotReply, type RobotService } from './robot.js';

// DingTalk custom robots (自定义机器人): POST the message to the robot's URL
// (`https://oapi.dingtalk.com/robot/send?access_token=…`). With the 加签 security setting, the
// URL also carries `timestamp` (milliseconds, within an hour of DingTalk's clock) and `sign`:
// Base64 of HmacSHA256(key = secret, data = timestamp + "\n" + secret), URL-encoded.
// Answers are HTTP 200 with an errcode:
//   0       sent
//   130101  "send too fast, exceed 20 times per minute": the robot is refused for 10 minutes
//   310000  security settings not met (signature, timestamp, keyword, IP)
//   300001  "token is not exist" (the robot was removed)
//   460101  "message too long, exceed 20000 bytes"
//   -1      system busy

/** How long DingTalk refuses a robot that went past 20 messages a minute. */
export const DINGTALK_LOCKOUT_MS = 10 * 60_000;

export function dingtalkSign(secret: string, timestamp: number): string {
  return createHmac('sha256', secret).update(`${timestamp}\n${secret}`, 'utf8').digest('base64');
}

/** The robot's URL with its signature parameters. */
export function signedDingTalkUrl(url: string, secret: string | undefined, now: number): string {
  if (!secret) return url;
  const u = new URL(url);
  u.searchParams.set('timestamp', String(now));
  u.searchParams.set('sign', dingtalkSign(secret, now));
  return u.toString();
}

export function classifyDingTalk(reply: RobotReply): DeliveryResult {
  const answer = errcodeOf(reply, 'DingTalk');
  if ('kind' in answer) return answer;
  const { code, body } = answer;
  const reason = `DingTalk errcode ${code}: ${String(body.errmsg ?? '').slice(0, 160)}`;
  if (code === 130101)
    return { kind: 'retryable', retryAfterMs: DINGTALK_LOCKOUT_MS, reason, cause: 'rateLimited' };
  if (code === -1) return { kind: 'retryable', reason, cause: 'serverError' };
  if (code === 310000 || code === 300001) return { kind: 'failure', reason, cause: 'authError' };
  return { kind: 'failure', reason, cause: 'clientError' };
}

export const dingtalkService: RobotService = {
  channel: 'dingtalk',
  request: (robot, input, _receiver, now) => ({
    url: signedDingTalkUrl(robot.url, robot.secret, now),
    method: 'POST',
    headers: { 'content-type': 'application/json; charset=utf-8' },
    body: JSON.stringify(renderDingTalk(input)),
  }),
  classify: classifyDingTalk,
};
