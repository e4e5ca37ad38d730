import type { Labels } from '../../matchers.js';
import { mutedBy, type ActiveSilence } from '../maintenance/windows.js';
import type { IngestRecord, WebhookPlan } from '../model/notification.js';

// Mute stage: maintenance windows applied to planned notifications.

/** What muting consults: the maintenance windows, and the instant they are checked at. */
export interface MuteContext {
  silences: readonly ActiveSilence[];
  now: number;
}

/**
 * The mute policy: alerts notified together are muted when every one of them is under an
 * active maintenance window, by the windows over any of them (in the order of the alerts);
 * undefined when they are delivered.
 */
function mutedTogether(windows: readonly (readonly string[])[]): string[] | undefined {
  if (!windows.every((ids) => ids.length > 0)) return undefined;
  return [...new Set(windows.flat())];
}

/** The ids of the active windows over each alert. */
function windowsOver(alerts: readonly { labels: Labels }[], ctx: MuteContext): string[][] {
  return alerts.map((a) => mutedBy(ctx.silences, a.labels, ctx.now));
}

/**
 * A webhook's planned notifications under the active maintenance windows: the alerts under a
 * window are split off into notifications of their own, recorded `muted` with the windows'
 * ids; the others' jobs are those planned.
 */
export function muteWebhook(plan: WebhookPlan, ctx: MuteContext): IngestRecord {
  const windows = windowsOver(plan.webhook.alerts, ctx);
  const kept = plan.escalations ? { escalations: plan.escalations } : {};
  if (windows.every((ids) => ids.length === 0))
    return { jobs: plan.jobs, group: plan.group, event: plan.event, ...kept };
  const jobs = plan
    .notifications((i) => windows[i].length > 0)
    .flatMap((n) => {
      const by = mutedTogether(n.alerts.map((i) => windows[i]));
      return plan.jobsOf(by ? { ...n, mutedBy: by } : n);
    });
  return { jobs, group: plan.group, event: plan.event, ...kept };
}

/** An escalation carries the group's critical alerts: muted only when every one of them is. */
export function escalationMutedBy(
  alerts: readonly { labels: Labels }[],
  ctx: MuteContext,
): string[] | undefined {
  return mutedTogether(windowsOver(alerts, ctx));
}
