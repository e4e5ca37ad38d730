import { randomUUID } from 'node:crypto';
import type { ReceiverConfig } from '../../config/receiver.js';
import { errorText, type Logger } from '../../logger.js';
import { ackLink, ackNote, keyFromToken, signingKey, type Acknowledgement } from './tokens.js';
import { createSilence, expireSilence } from './alertmanager-silence.js';
import { destinationOf } from '../model/destination.js';
import { alertNameOf } from '../render/text.js';
import type { AlertStore } from '../outbox/contract.js';
import type { Job, NotificationContent } from '../model/notification.js';

export interface AcknowledgeInput {
  groupKey: string;
  by: string;
  /** The recipient of the link, or `console`. */
  via: string;
  comment: string;
  /** Ask Alertmanager for a silence of the group this long (needs receiver.alertmanager_url). */
  silenceForMs?: number;
}

export interface AcknowledgementsDeps {
  /** The open outbox; throws (the caller answers 503) when it is not open. */
  requireStore: () => AlertStore;
  config: () => ReceiverConfig;
  /** The console's first-run token, when it is in use: signing keys derive from it. */
  consoleToken?: () => string | undefined;
  logger: Logger;
  now: () => number;
}

/**
 * Who acknowledged which group: recorded in the outbox, kept in memory for the delivery path
 * (which adds the Acknowledge link or "acknowledged by" to each notification), consulted by
 * the escalation check, and mirrored as an Alertmanager silence when asked.
 */
export class Acknowledgements {
  /** Active acknowledgements by group key. */
  private active = new Map<string, Acknowledgement>();
  private keyFor?: { cfg: ReceiverConfig; from: string | undefined; key: string };

  constructor(private readonly deps: AcknowledgementsDeps) {}

  /** Signs Acknowledge links and console sessions (follows configuration reloads). */
  get signingKey(): string {
    const cfg = this.deps.config();
    const from = this.deps.consoleToken?.();
    if (this.keyFor?.cfg !== cfg || this.keyFor.from !== from)
      this.keyFor = { cfg, from, key: signingKey(cfg, from ? () => keyFromToken(from) : undefined) };
    return this.keyFor.key;
  }

  /** Reads the active acknowledgements from the outbox (at start, and from other replicas). */
  async load(): Promise<void> {
    const active = await this.deps.requireStore().listAcks({ active: true, limit: 10_000 });
    this.active = new Map(active.map((a) => [a.groupKey, a]));
  }

  /** Group keys acknowledged now, read from the outbox: another replica may have recorded one. */
  async activeGroups(store: AlertStore): Promise<Set<string>> {
    return new Set((await store.listAcks({ active: true, limit: 10_000 })).map((a) => a.groupKey));
  }

  of(groupKey: string): Acknowledgement | undefined {
    return this.active.get(groupKey);
  }

  list(opts: { active?: boolean; limit: number }): Promise<Acknowledgement[]> {
    return this.deps.requireStore().listAcks(opts);
  }

  /** An acknowledged group's notifications say who acknowledged; a firing one otherwise links to the page. */
  forDelivery(
    job: Pick<Job, 'content' | 'channel' | 'recipients' | 'slackWebhook'>,
  ): NotificationContent['acknowledgement'] {
    const c = job.content;
    if (c.kind === 'test') return undefined;
    const ack = this.active.get(c.groupKey);
    if (ack) return { note: ackNote(ack) };
    if (c.status !== 'firing') return undefined;
    const claims = { groupKey: c.groupKey, recipient: destinationOf(job).names.join(', ') };
    const link = ackLink(this.deps.config(), this.signingKey, claims, this.deps.now());
    return link ? { link } : undefined;
  }

  /**
   * Records who acknowledged a group (which stops its escalation) and, when asked, silences
   * the group in Alertmanager. A silence that fails leaves the acknowledgement standing and
   * is reported back.
   */
  async acknowledge(input: AcknowledgeInput): Promise<{ ack: Acknowledgement; silenceError?: string }> {
    const store = this.deps.requireStore();
    const cfg = this.deps.config();
    const now = this.deps.now();
    const latest = (await store.list({ groupKey: input.groupKey, limit: 1 }))[0];
    const groupLabels = latest?.content.groupLabels ?? {};
    const ack: Acknowledgement = {
      id: randomUUID(),
      groupKey: input.groupKey,
      alertname: latest ? alertNameOf(latest.content) : '',
      groupLabels,
      by: input.by,
      via: input.via,
      at: now,
      comment: input.comment,
      silenceId: null,
      silenceEndsAt: null,
      endedAt: null,
      endedBy: null,
    };
    let silenceError: string | undefined;
    if (input.silenceForMs) {
      if (!cfg.alertmanager_url) silenceError = 'receiver.alertmanager_url is not set';
      else
        try {
          const endsAt = now + input.silenceForMs;
          ack.silenceId = await createSilence(cfg.alertmanager_url, {
            groupLabels,
            startsAt: now,
            endsAt,
            createdBy: input.by,
            comment: `Acknowledged in stackwatch${input.comment ? `: ${input.comment}` : ''}`,
          });
          ack.silenceEndsAt = endsAt;
        } catch (err) {
          silenceError = errorText(err);
        }
    }
    await store.putAck(ack);
    this.active.set(ack.groupKey, ack);
    this.deps.logger.info(
      { group: ack.groupKey, by: ack.by, via: ack.via, silence: ack.silenceId, silence_error: silenceError },
      'group acknowledged',
    );
    return { ack, silenceError };
  }

  /** Ends a group's acknowledgement (its escalation may fire again) and expires its silence. */
  async unacknowledge(groupKey: string, by: string): Promise<Acknowledgement | undefined> {
    const store = this.deps.requireStore();
    const now = this.deps.now();
    const ended = await store.endAck(groupKey, by, now);
    this.active.delete(groupKey);
    if (!ended) return undefined;
    const am = this.deps.config().alertmanager_url;
    if (ended.silenceId && am && (ended.silenceEndsAt ?? 0) > now)
      await expireSilence(am, ended.silenceId).catch((err) =>
        this.deps.logger.warn(
          { err: errorText(err), silence: ended.silenceId },
          'could not expire the silence',
        ),
      );
    this.deps.logger.info({ group: groupKey, by }, 'acknowledgement ended');
    return ended;
  }

  /** A group that resolved is over: when it fires again, nobody has acknowledged it yet. */
  async groupResolved(groupKey: string): Promise<void> {
    if (!this.active.has(groupKey)) return;
    this.active.delete(groupKey);
    await this.deps.requireStore().endAck(groupKey, 'resolved', this.deps.now());
  }
}
