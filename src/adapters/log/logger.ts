import { pino, type Logger } from 'pino';

export type { Logger };

/**
 * Structured JSON logs on stdout. Nothing secret is ever passed to the logger; the redaction list
 * is a second line of defence (DESIGN.md, invariant 4).
 */
export function createLogger(level: string): Logger {
  return pino({
    level,
    base: { service: 'p11kms' },
    redact: {
      paths: ['plaintext', '*.plaintext', 'pin', '*.pin', 'privateKey', '*.privateKey', 'dataKey', '*.dataKey'],
      censor: '[redacted]',
    },
  });
}
