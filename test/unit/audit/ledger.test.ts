import { describe, expect, it } from 'vitest';
import { ChainBuilder } from '../../../src/audit/chain.js';
import { Ledger, LedgerUnavailableError, RELEASE_SLICE } from '../../../src/audit/ledger.js';
import { sampleEvent } from '../../support/audit-ledger.js';
import { MemoryLedgerStore } from './memory-ledger-store.js';

const logger = { errors: [] as string[], error(_fields: object, message: string) { this.errors.push(message); } };

async function ledgerOn(store = new MemoryLedgerStore(), maxBatchEntries?: number) {
  return { store, ledger: await Ledger.open({ store, logger, maxBatchEntries }) };
}

describe('Ledger: group commit', () => {
  it('resolves record() only after the entry is stored', async () => {
    const { store, ledger } = await ledgerOn();
    const recorded = ledger.record(sampleEvent(1));
    expect(store.entries).toHaveLength(0);
    await recorded;
    expect(store.entries.map((e) => e.entry.seq)).toEqual([1]);
    expect(ledger.head.seq).toBe(1);
  });

  it('batches concurrent records into few transactions (one fsync per batch)', async () => {
    const { store, ledger } = await ledgerOn();
    await Promise.all(Array.from({ length: 300 }, (_, i) => ledger.record(sampleEvent(i + 1))));
    expect(store.entries).toHaveLength(300);
    expect(store.transactions.reduce((a, b) => a + b, 0)).toBe(300);
    // All 300 arrive in one event-loop turn: one batch of 256 (the default cap), then the rest.
    expect(store.transactions).toEqual([256, 44]);
    expect(ledger.stats).toMatchObject({ batches: 2, entries: 300, largestBatch: 256, failedBatches: 0 });
  });

  it('queues events that arrive while a batch commits into the next batch', async () => {
    const store = new MemoryLedgerStore();
    store.commitDelayMs = 20;
    const { ledger } = await ledgerOn(store);
    const first = ledger.record(sampleEvent(1));
    // The first batch is being written once the store has it (a fixed sleep raced the flush under load).
    while (store.maxConcurrentAppends === 0) await new Promise((resolve) => setImmediate(resolve));
    const rest = Array.from({ length: 10 }, (_, i) => ledger.record(sampleEvent(i + 2)));
    await Promise.all([first, ...rest]);
    expect(store.transactions).toEqual([1, 10]);
  });

  it('resumes the requests of a committed batch RELEASE_SLICE per event-loop turn, all of them', async () => {
    const { store, ledger } = await ledgerOn();
    let resolved = 0;
    let atNextTurn: number | undefined;
    const all = Array.from({ length: 40 }, (_, i) =>
      ledger.record(sampleEvent(i + 1)).then(() => {
        // The first slice resolves in one turn; an immediate queued now runs after the next slice's.
        if (resolved++ === 0) setImmediate(() => (atNextTurn = resolved));
      }),
    );
    await Promise.all(all);
    expect(store.transactions).toEqual([40]);
    expect(resolved).toBe(40);
    expect(atNextTurn).toBe(2 * RELEASE_SLICE);
  });

  it('caps a batch at maxBatchEntries', async () => {
    const { store, ledger } = await ledgerOn(new MemoryLedgerStore(), 7);
    await Promise.all(Array.from({ length: 20 }, (_, i) => ledger.record(sampleEvent(i + 1))));
    expect(store.transactions).toEqual([7, 7, 6]);
  });

  it('chains entries exactly as ChainBuilder does, contiguous from 1', async () => {
    const { store, ledger } = await ledgerOn();
    await Promise.all(Array.from({ length: 50 }, (_, i) => ledger.record(sampleEvent(i + 1))));
    const expected = new ChainBuilder();
    for (const stored of store.entries) {
      const chained = expected.appendEntry(stored.entry);
      expect(stored.canonical).toBe(chained.canonical);
      expect(stored.hash.equals(chained.hash)).toBe(true);
    }
    expect(ledger.head.hash.equals(expected.head.hash)).toBe(true);
  });

  it('fails every request of a failed batch, then continues the chain from the stored head', async () => {
    const { store, ledger } = await ledgerOn();
    await ledger.record(sampleEvent(1));
    store.failing = new Error('disk full');
    const failed = await Promise.allSettled(Array.from({ length: 5 }, (_, i) => ledger.record(sampleEvent(i + 2))));
    expect(failed.every((r) => r.status === 'rejected' && r.reason instanceof LedgerUnavailableError)).toBe(true);
    expect(ledger.stats.failedBatches).toBe(1);
    expect(logger.errors).toContain('audit ledger write failed: failing every request of the batch');
    store.failing = undefined;
    await ledger.record(sampleEvent(7));
    expect(store.entries.map((e) => e.entry.seq)).toEqual([1, 2]);
    expect(ledger.head.seq).toBe(2);
  });

  it('re-reads the stored head when another writer moved it', async () => {
    const store = new MemoryLedgerStore();
    const { ledger: first } = await ledgerOn(store);
    const { ledger: second } = await ledgerOn(store);
    await first.record(sampleEvent(1));
    await expect(second.record(sampleEvent(2))).rejects.toBeInstanceOf(LedgerUnavailableError);
    await second.record(sampleEvent(3));
    expect(store.entries.map((e) => [e.entry.seq, e.entry.requestId])).toEqual([
      [1, 'req-000001'],
      [2, 'req-000003'],
    ]);
  });

  it('fails only the request whose event cannot be an entry (bytes in its parameters)', async () => {
    const { store, ledger } = await ledgerOn();
    const leaky = { ...sampleEvent(2), parameters: { plaintext: Buffer.from('plaintext-7f3a9c') } };
    const results = await Promise.allSettled([ledger.record(sampleEvent(1)), ledger.record(leaky), ledger.record(sampleEvent(3))]);
    expect(results.map((r) => r.status)).toEqual(['fulfilled', 'rejected', 'fulfilled']);
    expect(String((results[1] as PromiseRejectedResult).reason)).not.toContain('plaintext-7f3a9c');
    expect(store.entries.map((e) => e.entry.requestId)).toEqual(['req-000001', 'req-000003']);
  });

  it("records kind 'background' through its background sink, or when the event says so", async () => {
    const { store, ledger } = await ledgerOn();
    await ledger.sink('background').record(sampleEvent(1));
    await ledger.record({ ...sampleEvent(2), kind: 'background' });
    await ledger.record(sampleEvent(3));
    expect(store.entries.map((e) => e.entry.kind)).toEqual(['background', 'background', 'request']);
  });

  it('continues the stored chain when opened again', async () => {
    const store = new MemoryLedgerStore();
    const { ledger } = await ledgerOn(store);
    await ledger.record(sampleEvent(1));
    await ledger.close();
    await expect(ledger.record(sampleEvent(2))).rejects.toThrow('closed');
    const { ledger: reopened } = await ledgerOn(store);
    expect(reopened.head.seq).toBe(1);
    await reopened.record(sampleEvent(2));
    expect(store.entries.map((e) => e.entry.seq)).toEqual([1, 2]);
  });

  it('writes everything queued before close() resolves', async () => {
    const { store, ledger } = await ledgerOn();
    const pending = Array.from({ length: 10 }, (_, i) => ledger.record(sampleEvent(i + 1)));
    await ledger.close();
    expect(store.entries).toHaveLength(10);
    await Promise.all(pending);
  });
});

describe('Ledger: two batches in flight to a store that applies appends in order', () => {
  const inOrderStore = () => {
    const store = new MemoryLedgerStore();
    store.appendsInOrder = true;
    store.commitDelayMs = 10;
    return store;
  };

  it('sends the next batch while the previous one commits, and the chain stays contiguous and exact', async () => {
    const { store, ledger } = await ledgerOn(inOrderStore());
    const recorded: Array<Promise<void>> = [];
    for (let turn = 0; turn < 10; turn++) {
      for (let i = 0; i < 5; i++) recorded.push(ledger.record(sampleEvent(recorded.length + 1)));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await Promise.all(recorded);
    expect(store.maxConcurrentAppends).toBe(2);
    expect(store.entries.map((e) => e.entry.seq)).toEqual(Array.from({ length: 50 }, (_, i) => i + 1));
    const expected = new ChainBuilder();
    for (const stored of store.entries) expect(stored.hash.equals(expected.appendEntry(stored.entry).hash)).toBe(true);
    expect(ledger.head.hash.equals(expected.head.hash)).toBe(true);
  });

  it('keeps to one batch in flight for a store that does not say it applies appends in order', async () => {
    const store = new MemoryLedgerStore();
    store.commitDelayMs = 10;
    const { ledger } = await ledgerOn(store);
    const recorded: Array<Promise<void>> = [];
    for (let turn = 0; turn < 5; turn++) {
      recorded.push(ledger.record(sampleEvent(turn + 1)));
      await new Promise((resolve) => setTimeout(resolve, 3));
    }
    await Promise.all(recorded);
    expect(store.maxConcurrentAppends).toBe(1);
  });

  it('fails the batch chained on a failed one too, then continues from the stored head', async () => {
    const { store, ledger } = await ledgerOn(inOrderStore());
    await ledger.record(sampleEvent(1));
    store.failingOnce = new Error('disk full');
    const first = ledger.record(sampleEvent(2));
    await new Promise((resolve) => setTimeout(resolve, 3)); // the first batch is in the store's queue
    const second = ledger.record(sampleEvent(3));
    const results = await Promise.allSettled([first, second]);
    expect(results.map((r) => r.status)).toEqual(['rejected', 'rejected']);
    expect(store.maxConcurrentAppends).toBe(2);
    await ledger.record(sampleEvent(4));
    expect(store.entries.map((e) => e.entry.seq)).toEqual([1, 2]);
    expect(store.entries[1]!.entry.requestId).toBe(sampleEvent(4).requestId);
    expect(ledger.head.seq).toBe(2);
  });
});

describe('Ledger: no waiter left behind', () => {
  it('writes an event recorded while the last batch is settling (after many promise hops)', async () => {
    const { store, ledger } = await ledgerOn();
    // Each request records again only after its own record resolved, a few microtasks later,
    // as the pipeline does; every hop count lands at a different point of the batch's settling.
    for (let hops = 0; hops < 30; hops++) {
      await ledger.record(sampleEvent(2 * hops + 1));
      for (let i = 0; i < hops; i++) await Promise.resolve();
      await ledger.record(sampleEvent(2 * hops + 2));
    }
    expect(store.entries).toHaveLength(60);
  });
});
