import { beforeAll, describe, expect, it } from 'vitest';
import { spawnSync } from 'node:child_process';
import { copyFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import { Pkcs11Hsm } from '../../src/adapters/pkcs11/pkcs11-hsm.js';
import { SqliteLedgerStore } from '../../src/adapters/sql/sqlite-ledger.js';
import { openAuditLedger } from '../../src/audit/audit-ledger.js';
import { chainHash } from '../../src/audit/chain.js';
import { signCheckpoint } from '../../src/audit/checkpoint.js';
import { canonicalJson } from '../../src/audit/json-value.js';
import type { VerifyFault } from '../../src/audit/verify.js';
import { auditKeyPair, nodeCheckpointSigner, sampleEvent } from '../support/audit-ledger.js';
import { CLI, requireBuild } from '../support/server-process.js';
import { freshToken } from '../support/softhsm.js';
import { tempDir } from '../support/temp-dirs.js';

// A real ledger — SQLite file, audit key in a SoftHSM2 token — of 50 entries with signed checkpoints
// at 10, 20, 30, 40 and 50. Each case edits a copy of the file with plain SQL, as someone with write
// access to the database (but not to the token) could, then runs the real CLI from dist:
// `p11kms audit export` and `p11kms audit verify`, which must name the first bad seq.

let dir: string;
let pristine: string;
let publicKeyFile: string;

beforeAll(async () => {
  requireBuild();
  const token = freshToken();
  dir = tempDir('p11kms-tamper-');
  pristine = join(dir, 'pristine.db');
  const hsm = await Pkcs11Hsm.open({ libraryPath: token.libraryPath, tokenLabel: token.tokenLabel, pin: token.pin });
  const store = await SqliteLedgerStore.open(pristine);
  const audit = await openAuditLedger({
    store,
    hsm,
    clock: { now: () => new Date('2026-01-02T03:04:05.000Z') },
    logger: { error: () => {} },
    settings: { checkpointEveryEntries: 10, checkpointIntervalMs: 0 },
  });
  for (let seq = 1; seq <= 50; seq += 10) {
    // Ten at a time: one batch, whose head is the next multiple of ten, and its checkpoint.
    await Promise.all(Array.from({ length: 10 }, (_, i) => audit.ledger.record(sampleEvent(seq + i))));
    await audit.checkpointer.idle();
  }
  await audit.close();
  await store.close();
  await hsm.close();
  publicKeyFile = join(dir, 'audit.pem');
  writeFileSync(publicKeyFile, audit.publicKeyPem);
});


interface Verdict {
  readonly status: number | null;
  readonly report: Record<string, any>;
}

/** Copies the ledger, lets `tamper` edit the copy with SQL, then exports and verifies it with the CLI. */
function verdictAfter(tamper: (db: Database.Database) => void | Promise<void>): Promise<Verdict> {
  return (async () => {
    const copy = join(dir, `case-${Math.random().toString(36).slice(2)}.db`);
    copyFileSync(pristine, copy);
    const db = new Database(copy);
    for (const name of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger'").pluck().all() as string[]) {
      db.exec(`DROP TRIGGER ${name}`); // the append-only guard stops mistakes, not someone who can drop it
    }
    await tamper(db);
    db.close();
    const out = `${copy}.jsonl`;
    const exported = spawnSync(process.execPath, [CLI, 'audit', 'export', '--database', copy, '--out', out], { encoding: 'utf8' });
    expect(exported.status, exported.stderr).toBe(0);
    const verified = spawnSync(process.execPath, [CLI, 'audit', 'verify', out, '--public-key', publicKeyFile, '--no-progress'], {
      encoding: 'utf8',
    });
    return { status: verified.status, report: JSON.parse(verified.stdout) };
  })();
}

interface Row {
  seq: number;
  canonical: string;
  hash: Buffer;
}

const row = (db: Database.Database, seq: number) =>
  db.prepare('SELECT seq, canonical, hash FROM ledger_entries WHERE seq = ?').get(seq) as Row;

/** Rewrites the canonical text of entry `seq` (the stored hash stays unless `rehash` says otherwise). */
function editEntry(db: Database.Database, seq: number, edit: (entry: Record<string, any>) => void): void {
  const entry = JSON.parse(row(db, seq).canonical);
  edit(entry);
  db.prepare('UPDATE ledger_entries SET canonical = ? WHERE seq = ?').run(canonicalJson(entry), seq);
}

/** Recomputes the stored hash of entries `from`..`to` from the stored hash before them. */
function rehash(db: Database.Database, from: number, to = Number.MAX_SAFE_INTEGER): void {
  let previous = row(db, from - 1).hash;
  const rows = db.prepare('SELECT seq, canonical FROM ledger_entries WHERE seq BETWEEN ? AND ? ORDER BY seq').all(from, to) as Row[];
  for (const { seq, canonical } of rows) {
    previous = chainHash(previous, canonical);
    db.prepare('UPDATE ledger_entries SET hash = ? WHERE seq = ?').run(previous, seq);
  }
}

/** Re-signs the stored checkpoints from `from` on over the hashes now stored, with a key that is not the audit key. */
async function forgeCheckpoints(db: Database.Database, from: number): Promise<void> {
  const signer = nodeCheckpointSigner(auditKeyPair().privateKey);
  const seqs = db.prepare('SELECT seq FROM ledger_checkpoints WHERE seq >= ?').pluck().all(from) as number[];
  for (const seq of seqs) {
    const forged = await signCheckpoint(signer, { seq, hash: row(db, seq).hash }, new Date('2026-01-02T03:04:05.000Z'));
    db.prepare('UPDATE ledger_checkpoints SET hash = ?, time = ?, signature = ? WHERE seq = ?').run(
      Buffer.from(forged.hash, 'hex'),
      forged.time,
      Buffer.from(forged.signature, 'base64'),
      seq,
    );
  }
}

function insertEntry(db: Database.Database, seq: number, canonical: string, hash: Buffer): void {
  db.prepare(`INSERT INTO ledger_entries (seq, canonical, hash, time, request_id, operation, outcome, kind)
    VALUES (?, ?, ?, 0, 'forged', 'Decrypt', 'Success', 'request')`).run(seq, canonical, hash);
}

interface Case {
  readonly name: string;
  readonly tamper: (db: Database.Database) => void | Promise<void>;
  readonly firstBadSeq: number;
  readonly fault: VerifyFault;
}

const CASES: Case[] = [
  {
    name: 'UPDATE of a field of entry 23',
    tamper: (db) => editEntry(db, 23, (e) => (e.outcome = 'Success')),
    firstBadSeq: 23,
    fault: 'hash-mismatch',
  },
  {
    name: 'UPDATE of entry 23 with its stored hash recomputed',
    tamper: (db) => {
      editEntry(db, 23, (e) => (e.principalArn = 'arn:aws:iam::111122223333:role/Someone'));
      rehash(db, 23, 23);
    },
    firstBadSeq: 24,
    fault: 'hash-mismatch',
  },
  {
    name: 'UPDATE of entry 23 with every later hash recomputed (the signed checkpoint 30 disagrees)',
    tamper: (db) => {
      editEntry(db, 23, (e) => (e.sourceAddress = '203.0.113.7'));
      rehash(db, 23);
    },
    firstBadSeq: 30,
    fault: 'checkpoint-mismatch',
  },
  {
    name: 'UPDATE of entry 23, every later hash and checkpoint rewritten with another key',
    tamper: async (db) => {
      editEntry(db, 23, (e) => (e.outcome = 'Success'));
      rehash(db, 23);
      await forgeCheckpoints(db, 30);
    },
    firstBadSeq: 30,
    fault: 'checkpoint-signature',
  },
  {
    name: 'DELETE of entry 23',
    tamper: (db) => void db.prepare('DELETE FROM ledger_entries WHERE seq = 23').run(),
    firstBadSeq: 23,
    fault: 'sequence-break',
  },
  {
    name: 'DELETE of entry 30, its checkpoint kept',
    tamper: (db) => void db.prepare('DELETE FROM ledger_entries WHERE seq = 30').run(),
    firstBadSeq: 30,
    fault: 'sequence-break',
  },
  {
    name: 'INSERT of a forged entry 24 after 23, correctly chained, the rest renumbered',
    tamper: (db) => {
      db.exec('UPDATE ledger_entries SET seq = seq + 1000 WHERE seq >= 24; UPDATE ledger_entries SET seq = seq - 999 WHERE seq > 1000;');
      const canonical = canonicalJson({ ...JSON.parse(row(db, 23).canonical), seq: 24, requestId: 'forged' });
      insertEntry(db, 24, canonical, chainHash(row(db, 23).hash, canonical));
    },
    firstBadSeq: 24,
    fault: 'sequence-break',
  },
  {
    name: 'INSERT of an entry 51 after the last one, not chained',
    tamper: (db) => {
      const canonical = canonicalJson({ ...JSON.parse(row(db, 50).canonical), seq: 51, requestId: 'forged' });
      insertEntry(db, 51, canonical, chainHash(row(db, 49).hash, canonical));
    },
    firstBadSeq: 51,
    fault: 'hash-mismatch',
  },
  {
    name: 'entries 23 and 24 swapped (their rows exchanged)',
    tamper: (db) => {
      const [a, b] = [row(db, 23), row(db, 24)];
      const put = db.prepare('UPDATE ledger_entries SET canonical = ?, hash = ? WHERE seq = ?');
      put.run(b.canonical, b.hash, 23);
      put.run(a.canonical, a.hash, 24);
    },
    firstBadSeq: 23,
    fault: 'sequence-break',
  },
  {
    name: 'the tail after 38 truncated, the later checkpoints kept',
    tamper: (db) => void db.prepare('DELETE FROM ledger_entries WHERE seq > 38').run(),
    firstBadSeq: 39,
    fault: 'truncated',
  },
  {
    name: 'checkpoint 30 forged: signed by another key over the genuine head',
    tamper: (db) => forgeCheckpoints(db, 30).then(() => void db.prepare('DELETE FROM ledger_checkpoints WHERE seq > 30').run()),
    firstBadSeq: 30,
    fault: 'checkpoint-signature',
  },
  {
    name: 'checkpoint 40 replaced by the genuine signature of checkpoint 20 (a replay)',
    tamper: (db) => {
      const twenty = db.prepare('SELECT hash, time, signature FROM ledger_checkpoints WHERE seq = 20').get() as Record<string, unknown>;
      db.prepare('UPDATE ledger_checkpoints SET hash = ?, time = ?, signature = ? WHERE seq = 40').run(
        twenty.hash,
        twenty.time,
        twenty.signature,
      );
    },
    firstBadSeq: 40,
    fault: 'checkpoint-signature',
  },
];

describe('tampering with the SQLite ledger, caught by `p11kms audit verify` from an export', () => {
  it('verifies the untouched ledger: exit code 0, every entry vouched for by a checkpoint', async () => {
    const { status, report } = await verdictAfter(() => {});
    expect(status).toBe(0);
    expect(report).toMatchObject({ ok: true, entries: 50, checkpoints: 5, firstBadSeq: null, reason: null, verifiedThrough: 50 });
  });

  it.each(CASES)('$name → first bad seq $firstBadSeq ($fault)', async ({ tamper, firstBadSeq, fault }) => {
    const { status, report } = await verdictAfter(tamper);
    expect(status).toBe(1);
    expect(report).toMatchObject({ ok: false, firstBadSeq, fault, reason: expect.any(String) });
  });

  it('cannot see a tail cut off together with its checkpoints, except against a head known before', async () => {
    // The documented limit (src/audit/verify.ts, VerifyResult): compare with GetLedgerHead taken earlier.
    const { status, report } = await verdictAfter((db) => {
      db.prepare('DELETE FROM ledger_entries WHERE seq > 38').run();
      db.prepare('DELETE FROM ledger_checkpoints WHERE seq > 38').run();
    });
    expect(status).toBe(0);
    expect(report).toMatchObject({ ok: true, head: { seq: 38 }, verifiedThrough: 30 });
    expect(report.head.seq).toBeLessThan(50);
  });
});
