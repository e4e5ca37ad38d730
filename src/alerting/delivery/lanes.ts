import type { RouteInput } from '../../config/receiver.js';
import { matchesAll, toMatcher, type Matcher } from '../../matchers.js';
import type { NotificationContent } from '../model/notification.js';

/** stackwatch's own alerts: above every severity, so a storm cannot hold up the alert about it. */
export const SELF_LANE = 'self';
/** Notifications whose label matches no configured lane value. */
export const OTHER_LANE = 'other';

export interface LaneOptions {
  /** The label whose value picks the lane (`severity`). */
  label: string;
  /** Lane values, most important first (`[critical, warning]`). */
  order: readonly string[];
  /** Matchers of stackwatch's own alerts; an empty list turns the self lane off. */
  selfMatchers: readonly Parameters<typeof toMatcher>[0][];
  /** Off: every notification is in one lane, and delivery is first recorded, first sent. */
  enabled: boolean;
}

/**
 * The severity value each route matches with `label="value"`, in routing-table order: the
 * default lane order, so that a routing table with `severity="page"` gets a `page` lane.
 */
export function laneOrderFromRoutes(route: RouteInput, label: string): string[] {
  const out: string[] = [];
  const walk = (r: RouteInput) => {
    for (const m of r.matchers ?? []) {
      const matcher = toMatcher(m);
      if (matcher.label === label && matcher.op === '=' && !out.includes(matcher.value))
        out.push(matcher.value);
    }
    r.routes?.forEach(walk);
  };
  walk(route);
  return out;
}

/**
 * Severity lanes. A lower rank is taken first: the self lane, then each value of `order`,
 * then `other`. Lanes up to the first of `order` are urgent: sent one by one, never held
 * for a digest while the destination's budget can carry them.
 */
export class Lanes {
  readonly names: readonly string[];
  private readonly rankOf = new Map<string, number>();
  private readonly self: Matcher[];

  constructor(private readonly opts: LaneOptions) {
    this.self = opts.selfMatchers.map(toMatcher);
    this.names = opts.enabled
      ? [...(this.self.length ? [SELF_LANE] : []), ...opts.order, OTHER_LANE]
      : [OTHER_LANE];
    this.names.forEach((n, i) => this.rankOf.set(n, i));
  }

  /** The lane of a notification: the most important lane among its alerts (the firing ones, if any). */
  laneOf(content: {
    alerts: readonly Pick<NotificationContent['alerts'][number], 'status' | 'labels'>[];
    commonLabels: NotificationContent['commonLabels'];
  }): string {
    if (!this.opts.enabled) return OTHER_LANE;
    const firing = content.alerts.filter((a) => a.status === 'firing');
    const alerts = firing.length ? firing : content.alerts;
    const labelSets = alerts.length ? alerts.map((a) => a.labels) : [content.commonLabels];
    let best = OTHER_LANE;
    for (const labels of labelSets) {
      const lane =
        this.self.length && matchesAll(this.self, labels)
          ? SELF_LANE
          : this.rankOf.has(labels[this.opts.label] ?? '')
            ? (labels[this.opts.label] as string)
            : OTHER_LANE;
      if (this.rank(lane) < this.rank(best)) best = lane;
    }
    return best;
  }

  /** Rank of a stored lane name; a lane removed by a reload counts as `other`. */
  rank(lane: string): number {
    return this.rankOf.get(lane) ?? (this.rankOf.get(OTHER_LANE) as number);
  }

  /** Urgent lanes go one by one: the self lane and the first configured value (critical). */
  urgent(lane: string): boolean {
    if (!this.opts.enabled) return false;
    const r = this.rank(lane);
    const first = this.opts.order[0];
    return lane === SELF_LANE || (first !== undefined && r <= this.rank(first));
  }
}
