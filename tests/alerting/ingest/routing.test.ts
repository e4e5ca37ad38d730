import { describe, expect, it } from 'vitest';
import { Router } from '../../../src/alerting/ingest/routing.js';
import { validateConfig } from '../../../src/config/load.js';
import { receiverSection } from '../../../src/config/receiver.js';
const defaults = receiverSection.parse({});
const router = new Router(defaults);

describe('routing', () => {
  it('ships the manuals’ routing table', () => {
    const route = (labels: Record<string, string>) => router.match(labels).map((m) => m.receiver);
    expect(route({ severity: 'critical' })).toEqual(['team-ops-critical']);
    expect(route({ severity: 'warning' })).toEqual(['team-ops-warning']);
    expect(route({ severity: 'info' })).toEqual(['team-ops']);
    expect(route({})).toEqual(['team-ops']);
    expect(router.receivers.get('team-ops-critical')).toMatchObject({
      channels: ['email', 'slack'],
      recipients: ['ops@your-company.com', 'oncall@your-company.com'],
    });
    expect(router.receivers.get('team-ops-warning')).toMatchObject({ channels: ['email'] });
    expect(router.receivers.get('team-ops')).toMatchObject({
      channels: ['email', 'slack'],
      recipients: ['ops@your-company.com'],
    });
  });

  it('follows order, continue, nesting and inherited receivers', () => {
    const cfg = receiverSection.parse({
      receivers: [{ name: 'default' }, { name: 'dba' }, { name: 'pager' }, { name: 'db-critical' }],
      route: {
        receiver: 'default',
        routes: [
          { matchers: ['severity="critical"'], receiver: 'pager', continue: true },
          {
            matchers: [{ label: 'service', op: '=~', value: 'postgres|redis' }],
            receiver: 'dba',
            routes: [
              { matchers: ['severity="critical"'], receiver: 'db-critical' },
              { matchers: ['env!~"prod.*"'] },
            ],
          },
          { matchers: ['service="postgres"'], receiver: 'pager' },
        ],
      },
    });
    const r = new Router(cfg);
    const route = (labels: Record<string, string>) => r.match(labels).map((m) => m.receiver);
    expect(route({ severity: 'critical', service: 'postgres' })).toEqual(['pager', 'db-critical']);
    expect(route({ severity: 'warning', service: 'redis', env: 'prod-eu' })).toEqual(['dba']);
    // nested route without receiver inherits its parent's
    expect(route({ severity: 'warning', service: 'redis', env: 'dev' })).toEqual(['dba']);
    // first match without continue stops: the later postgres route is not reached
    expect(route({ service: 'postgres', env: 'prod' })).toEqual(['dba']);
    expect(route({ service: 'postgresql' })).toEqual(['default']);
  });

  it('rejects unknown receivers, roles and bad matchers in the config, naming the path', () => {
    const bad = (receiver: unknown, re: RegExp) => expect(() => validateConfig({ receiver })).toThrow(re);
    bad({ route: { receiver: 'nobody' } }, /receiver\.route\.receiver: unknown receiver "nobody"/);
    bad(
      { receivers: [{ name: 'x', recipients: ['role:ghost'] }], route: { receiver: 'x' } },
      /recipients\[0\]: unknown contact role/,
    );
    bad({ route: { receiver: 'team-ops', routes: [{ matchers: ['sev'] }] } }, /invalid matcher "sev"/);
    bad(
      { receivers: [{ name: 'x', recipients: ['not an address'] }], route: { receiver: 'x' } },
      /email address or role/,
    );
  });
});
