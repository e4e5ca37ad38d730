// Line → level classification for application logs. Pure, so it is tested on captured lines.

/** The bounded set of `level` label values; every line lands in exactly one. */
export const LOG_LEVEL_LABELS = ['CRITICAL', 'ERROR', 'WARNING', 'INFO', 'DEBUG', 'TRACE', 'NONE'] as const;
export type LogLevelLabel = (typeof LOG_LEVEL_LABELS)[number];

// Spellings seen in Python logging, log4j/logback, Go (logfmt, zap, slog), pino/bunyan,
// PostgreSQL, syslog; all folded into the labels above.
const ALIASES: Record<string, LogLevelLabel> = {
  CRITICAL: 'CRITICAL',
  CRIT: 'CRITICAL',
  FATAL: 'CRITICAL',
  PANIC: 'CRITICAL',
  EMERG: 'CRITICAL',
  EMERGENCY: 'CRITICAL',
  ALERT: 'CRITICAL',
  ERROR: 'ERROR',
  ERR: 'ERROR',
  EROR: 'ERROR',
  WARNING: 'WARNING',
  WARN: 'WARNING',
  INFO: 'INFO',
  INF: 'INFO',
  NOTICE: 'INFO',
  LOG: 'INFO',
  DEBUG: 'DEBUG',
  DBG: 'DEBUG',
  DEBUG1: 'DEBUG',
  DEBUG2: 'DEBUG',
  DEBUG3: 'DEBUG',
  DEBUG4: 'DEBUG',
  DEBUG5: 'DEBUG',
  TRACE: 'TRACE',
};

// pino/bunyan numeric levels.
function numericLevel(n: number): LogLevelLabel {
  if (n >= 60) return 'CRITICAL';
  if (n >= 50) return 'ERROR';
  if (n >= 40) return 'WARNING';
  if (n >= 30) return 'INFO';
  if (n >= 20) return 'DEBUG';
  return 'TRACE';
}

function alias(word: string): LogLevelLabel | undefined {
  return ALIASES[word.toUpperCase()];
}

// Only the head of a line is searched: the level sits near the start in every common layout,
// and a message that merely mentions "error" later on is not an error line.
const HEAD = 256;
const JSON_LEVEL =
  /"(?:level|severity|levelname|loglevel|lvl|log\.level|@l)"\s*:\s*(?:"([A-Za-z]+[0-9]?)"|(\d+))/;
const LOGFMT_LEVEL =
  /(?:^|\s)(?:level|lvl|severity|loglevel)=(?:"([A-Za-z]+[0-9]?)"|([A-Za-z]+[0-9]?))(?=\s|$)/i;
const BRACKETED = /[[<(]([A-Za-z]+[0-9]?)[\])>]/g;
// A bare upper-case level word as its own token: `... 12:00:00 ERROR msg`, `ERROR:root:msg`,
// `- app - WARNING - msg`, PostgreSQL's `ERROR:  relation ...`.
const BARE = /(?:^|[\s|:,-])([A-Z]+[0-9]?)(?=[\s|:,-]|$)/g;

/** Level of one log line (without its newline). */
export function classifyLine(line: string): LogLevelLabel {
  const head = line.length > HEAD ? line.slice(0, HEAD) : line;
  const trimmed = head.trimStart();
  if (trimmed.startsWith('{')) {
    // JSON lines: the level field may come after a long message, so search the whole line.
    const m = JSON_LEVEL.exec(line);
    if (m) {
      if (m[2] !== undefined) return numericLevel(Number(m[2]));
      return alias(m[1] as string) ?? 'NONE';
    }
    return 'NONE';
  }
  const kv = LOGFMT_LEVEL.exec(head);
  if (kv) return alias((kv[1] ?? kv[2]) as string) ?? 'NONE';
  for (const m of head.matchAll(BRACKETED)) {
    const level = alias(m[1] as string);
    if (level) return level;
  }
  for (const m of head.matchAll(BARE)) {
    const word = m[1] as string;
    // `LOG` alone is too common a word in upper-case prose; accept it only as PostgreSQL's `LOG:`.
    if (word === 'LOG' && head[(m.index ?? 0) + m[0].length] !== ':') continue;
    const level = ALIASES[word];
    if (level) return level;
  }
  return 'NONE';
}
