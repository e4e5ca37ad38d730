import { z } from 'zod';
import { duration, targetName } from './common.js';

/** The Alertmanager Watchdog's row among the heartbeats: a job heartbeat cannot take the name. */
export const WATCHDOG_NAME = 'watchdog';

/**
 * A job's heartbeat (a cron job, a backup): it pings `POST /api/v1/heartbeats/NAME` with its own
 * token every `period`; a ping later than `period` + `grace`, a reported failure, or a run
 * reported started and not finished within `grace` pages `receiver`.
 */
export const heartbeatSchema = z
  .object({
    name: targetName.refine((n) => n !== WATCHDOG_NAME, {
      message: `"${WATCHDOG_NAME}" is the Alertmanager Watchdog's heartbeat; choose another name`,
    }),
    period: duration.refine((ms) => ms >= 1000, { message: 'must be at least 1s' }),
    grace: duration.default('1h'),
    /** The receiver (of `receivers`) paged; unset: the routing table routes the page by its labels. */
    receiver: z.string().min(1).optional(),
    /** The bearer token of this heartbeat's pings; it can do nothing else. */
    token: z.string().min(16, 'must be at least 16 characters (e.g. openssl rand -hex 16)'),
  })
  .strict();

export type HeartbeatConfig = z.infer<typeof heartbeatSchema>;

interface HeartbeatsContext {
  receivers: readonly { name: string }[];
  heartbeats: readonly HeartbeatConfig[];
  watchdog: { receiver?: string };
  api_token?: string;
  webhook_token?: string;
}

/**
 * The checks across keys: receivers that exist, one heartbeat per name, and tokens that are
 * each heartbeat's own (a token shared with the API or the webhook could do more than ping).
 */
export function checkHeartbeats(r: HeartbeatsContext, ctx: z.RefinementCtx): void {
  const receivers = new Set(r.receivers.map((x) => x.name));
  const unknownReceiver = (name: string | undefined, path: (string | number)[]) => {
    if (name !== undefined && !receivers.has(name))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path,
        message: `unknown receiver ${JSON.stringify(name)} (receivers: ${[...receivers].join(', ')})`,
      });
  };
  unknownReceiver(r.watchdog.receiver, ['watchdog', 'receiver']);
  const names = new Set<string>();
  const tokens = new Map<string, string>();
  r.heartbeats.forEach((h, i) => {
    unknownReceiver(h.receiver, ['heartbeats', i, 'receiver']);
    if (names.has(h.name))
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['heartbeats', i, 'name'],
        message: `duplicate heartbeat ${JSON.stringify(h.name)}`,
      });
    names.add(h.name);
    const sharedWith =
      h.token === r.api_token
        ? 'api_token'
        : h.token === r.webhook_token
          ? 'webhook_token'
          : tokens.has(h.token)
            ? `heartbeat ${JSON.stringify(tokens.get(h.token))}`
            : undefined;
    if (sharedWith)
      ctx.addIssue({
        code: z.ZodIssueCode.custom,
        path: ['heartbeats', i, 'token'],
        message: `must be this heartbeat's own token, not the same as ${sharedWith}`,
      });
    tokens.set(h.token, h.name);
  });
}
