import { describe, expect, it } from 'vitest';
import { ContactBook, words } from '../../../src/alerting/ingest/contacts.js';
import { receiverSection } from '../../../src/config/receiver.js';
const defaults = receiverSection.parse({});
const book = new ContactBook(defaults);

describe('contacts', () => {
  it('splits label values into words', () => {
    expect(words('postgres_exporter')).toEqual(['postgres', 'exporter']);
    expect(words('DiskSpaceLow')).toEqual(['disk', 'space', 'low']);
    expect(words('HTTPServerDown')).toEqual(['http', 'server', 'down']);
  });

  it('names the area role and, for critical, On-Call, with name, phone and email', () => {
    const roles = (labels: Record<string, string>) => book.responsible([{ labels }]).map((c) => c.role);
    expect(roles({ alertname: 'PostgresDown', severity: 'critical' })).toEqual(['oncall', 'dba']);
    expect(roles({ alertname: 'X', service: 'redis' })).toEqual(['dba']);
    expect(roles({ alertname: 'X', job: 'postgres_exporter' })).toEqual(['dba']);
    expect(roles({ alertname: 'DiskSpaceLow', severity: 'warning' })).toEqual(['devops']);
    expect(roles({ alertname: 'ContainerRestarting', service: 'api' })).toEqual(['devops']);
    expect(roles({ alertname: 'ApiHighLatency', severity: 'warning', service: 'api' })).toEqual([]);
    // "nodejs" is not "node": words, not substrings
    expect(roles({ alertname: 'X', service: 'nodejs-api' })).toEqual([]);
    const [oncall] = book.responsible([{ labels: { severity: 'critical' } }]);
    expect(oncall).toMatchObject({
      title: 'On-Call',
      name: '值班',
      phone: '13800138000',
      email: 'oncall@company.com',
    });
    expect(book.role('techlead')).toMatchObject({
      name: '技术负责人',
      phone: '13800138003',
      email: 'tech@company.com',
    });
    expect(book.role('dba')).toMatchObject({
      name: '数据库管理员',
      phone: '13800138001',
      email: 'dba@company.com',
    });
    expect(book.role('devops')).toMatchObject({
      name: '运维工程师',
      phone: '13800138002',
      email: 'devops@company.com',
    });
  });

  it('resolves role recipients to addresses', () => {
    expect(book.resolveRecipients(['role:dba', 'ops@x.io', 'role:dba'])).toEqual([
      'dba@company.com',
      'ops@x.io',
    ]);
  });

  it('uses configured area rules', () => {
    const b = new ContactBook(
      receiverSection.parse({
        areas: [{ name: 'queues', role: 'devops', labels: ['team'], match: 'kafka|rabbit.*' }],
      }),
    );
    expect(b.responsible([{ labels: { team: 'rabbitmq-ops' } }]).map((c) => c.role)).toEqual(['devops']);
    expect(b.responsible([{ labels: { service: 'postgres' } }])).toEqual([]);
  });
});
