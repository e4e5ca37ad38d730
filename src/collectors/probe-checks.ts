// Pure checks on an HTTP probe's answer: status, body regexes, JSON fields, agent states.
// Each returns the reason for a failure (for the log) or undefined when the check passes.

export interface JsonCheck {
  path: string;
  equals?: string | number | boolean | null;
  matches?: RegExp;
}

/** `expected` empty: any 2xx, as blackbox's default. */
export function statusFailure(status: number, expected: readonly number[]): string | undefined {
  const ok = expected.length ? expected.includes(status) : status >= 200 && status < 300;
  if (ok) return undefined;
  return `status ${status} not in ${expected.length ? expected.join(',') : '2xx'}`;
}

export function bodyFailure(body: string, mustMatch?: RegExp, mustNotMatch?: RegExp): string | undefined {
  if (mustMatch && !mustMatch.test(body)) return `body does not match ${String(mustMatch)}`;
  if (mustNotMatch && mustNotMatch.test(body)) return `body matches ${String(mustNotMatch)}`;
  return undefined;
}

/** Value at a dotted path (`agents.0.status`); undefined when any step is missing. */
export function jsonAt(doc: unknown, path: string): unknown {
  let cur = doc;
  for (const step of path.split('.')) {
    if (Array.isArray(cur) && /^\d+$/.test(step)) cur = cur[Number(step)];
    else if (cur !== null && typeof cur === 'object' && Object.hasOwn(cur, step))
      cur = (cur as Record<string, unknown>)[step];
    else return undefined;
  }
  return cur;
}

function shortJson(v: unknown): string {
  const text = JSON.stringify(v) ?? String(v);
  return text.length > 80 ? text.slice(0, 77) + '...' : text;
}

export function jsonFailure(doc: unknown, checks: readonly JsonCheck[]): string | undefined {
  for (const c of checks) {
    const v = jsonAt(doc, c.path);
    if (v === undefined) return `JSON field ${c.path} missing`;
    if (c.equals !== undefined && v !== c.equals)
      return `JSON field ${c.path} is ${shortJson(v)}, expected ${shortJson(c.equals)}`;
    if (c.matches) {
      const text = typeof v === 'string' ? v : JSON.stringify(v);
      if (!c.matches.test(text))
        return `JSON field ${c.path} is ${shortJson(v)}, not matching ${String(c.matches)}`;
    }
  }
  return undefined;
}

export interface AgentState {
  agent: string;
  state: string;
}

const NAME_KEYS = ['name', 'agent', 'id', 'agent_id', 'type'];
const STATE_KEYS = ['status', 'state'];
const LIST_KEYS = ['agents', 'data', 'items', 'results'];

function stateOf(v: unknown): string | undefined {
  if (typeof v === 'string') return v;
  if (typeof v === 'boolean') return v ? 'running' : 'stopped';
  if (v !== null && typeof v === 'object') {
    const o = v as Record<string, unknown>;
    for (const k of STATE_KEYS) {
      const s = o[k];
      if (typeof s === 'string') return s;
    }
    if (typeof o.running === 'boolean') return o.running ? 'running' : 'stopped';
  }
  return undefined;
}

function nameOf(o: Record<string, unknown>): string | undefined {
  for (const k of NAME_KEYS) {
    const v = o[k];
    if (typeof v === 'string' || typeof v === 'number') return String(v);
  }
  return undefined;
}

/**
 * Agents and their states from an /api/agents/status answer. Accepted shapes:
 * `[{"name": "coder", "status": "running"}, …]`, `{"coder": "running", …}`,
 * `{"coder": {"status": "running"}, …}`, and either of them under `agents`/`data`/`items`.
 * Returns undefined when the document has none of these shapes.
 */
export function parseAgentStates(doc: unknown): AgentState[] | undefined {
  if (doc !== null && typeof doc === 'object' && !Array.isArray(doc)) {
    const o = doc as Record<string, unknown>;
    for (const k of LIST_KEYS) {
      if (o[k] !== null && typeof o[k] === 'object') {
        const inner = parseAgentStates(o[k]);
        if (inner) return inner;
      }
    }
    const out: AgentState[] = [];
    for (const [agent, v] of Object.entries(o)) {
      const state = stateOf(v);
      if (state === undefined) return undefined;
      out.push({ agent, state });
    }
    return out.length ? out : undefined;
  }
  if (Array.isArray(doc)) {
    const out: AgentState[] = [];
    for (const item of doc) {
      if (item === null || typeof item !== 'object') return undefined;
      const agent = nameOf(item as Record<string, unknown>);
      const state = stateOf(item);
      if (agent === undefined || state === undefined) return undefined;
      out.push({ agent, state });
    }
    return out;
  }
  return undefined;
}

/** A state as a label value: lower-case word characters, at most 32; anything else is `other`. */
export function stateLabel(state: string): string {
  const s = state.trim().toLowerCase();
  return /^[a-z0-9_.-]{1,32}$/.test(s) ? s : 'other';
}

/** An agent name as a label value: at most 64 characters. */
export function agentLabel(agent: string): string {
  return agent.length > 64 ? agent.slice(0, 64) : agent;
}
