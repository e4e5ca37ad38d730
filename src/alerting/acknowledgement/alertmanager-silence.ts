import {
  makeMatcher,
  matchesAll,
  matcherText,
  type Labels,
  type MatchOp,
  type Matcher,
} from '../../matchers.js';

// Alertmanager silences through its API v2 (POST /api/v2/silences, DELETE /api/v2/silence/{id}),
// made when someone acknowledges a group and asks for a silence, and read (GET
// /api/v2/silences) for the console's Now page. The body is built apart from the request so
// that what is sent can be checked without an Alertmanager.

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

async function call(url: string, init: RequestInit, timeoutMs = TIMEOUT_MS): Promise<Response> {
  let res: Response;
  try {
    res = await fetch(url, { ...init, signal: AbortSignal.timeout(timeoutMs) });
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

/** An active Alertmanager silence, as the console shows it. */
export interface ActiveAmSilence {
  id: string;
  /** Alertmanager's matchers, written as in its UI: `service="postgres"`, `env=~"prod.*"`. */
  matchers: string[];
  endsAt: number;
  createdBy: string;
  comment: string;
  /** Whether it silences an alert with these labels. */
  covers: (labels: Labels) => boolean;
}

interface GettableSilence {
  id?: unknown;
  status?: { state?: unknown };
  matchers?: { name?: unknown; value?: unknown; isRegex?: unknown; isEqual?: unknown }[];
  endsAt?: unknown;
  createdBy?: unknown;
  comment?: unknown;
}

/** Alertmanager's active silences (its answer read as data: a silence it cannot match is left out). */
export function activeSilencesOf(body: unknown): ActiveAmSilence[] {
  if (!Array.isArray(body)) throw new AlertmanagerError('Alertmanager answered no list of silences');
  const out: ActiveAmSilence[] = [];
  for (const s of body as GettableSilence[]) {
    if (s?.status?.state !== 'active' || typeof s.id !== 'string' || !Array.isArray(s.matchers)) continue;
    let compiled: Matcher[];
    try {
      compiled = s.matchers.map((m) => {
        const negated = m.isEqual === false;
        const op: MatchOp = m.isRegex === true ? (negated ? '!~' : '=~') : negated ? '!=' : '=';
        return makeMatcher(String(m.name), op, String(m.value));
      });
    } catch {
      continue;
    }
    out.push({
      id: s.id,
      matchers: compiled.map(matcherText),
      endsAt: Date.parse(String(s.endsAt)),
      createdBy: String(s.createdBy ?? ''),
      comment: String(s.comment ?? ''),
      covers: (labels) => matchesAll(compiled, labels),
    });
  }
  return out;
}

/** The silences active in Alertmanager now. */
export async function activeSilences(baseUrl: string, timeoutMs: number): Promise<ActiveAmSilence[]> {
  const res = await call(`${baseUrl}/api/v2/silences`, { method: 'GET' }, timeoutMs);
  return activeSilencesOf(await res.json());
}
