import { createHash } from 'node:crypto';
import { afterEach, describe, expect, it } from 'vitest';
import { type ChainHead } from '../../../src/audit/chain.js';
import { checkpointPayload, verifyCheckpoint } from '../../../src/audit/checkpoint.js';
import { Checkpointer, hsmCheckpointSigner } from '../../../src/audit/checkpointer.js';
import { Ledger } from '../../../src/audit/ledger.js';
import { auditKeyPair, nodeCheckpointSigner, sampleEvent } from '../../support/audit-ledger.js';
import { MemoryLedgerStore } from './memory-ledger-store.js';

const logger = { error() {} };
let now = Date.parse('2026-01-02T00:00:00Z');
const clock = { now: () => new Date(now) };
const open: Checkpointer[] = [];
afterEach(async () => {
  for (const checkpointer of open.splice(0)) await checkpointer.close().catch(() => {});
});

async function setup(everyEntries: number, intervalMs = 0) {
  const keys = auditKeyPair();
  const store = new MemoryLedgerStore();
  store.commitDelayMs = 0;
  const checkpointer = await Checkpointer.open(
    { store, signer: nodeCheckpointSigner(keys.privateKey), clock, logger, everyEntries, intervalMs },
    await store.readHead(),
  );
  open.push(checkpointer);
  const ledger = await Ledger.open({ store, logger, onCommit: checkpointer });
  return { keys, store, checkpointer, ledger };
}

/** Records `count` events, `perBatch` at a time, letting checkpoints settle after each batch. */
async function recordBatches(ledger: Ledger, checkpointer: Checkpointer, count: number, perBatch: number) {
  for (let seq = ledger.head.seq + 1; seq <= count; seq += perBatch) {
    await Promise.all(Array.from({ length: perBatch }, (_, i) => ledger.record(sampleEvent(seq + i))));
    await checkpointer.idle();
  }
}

describe('Checkpointer', () => {
  it('signs the committed head every N entries, with the audit key', async () => {
    const { keys, store, checkpointer, ledger } = await setup(10);
    await recordBatches(ledger, checkpointer, 35, 5);
    expect(store.checkpoints.map((c) => c.seq)).toEqual([10, 20, 30]);
    for (const checkpoint of store.checkpoints) {
      const stored = store.entries[checkpoint.seq - 1]!;
      expect(checkpoint.hash).toBe(stored.hash.toString('hex'));
      expect(verifyCheckpoint(checkpoint, keys.publicKeyPem)).toBe(true);
    }
  });

  it('signs the head of a batch that crosses the threshold, not an earlier seq', async () => {
    const { store, checkpointer, ledger } = await setup(10);
    await recordBatches(ledger, checkpointer, 32, 8);
    // Heads 8, 16, 24, 32: 16 is the first ≥ 10 entries past 0, 32 the first ≥ 10 past 16.
    expect(store.checkpoints.map((c) => c.seq)).toEqual([16, 32]);
  });

  it('signs after T seconds when entries are unsigned, and not again while nothing changes', async () => {
    const { store, checkpointer, ledger } = await setup(1000, 40);
    await ledger.record(sampleEvent(1));
    now += 50;
    await new Promise((resolve) => setTimeout(resolve, 80));
    await checkpointer.idle();
    expect(store.checkpoints.map((c) => c.seq)).toEqual([1]);
    now += 50;
    await new Promise((resolve) => setTimeout(resolve, 80));
    expect(store.checkpoints).toHaveLength(1);
  });

  it('signs the final head on close', async () => {
    const { store, checkpointer, ledger } = await setup(1000);
    await recordBatches(ledger, checkpointer, 3, 3);
    expect(store.checkpoints).toHaveLength(0);
    await checkpointer.close();
    expect(store.checkpoints.map((c) => c.seq)).toEqual([3]);
  });

  it('retries a failed checkpoint at the next trigger; requests never wait for it', async () => {
    const { store, checkpointer, ledger } = await setup(5);
    store.failingCheckpoints = new Error('token unavailable');
    await recordBatches(ledger, checkpointer, 5, 5);
    expect(store.entries).toHaveLength(5);
    expect(store.checkpoints).toHaveLength(0);
    store.failingCheckpoints = undefined;
    await recordBatches(ledger, checkpointer, 10, 5);
    expect(store.checkpoints.map((c) => c.seq)).toEqual([10]);
  });

  it('picks up where the stored checkpoints stop, and signs an unsigned head at once', async () => {
    const { keys, store, checkpointer, ledger } = await setup(1000);
    await recordBatches(ledger, checkpointer, 4, 4);
    const head: ChainHead = await store.readHead();
    const again = await Checkpointer.open(
      { store, signer: nodeCheckpointSigner(keys.privateKey), clock, logger, everyEntries: 1000, intervalMs: 0 },
      head,
    );
    open.push(again);
    await again.idle();
    expect(store.checkpoints.map((c) => c.seq)).toEqual([4]);
  });
});

describe('hsmCheckpointSigner', () => {
  it('hashes the payload with SHA-256 and answers the token\'s signature of that digest', async () => {
    const digests: Buffer[] = [];
    const signer = hsmCheckpointSigner({
      async signAuditDigest(digest) {
        digests.push(digest);
        return Buffer.from('der-signature');
      },
    });
    const payload = checkpointPayload(7, 'ab'.repeat(32), '2026-01-02T03:04:05.000Z');
    expect((await signer.sign(payload)).toString()).toBe('der-signature');
    expect(digests).toEqual([createHash('sha256').update(payload).digest()]);
  });
});
