import { SqliteLedgerExport } from '../../src/adapters/sql/sqlite-ledger-export.js';
import { SqliteLedgerStore } from '../../src/adapters/sql/sqlite-ledger.js';
import { type AuditLedger, type AuditLedgerSettings, openAuditLedger } from '../../src/audit/audit-ledger.js';
import { verifyExport, type VerifyResult } from '../../src/audit/verify.js';
import { auditOperations, type AuditOperations } from '../../src/operations/audit/index.js';
import { type PipelineHarness, pipelineHarness } from '../support/pipeline-harness.js';
import { linesOf } from '../support/audit-ledger.js';

export interface LedgerHarness extends PipelineHarness {
  readonly database: string;
  ledgerStore: SqliteLedgerStore;
  ledger: AuditLedger;
  operations: AuditOperations;
  /** Closes the ledger and opens it again on the same file and token: a restart. */
  reopen(): Promise<void>;
  /** The export (JSON Lines) of the database as it is now. */
  exportLines(): string[];
  verify(): Promise<VerifyResult>;
}

/**
 * The real pipeline (test/support/pipeline-harness.ts) whose audit sink is the hash-chained ledger
 * in its SQLite file, with the audit key in its SoftHSM2 token: what `p11kms serve` wires, without
 * the network.
 */
export async function ledgerHarness(settings: AuditLedgerSettings = {}): Promise<LedgerHarness> {
  const base = await pipelineHarness();
  const database = `${base.token.dir}/p11kms.db`;
  const logger = {
    error: (fields: object, message: string) => base.logged.push({ level: 'error', fields, message }),
  };
  const open = async () => {
    const ledgerStore = await SqliteLedgerStore.open(database, { busyTimeoutMs: 200 });
    const ledger = await openAuditLedger({ store: ledgerStore, hsm: base.hsm, clock: base.clock, logger, settings });
    return { ledgerStore, ledger };
  };
  const opened = await open();
  const harness: LedgerHarness = Object.assign(base, {
    database,
    ...opened,
    operations: auditOperations({ ledger: opened.ledgerStore, publicKeyPem: opened.ledger.publicKeyPem }),
    async reopen() {
      await harness.ledger.close();
      await harness.ledgerStore.close();
      Object.assign(harness, await open());
      harness.operations = auditOperations({ ledger: harness.ledgerStore, publicKeyPem: harness.ledger.publicKeyPem });
    },
    exportLines() {
      const exported = SqliteLedgerExport.open(database);
      try {
        return [...exported.lines()];
      } finally {
        exported.close();
      }
    },
    async verify() {
      return verifyExport(linesOf(harness.exportLines()), harness.ledger.publicKeyPem);
    },
    async close() {
      await harness.ledger.close().catch(() => {});
      await harness.ledgerStore.close().catch(() => {});
      await base.store.close();
      await base.hsm.close();
    },
  });
  // The harness's pipeline writes every request to `audit`: route it into the ledger.
  base.audit.record = (event) => harness.ledger.ledger.record(event);
  return harness;
}

/** The entries of an export, parsed. */
export function exportedEntries(lines: readonly string[]): Array<Record<string, any>> {
  return lines.map((line) => JSON.parse(line)).filter((line) => line.type === 'entry').map((line) => line.entry);
}
