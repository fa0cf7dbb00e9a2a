import type { AuditEvent, AuditSink } from '../../ports/audit-sink.js';
import type { Logger } from './logger.js';

/**
 * Records every request as one structured log line. It carries what the hash-chained ledger will
 * (the event holds no secrets by construction), but a log is not tamper-evident: the ledger
 * replaces this sink behind the same port.
 */
export class LogAuditSink implements AuditSink {
  constructor(private readonly logger: Logger) {}

  async record(event: AuditEvent): Promise<void> {
    this.logger.info({ audit: { ...event, time: event.time.toISOString() } }, 'request');
  }
}
