// A Feishu (飞书) custom bot as documented: POST /open-apis/bot/v2/hook/<id>; with 签名校验
// the body carries timestamp (seconds, within an hour) and sign = Base64(HmacSHA256(key =
// timestamp + "\n" + secret, data = "")); 100 messages a minute and 5 a second per bot (400
// 9499 "too many request" past them); bodies up to 20 KB.
import { createHmac } from 'node:crypto';
import { SlidingWindow, startRecordingServer, type Answer, type RecordedRequest } from './robot-server.js';

export const FEISHU_OK = { StatusCode: 0, StatusMessage: 'success', code: 0, data: {}, msg: 'success' };
export const FEISHU_SIGN_FAIL = {
  code: 19021,
  data: {},
  msg: 'sign match fail or timestamp is not within one hour from current time',
};
export const FEISHU_TOO_MANY = { code: 9499, msg: 'too many request', data: {} };
export const FEISHU_BAD_REQUEST = { code: 9499, msg: 'Bad Request', data: {} };
export const FEISHU_NO_HOOK = {
  code: 19001,
  msg: 'param invalid: incoming webhook access token invalid',
  data: {},
};

export interface FeishuHandle {
  addBot: (id: string, secret?: string) => string;
  requests: RecordedRequest[];
  delivered: () => (RecordedRequest & { bot: string })[];
  refusals: () => RecordedRequest[];
  close: () => Promise<void>;
}

export async function startFeishu(o: { perMinute?: number; perSecond?: number } = {}): Promise<FeishuHandle> {
  const bots = new Map<string, string | undefined>();
  const minute = new SlidingWindow(o.perMinute ?? 100, 60_000);
  const second = new SlidingWindow(o.perSecond ?? 5, 1000);
  const refuse = (status: number, reply: Record<string, unknown>): Answer => ({
    status,
    reply,
    refused: reply.code as number,
  });
  const srv = await startRecordingServer((req) => {
    const m = /^\/open-apis\/bot\/v2\/hook\/([\w-]+)$/.exec(req.path);
    if (req.method !== 'POST' || !m) return { status: 404, reply: {}, refused: 404 };
    const id = m[1] as string;
    if (!bots.has(id)) return refuse(400, FEISHU_NO_HOOK);
    const body = req.body as
      { timestamp?: string; sign?: string; msg_type?: string; card?: { elements?: unknown[] } } | undefined;
    const secret = bots.get(id);
    if (secret) {
      const ts = body?.timestamp ?? '';
      const expected = createHmac('sha256', `${ts}\n${secret}`).update('').digest('base64');
      if (!/^\d+$/.test(ts) || Math.abs(Date.now() / 1000 - Number(ts)) > 3600 || body?.sign !== expected)
        return refuse(200, FEISHU_SIGN_FAIL);
    }
    if (
      Buffer.byteLength(req.raw) > 20 * 1024 ||
      body?.msg_type !== 'interactive' ||
      !Array.isArray(body.card?.elements)
    )
      return refuse(400, FEISHU_BAD_REQUEST);
    if (!second.fits(id, req.at) || !minute.fits(id, req.at)) return refuse(400, FEISHU_TOO_MANY);
    second.take(id, req.at);
    minute.take(id, req.at);
    return { status: 200, reply: FEISHU_OK };
  });
  return {
    addBot: (id, secret) => {
      bots.set(id, secret);
      return `${srv.base}/open-apis/bot/v2/hook/${id}`;
    },
    requests: srv.requests,
    delivered: () =>
      srv.requests
        .filter((r) => r.refused === undefined)
        .map((r) => ({ ...r, bot: r.path.split('/').pop() ?? '' })),
    refusals: () => srv.requests.filter((r) => r.refused !== undefined),
    close: srv.close,
  };
}
