import { createHash, randomBytes } from 'node:crypto';
import { errorText, type Logger } from '../../logger.js';
import type { SecretStore } from '../outbox/contract.js';

// The console's first run. With neither an API token nor basic auth configured, stackwatch
// makes a random console token at its first start and keeps it in the outbox (the data
// directory's receiver.sqlite, mode 0600; with PostgreSQL every replica shares it), and logs a
// one-time sign-in link, as Jupyter does. The link carries a separate single-use nonce, never
// the token: the token is not written to the log at all, so a log shipped elsewhere gives
// nobody lasting access. Until someone has signed in, each start logs a fresh link (the old
// ones stay valid until they expire or one is used); after that, `stackwatch console-token`
// prints the token to sign in with. A configured token or basic auth replaces it.

const TOKEN = 'console_token';
const SIGNED_IN = 'console_signed_in';
const NONCE = 'console_nonce:';
/** How long a sign-in link stays valid. */
export const SIGN_IN_LINK_TTL_MS = 24 * 3_600_000;
/** Path of the one-time sign-in page; the nonce follows. */
export const SIGN_IN_LINK_PATH = '/login/once/';

/** 256 random bits, with a prefix that says what it is (and lets secret scanners find it). */
const newToken = () => `swc_${randomBytes(32).toString('base64url')}`;
const nonceKey = (nonce: string) => `${NONCE}${createHash('sha256').update(nonce).digest('hex')}`;

/** The console token, made when the outbox has none; whether it was made now. */
export async function consoleTokenOf(
  store: SecretStore,
  now: number,
): Promise<{ token: string; created: boolean }> {
  const existing = await store.secret(TOKEN, now);
  if (existing) return { token: existing, created: false };
  const made = newToken();
  const token = await store.initSecret(TOKEN, made, now);
  return { token, created: token === made };
}

/** Replaces the console token: sessions signed with the old one end, sign-in links die. */
export async function rotateConsoleToken(store: SecretStore, now: number): Promise<string> {
  const token = newToken();
  await store.setSecret(TOKEN, token, now);
  await store.deleteSecrets(NONCE);
  return token;
}

export interface ConsoleTokenDeps {
  /** The outbox, when it is open. */
  store: () => SecretStore | undefined;
  logger: Logger;
  now: () => number;
}

/** The first-run console token as the running service holds it, and its one-time sign-in links. */
export class ConsoleToken {
  private token?: string;
  /** Where the sign-in link points, once the service listens and uses the console token. */
  private baseUrl?: string;
  private announced = false;

  constructor(private readonly deps: ConsoleTokenDeps) {}

  /** The token, once read from the outbox; undefined when it is not in use. */
  current(): string | undefined {
    return this.baseUrl === undefined ? undefined : this.token;
  }

  /** Uses the console token (neither an API token nor basic auth is configured); links point at `baseUrl`. */
  async enable(baseUrl: string): Promise<void> {
    this.baseUrl = baseUrl.replace(/\/+$/, '');
    await this.load();
  }

  /**
   * Reads the token (a rotation, or another replica's first start, shows within one call); the
   * first time, makes it if need be and logs how to sign in. Run at start and every few seconds.
   */
  async load(): Promise<void> {
    const store = this.deps.store();
    if (this.baseUrl === undefined || !store) return;
    const now = this.deps.now();
    try {
      if (this.announced) {
        this.token = (await store.secret(TOKEN, now)) ?? this.token;
        return;
      }
      const { token, created } = await consoleTokenOf(store, now);
      this.token = token;
      this.announced = true;
      if (created) this.deps.logger.info('console token made and kept in the outbox (first start)');
      if (await store.secret(SIGNED_IN, now)) {
        this.deps.logger.info(
          'the console signs in with its console token: `stackwatch console-token` prints it (or set receiver.api_token)',
        );
        return;
      }
      const nonce = randomBytes(32).toString('base64url');
      await store.setSecret(nonceKey(nonce), '1', now, now + SIGN_IN_LINK_TTL_MS);
      this.deps.logger.info(
        { url: `${this.baseUrl}${SIGN_IN_LINK_PATH}${nonce}`, valid_for: '24h' },
        'open the console: this link signs you in once',
      );
    } catch (err) {
      this.deps.logger.warn({ err: errorText(err) }, 'the console token could not be read from the outbox');
    }
  }

  /** Whether a sign-in link's nonce is valid now (it is not used up by asking). */
  async linkValid(nonce: string): Promise<boolean> {
    const store = this.deps.store();
    return Boolean(store && this.current() && (await store.secret(nonceKey(nonce), this.deps.now())));
  }

  /**
   * Uses up a sign-in link: true for the one request that takes its nonce. The other links
   * die with it, and later starts log no new link.
   */
  async takeLink(nonce: string): Promise<boolean> {
    const store = this.deps.store();
    if (!store || !this.current() || !(await store.takeSecret(nonceKey(nonce), this.deps.now())))
      return false;
    await store.deleteSecrets(NONCE);
    await this.signedIn();
    return true;
  }

  /** Someone has signed in: later starts log no sign-in link. */
  async signedIn(): Promise<void> {
    const store = this.deps.store();
    if (store && this.current()) await store.setSecret(SIGNED_IN, '1', this.deps.now());
  }
}
