// A DingTalk custom robot (自定义机器人) as its documentation describes it: POST
// /robot/send?access_token=…; with 加签 the URL carries timestamp (ms, within an hour) and
// sign = Base64(HmacSHA256(secret, timestamp + "\n" + secret)); 20 messages a minute per
// robot, past which the robot is refused for 10 minutes (130101); bodies up to 20,000 bytes.
import { createHmac } from 'node:crypto';
import { SlidingWindow, startRecordingServer, type Answer, type RecordedRequest } from './robot-server.js';

export const DINGTALK_OK = { errcode: 0, errmsg: 'ok' };
export const DINGTALK_TOO_FAST = { errcode: 130101, errmsg: 'send too fast, exceed 20 times per minute' };
export const DINGTALK_SIGN_NOT_MATCH = {
  errcode: 310000,
  errmsg: 'sign not match, more: [https://ding-doc.dingtalk.com/doc#/serverapi2/qf2nxq]',
};
export const DINGTALK_NO_TOKEN = { errcode: 300001, errmsg: 'token is not exist' };
export const DINGTALK_TOO_LONG = { errcode: 460101, errmsg: 'message too long, exceed 20000 bytes' };
export const DINGTALK_BAD_JSON = { errcode: 40035, errmsg: '缺少参数 json' };

export interface DingTalkOptions {
  perMinute?: number;
  /** How long a robot past its rate is refused (DingTalk: 10 minutes). */
  lockoutMs?: number;
}

export interface DingTalkHandle {
  /** A robot's webhook URL (its access token in the query). */
  addRobot: (token: string, secret?: string) => string;
  requests: RecordedRequest[];
  /** Messages shown in the group, with the robot's token. */
  delivered: () => (RecordedRequest & { token: string })[];
  refusals: () => RecordedRequest[];
  close: () => Promise<void>;
}

const sign = (secret: string, ts: string) =>
  createHmac('sha256', secret).update(`${ts}\n${secret}`, 'utf8').digest('base64');

export async function startDingTalk(o: DingTalkOptions = {}): Promise<DingTalkHandle> {
  const robots = new Map<string, { secret?: string; lockedUntil: number }>();
  const window = new SlidingWindow(o.perMinute ?? 20, 60_000);
  const lockoutMs = o.lockoutMs ?? 10 * 60_000;
  const refuse = (reply: Record<string, unknown>): Answer => ({
    status: 200,
    reply,
    refused: reply.errcode as number,
  });
  const srv = await startRecordingServer((req) => {
    if (req.method !== 'POST' || req.path !== '/robot/send') return { status: 404, reply: {}, refused: 404 };
    const token = req.query.get('access_token') ?? '';
    const robot = robots.get(token);
    if (!robot) return refuse(DINGTALK_NO_TOKEN);
    if (robot.secret) {
      const ts = req.query.get('timestamp') ?? '';
      const given = req.query.get('sign') ?? '';
      if (
        !/^\d+$/.test(ts) ||
        Math.abs(Date.now() - Number(ts)) > 3_600_000 ||
        given !== sign(robot.secret, ts)
      )
        return refuse(DINGTALK_SIGN_NOT_MATCH);
    }
    if (Buffer.byteLength(req.raw) > 20_000) return refuse(DINGTALK_TOO_LONG);
    const body = req.body as { msgtype?: string; markdown?: { title?: unknown; text?: unknown } } | undefined;
    if (
      !body ||
      body.msgtype !== 'markdown' ||
      typeof body.markdown?.title !== 'string' ||
      typeof body.markdown.text !== 'string'
    )
      return refuse(DINGTALK_BAD_JSON);
    if (req.at < robot.lockedUntil) return refuse(DINGTALK_TOO_FAST);
    if (!window.take(token, req.at)) {
      robot.lockedUntil = req.at + lockoutMs;
      return refuse(DINGTALK_TOO_FAST);
    }
    return { status: 200, reply: DINGTALK_OK };
  });
  return {
    addRobot: (token, secret) => {
      robots.set(token, { secret, lockedUntil: 0 });
      return `${srv.base}/robot/send?access_token=${token}`;
    },
    requests: srv.requests,
    delivered: () =>
      srv.requests
        .filter((r) => r.refused === undefined)
        .map((r) => ({ ...r, token: r.query.get('access_token') ?? '' })),
    refusals: () => srv.requests.filter((r) => r.refused !== undefined),
    close: srv.close,
  };
}
