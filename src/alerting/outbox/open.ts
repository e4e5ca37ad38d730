import type { ReceiverConfig } from '../../config/receiver.js';
import { errorText, type Logger } from '../../logger.js';
import { scrubSecrets, urlPassword } from '../../secrets.js';
import type { AlertStore } from './contract.js';

/** The SQLite outbox's file in the data directory. */
export const SQLITE_FILE = 'receiver.sqlite';

export class StoreUnavailableError extends Error {
  override name = 'StoreUnavailableError';
}

/**
 * Opens the configured outbox; on failure (logged) the reason, password-free. The store's
 * driver (better-sqlite3 or pg) is loaded here, so the service holds only the one it uses.
 */
export async function openOutbox(
  st: ReceiverConfig['store'],
  opts: { dataDir: string; logger: Logger },
): Promise<{ store: AlertStore } | { error: string }> {
  const where =
    st.type === 'postgres' ? { store: 'postgres', schema: st.schema } : { data_dir: opts.dataDir };
  try {
    const store =
      st.type === 'postgres'
        ? await (
            await import('./postgres.js')
          ).PgStore.open({ dsn: st.dsn as string, schema: st.schema, claimTimeoutMs: st.claim_timeout })
        : new (await import('./sqlite.js')).SqliteStore(opts.dataDir);
    opts.logger.info(where, 'outbox opened');
    return { store };
  } catch (err) {
    // The DSN's password taken out, should a driver quote it.
    const error = scrubSecrets(errorText(err), [st.dsn && urlPassword(st.dsn)]);
    opts.logger.error(
      { ...where, err: error },
      'cannot open the outbox; webhooks are answered 503 until it opens',
    );
    return { error };
  }
}
