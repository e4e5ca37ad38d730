export type MatchOp = '=' | '!=' | '=~' | '!~';

export interface Matcher {
  label: string;
  op: MatchOp;
  value: string;
  /** Anchored regex for `=~`/`!~` (Alertmanager anchors both ends). */
  re?: RegExp;
}

export type Labels = Record<string, string>;

const MATCHER_RE = /^\s*([A-Za-z_][A-Za-z0-9_]*)\s*(=~|!~|!=|=)\s*(.*?)\s*$/s;

function unquote(raw: string): string {
  if (raw.length >= 2 && raw.startsWith('"') && raw.endsWith('"')) {
    try {
      return JSON.parse(raw) as string;
    } catch {
      throw new Error(`invalid quoted value ${raw}`);
    }
  }
  if (raw.includes('"')) throw new Error(`unbalanced quotes in value ${raw}`);
  return raw;
}

/** Builds a matcher, compiling the anchored regex. Throws with the bad part named. */
export function makeMatcher(label: string, op: MatchOp, value: string): Matcher {
  const m: Matcher = { label, op, value };
  if (op === '=~' || op === '!~') {
    try {
      m.re = new RegExp(`^(?:${value})$`, 's');
    } catch (err) {
      throw new Error(`invalid regular expression ${JSON.stringify(value)}: ${(err as Error).message}`, {
        cause: err,
      });
    }
  }
  return m;
}

/** Parses one Alertmanager matcher string: `severity="critical"`, `service=~"pg|redis"`, `env!=dev`. */
export function parseMatcher(text: string): Matcher {
  const m = MATCHER_RE.exec(text);
  if (!m)
    throw new Error(
      `invalid matcher ${JSON.stringify(text)} (expected label="value", label!="value", label=~"re" or label!~"re")`,
    );
  return makeMatcher(m[1] as string, m[2] as MatchOp, unquote(m[3] as string));
}

/** Accepts the string or the structured `{label, op, value}` form. */
export function toMatcher(input: string | { label: string; op?: MatchOp; value: string }): Matcher {
  return typeof input === 'string'
    ? parseMatcher(input)
    : makeMatcher(input.label, input.op ?? '=', input.value);
}

/** A missing label matches as the empty string, as in Alertmanager. */
export function matches(m: Matcher, labels: Labels): boolean {
  const v = labels[m.label] ?? '';
  switch (m.op) {
    case '=':
      return v === m.value;
    case '!=':
      return v !== m.value;
    case '=~':
      return (m.re as RegExp).test(v);
    case '!~':
      return !(m.re as RegExp).test(v);
  }
}

export function matchesAll(ms: readonly Matcher[], labels: Labels): boolean {
  return ms.every((m) => matches(m, labels));
}

export function matcherText(m: Matcher): string {
  return `${m.label}${m.op}${JSON.stringify(m.value)}`;
}
