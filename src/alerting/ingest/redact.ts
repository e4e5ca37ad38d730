import type { Labels } from '../../matchers.js';
import type { Webhook } from './payload.js';

export const REDACTED = '[REDACTED]';

const isDigit = (c: number) => c >= 48 && c <= 57;
const isNameChar = (c: number) => isDigit(c) || (c >= 65 && c <= 90) || (c >= 97 && c <= 122) || c === 95;

/** Redacts values whose name matches `re` (label names, annotation names, `name="value"` in groupKey). */
export class Redactor {
  private readonly re: RegExp;

  constructor(pattern: string) {
    this.re = new RegExp(pattern, 'i');
  }

  sensitive(name: string): boolean {
    return this.re.test(name);
  }

  labels(l: Labels): Labels {
    let out: Labels | undefined;
    for (const k of Object.keys(l)) {
      if (this.sensitive(k)) {
        out ??= { ...l };
        out[k] = REDACTED;
      }
    }
    return out ?? l;
  }

  /**
   * `{}/{severity="critical"}:{alertname="X", token="abc"}` → token="[REDACTED]". One pass:
   * each `="` is found by indexOf, its name read backwards and its quoted value forwards.
   */
  groupKey(key: string): string {
    let out = '';
    let copied = 0;
    let from = 0;
    for (;;) {
      const eq = key.indexOf('="', from);
      if (eq < 0) break;
      let nameStart = eq;
      while (nameStart > from && isNameChar(key.charCodeAt(nameStart - 1))) nameStart--;
      while (nameStart < eq && isDigit(key.charCodeAt(nameStart))) nameStart++;
      if (nameStart === eq) {
        // No name before it: not the start of a value.
        from = eq + 1;
        continue;
      }
      let close = eq + 2;
      while (close < key.length && key[close] !== '"') close += key[close] === '\\' ? 2 : 1;
      if (close >= key.length) break;
      const name = key.slice(nameStart, eq);
      if (this.sensitive(name)) {
        out += key.slice(copied, nameStart) + `${name}="${REDACTED}"`;
        copied = close + 1;
      }
      from = close + 1;
    }
    return copied === 0 ? key : out + key.slice(copied);
  }

  /** A copy of the webhook with every sensitive value replaced; applied before rendering and storing. */
  webhook(w: Webhook): Webhook {
    return {
      ...w,
      groupKey: this.groupKey(w.groupKey),
      groupLabels: this.labels(w.groupLabels),
      commonLabels: this.labels(w.commonLabels),
      commonAnnotations: this.labels(w.commonAnnotations),
      alerts: w.alerts.map((a) => ({
        ...a,
        labels: this.labels(a.labels),
        annotations: this.labels(a.annotations),
      })),
    };
  }
}
