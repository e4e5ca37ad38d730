import type { ReceiverConfig } from '../../config/receiver.js';
import { SHIFT } from '../../config/oncall.js';
import { instantOf, parseWallClock, parseZonedTime, wallClock } from '../../zoned-time.js';
import {
  duties,
  nextHandoff,
  onDutyAt,
  type Duty,
  type Rotation,
  type Schedule,
  type ScheduleOverride,
} from './schedule.js';

/** Someone schedules and escalation policies can page. */
export interface Person {
  id: string;
  name: string;
  email: string;
  phone: string;
  slack_user_id?: string;
  feishu_user_id?: string;
}

/** Who is on duty in a schedule at an instant: what the contact book asks. */
export interface DutyRoster {
  onDuty(schedule: string, at: number): Person[];
}

/** A schedule as the API and the console show it. */
export interface ScheduleStatus {
  name: string;
  timeZone: string;
  onDuty: Person[];
  nextHandoff?: { at: number; onDuty: Person[] };
  rotations: { name: string; participants: string[]; shift: string; handoff: string }[];
  overrides: ScheduleOverride[];
  /** Each person's duties from now to the end of the look-ahead. */
  shifts: (Duty & { name: string })[];
}

const WEEK_MS = 7 * 86_400_000;

function compileSchedule(s: ReceiverConfig['schedules'][number]): Schedule {
  return {
    name: s.name,
    timeZone: s.time_zone,
    rotations: s.rotations.map((r, i): Rotation => {
      const [, count, unit] = SHIFT.exec(r.shift) as RegExpExecArray;
      // The handoff given with an offset is that instant's wall-clock time in the zone.
      const handoffWall =
        parseWallClock(r.handoff) ?? wallClock(s.time_zone, parseZonedTime(r.handoff, s.time_zone) as number);
      return {
        name: r.name || `rotation ${i + 1}`,
        participants: r.participants,
        shift: { count: Number(count), unit: unit as Rotation['shift']['unit'] },
        handoffWall,
        handoffAt: instantOf(s.time_zone, handoffWall),
      };
    }),
  };
}

/**
 * The people and schedules of the configuration, with the overrides of both the configuration
 * and the API (stored in the outbox): who is on duty, when the duty changes hands, and each
 * person's shifts ahead.
 */
export class Roster implements DutyRoster {
  private readonly people: Map<string, Person>;
  private readonly schedules: Map<string, Schedule>;
  private readonly configOverrides: ScheduleOverride[];

  constructor(
    private readonly cfg: Pick<ReceiverConfig, 'people' | 'schedules'>,
    private readonly apiOverrides: () => readonly ScheduleOverride[] = () => [],
  ) {
    this.people = new Map(cfg.people.map((p) => [p.id, { ...p }]));
    this.schedules = new Map(cfg.schedules.map((s) => [s.name, compileSchedule(s)]));
    this.configOverrides = cfg.schedules.flatMap((s) =>
      s.overrides.map((o, i) => ({
        id: `config-${s.name}-${i}`,
        schedule: s.name,
        person: o.person,
        start: parseZonedTime(o.start, s.time_zone) as number,
        end: parseZonedTime(o.end, s.time_zone) as number,
        comment: o.comment,
        createdBy: 'config',
        createdAt: 0,
        source: 'config' as const,
      })),
    );
  }

  person(id: string): Person | undefined {
    return this.people.get(id);
  }

  schedule(name: string): Schedule | undefined {
    return this.schedules.get(name);
  }

  names(): string[] {
    return [...this.schedules.keys()];
  }

  /** The overrides of a schedule, from the configuration and the API, by start. */
  overridesOf(name: string): ScheduleOverride[] {
    return [...this.configOverrides, ...this.apiOverrides()]
      .filter((o) => o.schedule === name)
      .sort((a, b) => a.start - b.start);
  }

  private persons(ids: readonly string[]): Person[] {
    return ids.flatMap((id) => {
      const p = this.people.get(id);
      return p ? [p] : [];
    });
  }

  onDuty(schedule: string, at: number): Person[] {
    const s = this.schedules.get(schedule);
    return s ? this.persons(onDutyAt(s, this.overridesOf(schedule), at)) : [];
  }

  /** A schedule now: who is on duty, the next handoff, the overrides and `weeks` of shifts. */
  status(name: string, at: number, weeks: number): ScheduleStatus | undefined {
    const s = this.schedules.get(name);
    if (!s) return undefined;
    const overrides = this.overridesOf(name);
    const next = nextHandoff(s, overrides, at);
    const spec = this.cfg.schedules.find((x) => x.name === name);
    return {
      name,
      timeZone: s.timeZone,
      onDuty: this.persons(onDutyAt(s, overrides, at)),
      nextHandoff: next && { at: next.at, onDuty: this.persons(next.people) },
      rotations: s.rotations.map((r, i) => ({
        name: r.name,
        participants: r.participants,
        shift: spec?.rotations[i]?.shift ?? '',
        handoff: spec?.rotations[i]?.handoff ?? '',
      })),
      overrides: overrides.filter((o) => o.end > at),
      shifts: duties(s, overrides, at, at + weeks * WEEK_MS).map((d) => ({
        ...d,
        name: this.people.get(d.person)?.name ?? d.person,
      })),
    };
  }
}
