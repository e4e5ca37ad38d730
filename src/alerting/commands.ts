import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { loadConfig } from '../config/load.js';
import { createLogger, type Logger } from '../logger.js';
import type { Config } from '../config/schema.js';
import type { Labels } from '../matchers.js';
import { CHANNELS, type ChannelName } from '../config/receiver.js';
import { templatePreview, type TemplatePreview } from './channels/preview.js';
import type { Job } from './model/notification.js';
import { sendTestNotifications } from './channels/send-test.js';
import { buildSetup, closeSetup, routeTestWith } from './setup.js';
import type { RouteTestResult } from './ingest/routing.js';
import { legacyEscalationNote } from './escalation/legacy.js';
import { consoleTokenOf, rotateConsoleToken } from './access/console-token.js';
import { openOutbox, SQLITE_FILE } from './outbox/open.js';

/** What check-config tells about a valid configuration beyond its validity. */
export function configNotes(config: Config): string[] {
  const note = legacyEscalationNote(config.receiver);
  return note ? [note] : [];
}

/** For the CLI: just enough to route-test or send-test without starting the service or its outbox. */
export function offlineReceiver(config: Config, logger: Logger) {
  const setup = buildSetup(config.receiver, logger);
  return {
    routeTest: (labels: Labels) => routeTestWith(setup, setup.configSilences, labels, Date.now()),
    sendTest: () => sendTestNotifications(setup, { closeAfter: true }),
  };
}

/** `label=value` arguments (values may be quoted) to a label set. */
export function parseLabelArgs(args: readonly string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const a of args) {
    const m = /^([A-Za-z_][A-Za-z0-9_]*)=(.*)$/s.exec(a);
    if (!m) throw new Error(`expected label=value, got ${JSON.stringify(a)}`);
    let v = m[2] as string;
    if (v.length >= 2 && v.startsWith('"') && v.endsWith('"')) v = v.slice(1, -1);
    labels[m[1] as string] = v;
  }
  return labels;
}

export function formatRouteTest(r: RouteTestResult): string {
  const out: string[] = [];
  out.push(
    `labels: ${
      Object.entries(r.labels)
        .map(([k, v]) => `${k}=${JSON.stringify(v)}`)
        .join(' ') || '(none)'
    }`,
  );
  r.receivers.forEach((rc, i) => {
    const route = r.routes[i];
    out.push(
      `receiver: ${rc.name}${route ? `  (${route.path}${route.matchers.length ? ` ${route.matchers.join(', ')}` : ''})` : ''}`,
    );
    for (const ch of rc.channels) out.push(`  ${ch}${ch === 'email' ? `: ${rc.recipients.join(', ')}` : ''}`);
  });
  out.push('contacts:');
  if (r.contacts.length === 0) out.push('  (none)');
  for (const c of r.contacts) out.push(`  ${c.title} ${c.name}  ${c.phone}  ${c.email}  (${c.reason})`);
  if (r.muted_by?.length) out.push(`muted by maintenance window: ${r.muted_by.join(', ')}`);
  return out.join('\n') + '\n';
}

const USAGES: Record<string, string> = {
  'route-test': 'usage: stackwatch route-test [--config.file=FILE] [--json] label=value...\n',
  'send-test': 'usage: stackwatch send-test [--config.file=FILE]\n',
  'template-test':
    'usage: stackwatch template-test [--config.file=FILE] [--receiver=NAME] [--channel=CHANNEL] [--id=NOTIFICATION] [--json]\n',
};

function usage(cmd: string): number {
  process.stderr.write(USAGES[cmd] ?? '');
  return 2;
}

export function formatPreviews({ receiver, what, previews }: TemplatePreview): string {
  const out: string[] = [`receiver ${receiver}: ${what}`];
  for (const p of previews) {
    out.push('', `== ${p.channel} → ${p.destination}`);
    if (p.error) {
      out.push(`error: ${p.error}`);
      continue;
    }
    if (p.request) out.push(p.request);
    for (const [k, v] of Object.entries(p.headers ?? {})) out.push(`${k}: ${v}`);
    if (p.request) out.push('');
    out.push(p.body);
  }
  return `${out.join('\n')}\n`;
}

/**
 * `stackwatch template-test`: each channel's message for a receiver, rendered from a sample
 * critical notification or from a notification the outbox holds (`--id`); nothing is sent.
 * Exits 1 when a channel cannot render it.
 */
export async function templateTestCommand(argv: string[]): Promise<number> {
  let values: { 'config.file'?: string; receiver?: string; channel?: string; id?: string; json?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: {
        'config.file': { type: 'string' },
        receiver: { type: 'string' },
        channel: { type: 'string' },
        id: { type: 'string' },
        json: { type: 'boolean' },
      },
    }));
    if (values.channel !== undefined && !(CHANNELS as readonly string[]).includes(values.channel))
      throw new Error(
        `--channel: expected one of ${CHANNELS.join(', ')}, got ${JSON.stringify(values.channel)}`,
      );
    if (values.id !== undefined && !/^\d+$/.test(values.id))
      throw new Error(`--id: expected a notification id, got ${JSON.stringify(values.id)}`);
  } catch (err) {
    process.stderr.write(`template-test: ${(err as Error).message}\n`);
    return usage('template-test');
  }
  const config = loadConfig(values['config.file']);
  const logger = createLogger('error');
  const setup = buildSetup(config.receiver, logger);
  try {
    let job: Job | undefined;
    if (values.id !== undefined) {
      const opened = await openOutbox(config.receiver.store, { dataDir: config.data_dir, logger });
      if ('error' in opened) throw new Error(`the outbox cannot be opened: ${opened.error}`);
      try {
        job = await opened.store.get(Number(values.id));
      } finally {
        await opened.store.close();
      }
      if (!job) throw new Error(`no notification ${values.id} in the outbox`);
    }
    const t = templatePreview(setup, {
      receiver: values.receiver,
      channel: values.channel as ChannelName | undefined,
      job,
    });
    process.stdout.write(values.json ? `${JSON.stringify(t.previews, null, 2)}\n` : formatPreviews(t));
    return t.previews.some((p) => p.error) ? 1 : 0;
  } catch (err) {
    process.stderr.write(`template-test: ${(err as Error).message}\n`);
    return 1;
  } finally {
    await closeSetup(setup);
  }
}

export async function routeTestCommand(argv: string[]): Promise<number> {
  let values: { 'config.file'?: string; json?: boolean };
  let positionals: string[];
  let labels: Record<string, string>;
  try {
    ({ values, positionals } = parseArgs({
      args: argv,
      options: { 'config.file': { type: 'string' }, json: { type: 'boolean' } },
      allowPositionals: true,
    }));
    labels = parseLabelArgs(positionals);
  } catch (err) {
    process.stderr.write(`route-test: ${(err as Error).message}\n`);
    return usage('route-test');
  }
  const config = loadConfig(values['config.file']);
  const r = offlineReceiver(config, createLogger('error')).routeTest(labels);
  process.stdout.write(values.json ? `${JSON.stringify(r, null, 2)}\n` : formatRouteTest(r));
  return 0;
}

export async function sendTestCommand(argv: string[]): Promise<number> {
  let values: { 'config.file'?: string };
  try {
    ({ values } = parseArgs({ args: argv, options: { 'config.file': { type: 'string' } } }));
  } catch (err) {
    process.stderr.write(`send-test: ${(err as Error).message}\n`);
    return usage('send-test');
  }
  const config = loadConfig(values['config.file']);
  const results = await offlineReceiver(config, createLogger('info')).sendTest();
  let ok = true;
  for (const r of results) {
    const res = r.result;
    if (res.kind !== 'success') ok = false;
    const what =
      res.kind === 'success'
        ? 'ok'
        : `${res.kind === 'retryable' ? 'failed (transient)' : 'failed'}: ${res.reason}`;
    process.stdout.write(`${r.channel} (${r.mode}) ${r.recipients.join(', ')}: ${what}\n`);
  }
  return ok ? 0 : 1;
}

/**
 * `console-token`: prints the console's first-run token (made if the outbox has none), or
 * replaces it with `--rotate`. It opens the service's own outbox, so it runs where the service
 * runs, with its configuration and data directory.
 */
export async function consoleTokenCommand(argv: string[]): Promise<number> {
  let values: { 'config.file'?: string; rotate?: boolean };
  try {
    ({ values } = parseArgs({
      args: argv,
      options: { 'config.file': { type: 'string' }, rotate: { type: 'boolean' } },
    }));
  } catch (err) {
    process.stderr.write(
      `console-token: ${(err as Error).message}\nusage: stackwatch console-token [--config.file=FILE] [--rotate]\n`,
    );
    return 2;
  }
  const config = loadConfig(values['config.file']);
  const fail = (why: string) => (process.stderr.write(`console-token: ${why}\n`), 1);
  const r = config.receiver;
  if (!r.enabled) return fail('the alert receiver is disabled, and the console with it');
  if (r.api_token || r.webhook_token)
    return fail(
      'receiver.api_token (or webhook_token) is set: the console signs in with it, not a console token',
    );
  const file = join(config.data_dir, SQLITE_FILE);
  if (r.store.type === 'sqlite' && !existsSync(file))
    return fail(
      `no outbox at ${file}: run this where stackwatch runs, with its --config.file and STACKWATCH_DATA_DIR`,
    );
  const opened = await openOutbox(r.store, { dataDir: config.data_dir, logger: createLogger('error') });
  if ('error' in opened) return fail(`cannot open the outbox: ${opened.error}`);
  try {
    const now = Date.now();
    const token = values.rotate
      ? await rotateConsoleToken(opened.store, now)
      : (await consoleTokenOf(opened.store, now)).token;
    process.stdout.write(`${token}\n`);
    if (values.rotate)
      process.stderr.write(
        'console token replaced: the running service takes it within 10 s; whoever signed in with the old one is signed out\n',
      );
    return 0;
  } finally {
    await opened.store.close();
  }
}
