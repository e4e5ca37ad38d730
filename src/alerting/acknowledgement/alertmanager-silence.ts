// Alertmanager silences through its API v2 (POST /api/v2/silences, DELETE /api/v2/silence/{id}),
// made when someone acknowledges a group and asks for a silence. The body is built apart
// from the request so that what is sent can be checked without an Alertmanager.

export interface SilenceRequest {
  /** The group's labels: the silence mutes exactly the alerts of that group. */
  groupLabels: Record<string, string>;
  startsAt: number;
  endsAt: number;
  createdBy: string;
  comment: string;
}

/** Alertmanager's postableSilence: one equality matcher per group label. */
export function silenceBody(r: SilenceRequest) {
  return {
    matchers: Object.entries(r.groupLabels)
      .sort(([a], [b]) => (a < b ? -1 : 1))
      .map(([name, value]) => ({ name, value, isRegex: false, isEqual: true })),
    startsAt: new Date(r.startsAt).toISOString(),
    endsAt: new Date(r.endsAt).toISOString(),
    createdBy: r.createdBy,
    comment: r.comment,
  };
}

export class AlertmanagerError extends Error {
  override name = 'AlertmanagerError';
}

const TIMEOUT_MS = 10_000;

async function call(url: string, init: RequestInit): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(TIMEOUT_MS) });
  } catch (err) {
    throw new AlertmanagerError(
      `Alertmanager at ${new URL(url).origin} unreachable: ${(err as Error).message}`,
    );
  }
  if (!res.ok) {
    const text = (await res.text().catch(() => '')).replace(/\s+/g, ' ').slice(0, 200);
    throw new AlertmanagerError(`Alertmanager answered ${res.status}${text ? `: ${text}` : ''}`);
  }
  return res;
}

/** Creates the silence; its id. A group without labels would silence everything: refused. */
export async function createSilence(baseUrl: string, r: SilenceRequest): Promise<string> {
  const body = silenceBody(r);
  if (body.matchers.length === 0)
    throw new AlertmanagerError('the group has no labels; a silence would mute every alert');
  const res = await call(`${baseUrl}/api/v2/silences`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: JSON.stringify(body),
  });
  const out = (await res.json()) as { silenceID?: unknown };
  if (typeof out.silenceID !== 'string') throw new AlertmanagerError('Alertmanager returned no silenceID');
  return out.silenceID;
}

/** Expires a silence early. */
export async function expireSilence(baseUrl: string, id: string): Promise<void> {
  await call(`${baseUrl}/api/v2/silence/${encodeURIComponent(id)}`, { method: 'DELETE' });
}
