import type { MatcherInput } from '../../config/receiver.js';
import { matchesAll, matcherText, toMatcher, type Labels, type Matcher } from '../../matchers.js';

/** A maintenance window: matching notifications are recorded as `muted` instead of being sent. */
export interface Silence {
  id: string;
  matchers: string[];
  startsAt: number;
  endsAt: number;
  comment: string;
  createdBy: string;
  source: 'config' | 'api';
}

export interface ActiveSilence extends Silence {
  compiled: Matcher[];
}

export function compileSilence(s: Silence): ActiveSilence {
  return { ...s, compiled: s.matchers.map((m) => toMatcher(m)) };
}

export function normaliseMatchers(inputs: readonly MatcherInput[]): string[] {
  return inputs.map((m) => matcherText(toMatcher(m)));
}

/** Ids of the silences active at `now` that match these labels. */
export function mutedBy(silences: readonly ActiveSilence[], labels: Labels, now: number): string[] {
  const out: string[] = [];
  for (const s of silences)
    if (s.startsAt <= now && now < s.endsAt && matchesAll(s.compiled, labels)) out.push(s.id);
  return out;
}
