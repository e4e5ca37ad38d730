import { pino, destination, stdTimeFunctions, type Logger } from 'pino';

export type { Logger };
export const LOG_LEVELS = ['debug', 'info', 'warn', 'error'] as const;
export type LogLevel = (typeof LOG_LEVELS)[number];

/** JSON lines on stderr; stdout stays free for command output (check-config, route-test). */
export function createLogger(level: LogLevel = 'info'): Logger {
  return pino(
    {
      level,
      base: { service: 'stackwatch' },
      timestamp: stdTimeFunctions.isoTime,
      formatters: { level: (label) => ({ level: label }) },
      redact: { paths: ['password', '*.password', 'dsn', '*.dsn', 'token', '*.token'], censor: '[redacted]' },
    },
    destination({ fd: 2, sync: true }),
  );
}

/** Error text for logs: message and code, never a stack full of connection strings. */
export function errorText(err: unknown): string {
  if (err instanceof AggregateError && err.errors.length) {
    return err.errors.map(errorText).join('; ');
  }
  if (err instanceof Error) {
    const code = (err as NodeJS.ErrnoException).code;
    return code && !err.message.includes(code) ? `${err.message} (${code})` : err.message;
  }
  return String(err);
}
