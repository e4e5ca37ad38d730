// A WeCom (企业微信) group robot as documented: POST /cgi-bin/webhook/send?key=…, the key the
// only credential; 20 messages a minute per robot (45009 past it); text.content up to 2,048
// bytes and markdown.content up to 4,096 (40058 past them); mentions by mobile in a text.
import { SlidingWindow, startRecordingServer, type Answer, type RecordedRequest } from './robot-server.js';

const hint = (code: number) =>
  `hint: [1700000000_00_0000000000000000], from ip: 127.0.0.1, more info at https://open.work.weixin.qq.com/devtool/query?e=${code}`;
export const WECOM_OK = { errcode: 0, errmsg: 'ok' };
export const WECOM_FREQ = { errcode: 45009, errmsg: `api freq out of limit, ${hint(45009)}` };
export const WECOM_INVALID_URL = { errcode: 93000, errmsg: `invalid webhook url, ${hint(93000)}` };
export const wecomTooLong = (field: string, max: number) => ({
  errcode: 40058,
  errmsg: `${field} exceed max length ${max}. invalid Request Parameter, ${hint(40058)}`,
});

export interface WeComHandle {
  addRobot: (key: string) => string;
  requests: RecordedRequest[];
  delivered: () => (RecordedRequest & { key: string })[];
  refusals: () => RecordedRequest[];
  close: () => Promise<void>;
}

export async function startWeCom(o: { perMinute?: number } = {}): Promise<WeComHandle> {
  const keys = new Set<string>();
  const window = new SlidingWindow(o.perMinute ?? 20, 60_000);
  const refuse = (reply: Record<string, unknown>): Answer => ({
    status: 200,
    reply,
    refused: reply.errcode as number,
  });
  const srv = await startRecordingServer((req) => {
    if (req.method !== 'POST' || req.path !== '/cgi-bin/webhook/send')
      return { status: 404, reply: {}, refused: 404 };
    const key = req.query.get('key') ?? '';
    if (!keys.has(key)) return refuse(WECOM_INVALID_URL);
    const body = req.body as
      { msgtype?: string; text?: { content?: string }; markdown?: { content?: string } } | undefined;
    const bytes = (s: unknown) => (typeof s === 'string' ? Buffer.byteLength(s) : -1);
    if (body?.msgtype === 'text') {
      if (bytes(body.text?.content) < 0) return refuse({ errcode: 40008, errmsg: 'invalid message type' });
      if (bytes(body.text?.content) > 2048) return refuse(wecomTooLong('text.content', 2048));
    } else if (body?.msgtype === 'markdown') {
      if (bytes(body.markdown?.content) < 0)
        return refuse({ errcode: 40008, errmsg: 'invalid message type' });
      if (bytes(body.markdown?.content) > 4096) return refuse(wecomTooLong('markdown.content', 4096));
    } else return refuse({ errcode: 40008, errmsg: 'invalid message type' });
    if (!window.take(key, req.at)) return refuse(WECOM_FREQ);
    return { status: 200, reply: WECOM_OK };
  });
  return {
    addRobot: (key) => {
      keys.add(key);
      return `${srv.base}/cgi-bin/webhook/send?key=${key}`;
    },
    requests: srv.requests,
    delivered: () =>
      srv.requests
        .filter((r) => r.refused === undefined)
        .map((r) => ({ ...r, key: r.query.get('key') ?? '' })),
    refusals: () => srv.requests.filter((r) => r.refused !== undefined),
    close: srv.close,
  };
}
