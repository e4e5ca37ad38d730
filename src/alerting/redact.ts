import type { Labels } from './matchers.js';
import type { Webhook } from './payload.js';

export const REDACTED = '[REDACTED]';

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

  /** `{}/{severity="critical"}:{alertname="X", token="abc"}` → token="[REDACTED]". */
  groupKey(key: string): string {
    return key.replace(/([A-Za-z_][A-Za-z0-9_]*)="((?:[^"\\]|\\.)*)"/g, (m, name: string) =>
      this.sensitive(name) ? `${name}="${REDACTED}"` : m,
    );
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
