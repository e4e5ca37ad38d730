import { describe, expect, it } from 'vitest';
import { silenceBody } from '../../../src/alerting/acknowledgement/alertmanager-silence.js';
const now = Date.parse('2026-12-01T10:00:00Z');

describe('Alertmanager silence of an acknowledged group', () => {
  it('matches exactly the group labels', () => {
    expect(
      silenceBody({
        groupLabels: { service: 'postgres', alertname: 'PostgresDown' },
        startsAt: now,
        endsAt: now + 3_600_000,
        createdBy: 'carol',
        comment: 'on it',
      }),
    ).toEqual({
      matchers: [
        { name: 'alertname', value: 'PostgresDown', isRegex: false, isEqual: true },
        { name: 'service', value: 'postgres', isRegex: false, isEqual: true },
      ],
      startsAt: '2026-12-01T10:00:00.000Z',
      endsAt: '2026-12-01T11:00:00.000Z',
      createdBy: 'carol',
      comment: 'on it',
    });
  });
});
