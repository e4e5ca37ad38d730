// Both outboxes store the same strings. PostgreSQL refuses NUL in text, and a UTF-16 half
// without its partner has no UTF-8 form (the driver would turn it into U+FFFD on its own);
// SQLite takes both. So every string is made storable the same way before either store sees it.

/** NUL, a high surrogate not followed by a low one, a low surrogate not preceded by a high one. */
// eslint-disable-next-line no-control-regex -- NUL is exactly what is looked for
const UNSTORABLE = /\u0000|[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g;
const HAS_UNSTORABLE = new RegExp(UNSTORABLE.source);

/** `text` with each character that a text column cannot hold replaced by U+FFFD. */
export function storableText(text: string): string {
  return HAS_UNSTORABLE.test(text) ? text.replace(UNSTORABLE, '\uFFFD') : text;
}

/**
 * `value` (plain data: strings, numbers, arrays, objects) with every string, keys included,
 * made storable. Parts without such characters are returned as they are, not copied.
 */
export function storable<T>(value: T): T {
  if (typeof value === 'string') return storableText(value) as T;
  if (Array.isArray(value)) {
    let out: unknown[] | undefined;
    value.forEach((v, i) => {
      const s = storable(v);
      if (s !== v) (out ??= [...value])[i] = s;
    });
    return (out ?? value) as T;
  }
  if (value !== null && typeof value === 'object' && Object.getPrototypeOf(value) === Object.prototype) {
    let out: Record<string, unknown> | undefined;
    for (const [k, v] of Object.entries(value)) {
      const sk = storableText(k);
      const sv = storable(v);
      if (sk !== k || sv !== v) {
        out ??= { ...(value as Record<string, unknown>) };
        if (sk !== k) delete out[k];
        out[sk] = sv;
      }
    }
    return (out ?? value) as T;
  }
  return value;
}
