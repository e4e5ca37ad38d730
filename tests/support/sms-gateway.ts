// An SMS gateway's HTTP API, as the outgoing webhook channel drives one: POST /v1/sms with a
// bearer token and a JSON body naming the phone numbers and the text. 401 without the token,
// 400 for a body that is not such JSON, 200 with a message id otherwise.
import { startRecordingServer, type RecordedRequest } from './robot-server.js';

export interface SmsMessage {
  to: string[];
  text: string;
}

export interface SmsGatewayHandle {
  url: string;
  requests: RecordedRequest[];
  /** Messages the gateway accepted. */
  sent: () => (SmsMessage & { at: number })[];
  close: () => Promise<void>;
}

export async function startSmsGateway(token: string): Promise<SmsGatewayHandle> {
  let next = 1;
  const srv = await startRecordingServer((req) => {
    if (req.method !== 'POST' || req.path !== '/v1/sms')
      return { status: 404, reply: { error: 'not found' }, refused: 404 };
    if (req.headers.authorization !== `Bearer ${token}`)
      return { status: 401, reply: { error: 'invalid token' }, refused: 401 };
    const b = req.body as Partial<SmsMessage> | undefined;
    if (!b || !Array.isArray(b.to) || !b.to.every((t) => typeof t === 'string') || typeof b.text !== 'string')
      return { status: 400, reply: { error: 'body must be {"to": [phone…], "text": "…"}' }, refused: 400 };
    return { status: 200, reply: { id: `sms-${next++}`, status: 'queued' } };
  });
  return {
    url: `${srv.base}/v1/sms`,
    requests: srv.requests,
    sent: () =>
      srv.requests
        .filter((r) => r.refused === undefined)
        .map((r) => ({ ...(r.body as SmsMessage), at: r.at })),
    close: srv.close,
  };
}
