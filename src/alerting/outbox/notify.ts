// How replicas sharing a PostgreSQL outbox tell each other what changed in the pending work:
// each change is announced with NOTIFY in the transaction that makes it (so it is delivered
// only if it commits, and in commit order), and every replica LISTENs. A payload names the
// notifications by id (runs of ids as ranges); a replica reads the rows of notifications
// recorded by another, and applies claims, retries and completions as they are. PostgreSQL
// refuses payloads of 8,000 bytes or more: a large change is split into several.

/** A change as it travels between replicas: recorded notifications by id only. */
export type WireChange =
  | { kind: 'pending'; ids: number[] }
  | { kind: 'claimed'; ids: number[]; until: number }
  | { kind: 'retry'; retries: { id: number; nextAttemptAt: number }[] }
  | { kind: 'done'; ids: number[] };

/** Payload bytes at most, well under PostgreSQL's limit (8,000) with the JSON around the list. */
const PAYLOAD_MAX = 7000;

const KIND_CODES = { pending: 'p', claimed: 'c', retry: 'r', done: 'd' } as const;
const CODE_KINDS = { p: 'pending', c: 'claimed', r: 'retry', d: 'done' } as const;

interface Payload {
  /** The replica that made the change. */
  o: string;
  k: 'p' | 'c' | 'r' | 'd';
  /** Ids as `1-5,9`; retries as `id:at` pairs. */
  i: string;
  /** Claimed until. */
  u?: number;
}

/** `[1,2,3,5]` → `['1-3', '5']`: sorted ids as runs. */
function runs(ids: readonly number[]): string[] {
  const sorted = [...new Set(ids)].sort((a, b) => a - b);
  const out: string[] = [];
  for (let i = 0; i < sorted.length;) {
    let j = i;
    while (j + 1 < sorted.length && (sorted[j + 1] as number) === (sorted[j] as number) + 1) j++;
    out.push(i === j ? String(sorted[i]) : `${sorted[i]}-${sorted[j]}`);
    i = j + 1;
  }
  return out;
}

/** Splits list items into payloads of at most PAYLOAD_MAX bytes. */
function chunks(owner: string, k: Payload['k'], items: readonly string[], until?: number): string[] {
  const out: string[] = [];
  let part: string[] = [];
  let length = 0;
  const flush = () => {
    if (!part.length) return;
    const p: Payload = { o: owner, k, i: part.join(','), ...(until !== undefined ? { u: until } : {}) };
    out.push(JSON.stringify(p));
    part = [];
    length = 0;
  };
  for (const item of items) {
    if (length + item.length + 1 > PAYLOAD_MAX) flush();
    part.push(item);
    length += item.length + 1;
  }
  flush();
  return out;
}

/** The NOTIFY payloads announcing one change made by `owner`. */
export function encodeChange(owner: string, c: WireChange): string[] {
  if (c.kind === 'retry')
    return chunks(
      owner,
      'r',
      c.retries.map((r) => `${r.id}:${r.nextAttemptAt}`),
    );
  return chunks(owner, KIND_CODES[c.kind], runs(c.ids), c.kind === 'claimed' ? c.until : undefined);
}

function parseIds(list: string): number[] {
  const ids: number[] = [];
  for (const part of list.split(',')) {
    const [a, b] = part.split('-').map(Number);
    if (a === undefined || !Number.isSafeInteger(a)) continue;
    const end = b !== undefined && Number.isSafeInteger(b) ? b : a;
    for (let id = a; id <= end; id++) ids.push(id);
  }
  return ids;
}

/** A payload read back: who made the change and what it is; undefined when it is not one of ours. */
export function decodeChange(payload: string): { owner: string; change: WireChange } | undefined {
  let p: Payload;
  try {
    p = JSON.parse(payload) as Payload;
  } catch {
    return undefined;
  }
  if (typeof p?.o !== 'string' || typeof p.i !== 'string' || !(p.k in CODE_KINDS)) return undefined;
  const kind = CODE_KINDS[p.k];
  if (kind === 'retry') {
    const retries = p.i.split(',').flatMap((pair) => {
      const [id, at] = pair.split(':').map(Number);
      return Number.isSafeInteger(id) && Number.isFinite(at)
        ? [{ id: id as number, nextAttemptAt: at as number }]
        : [];
    });
    return { owner: p.o, change: { kind, retries } };
  }
  const ids = parseIds(p.i);
  if (kind === 'claimed') return { owner: p.o, change: { kind, ids, until: Number(p.u) || 0 } };
  return { owner: p.o, change: { kind, ids } };
}
