import { expect } from 'vitest';
import { ChainBuilder, GENESIS_HEAD } from '../../src/audit/chain.js';
import type { LedgerAppendStore, LedgerEntryQuery, LedgerReader } from '../../src/audit/ledger-store.js';
import { sampleEvent } from './audit-ledger.js';

const ACCOUNT = '111122223333';
const START = Date.parse('2026-01-02T03:04:05.000Z');

/**
 * Entry times for seq 1–40 as a process whose clock stepped back would record them: one second
 * apart, but seq 11–15 repeat the times of 3–7 (the step), and seq 20–22 share one time.
 */
export function steppedTime(seq: number): number {
  if (seq >= 11 && seq <= 15) return START + (seq - 8) * 1000;
  if (seq >= 20 && seq <= 22) return START + 20 * 1000;
  return START + seq * 1000;
}

/** Every page of `query`, `limit` entries at a time, through NextMarker: the seqs in the order given. */
export async function walkPages(store: LedgerReader, query: Omit<LedgerEntryQuery, 'account' | 'limit'>, limit: number): Promise<number[]> {
  const seqs: number[] = [];
  let marker: string | undefined;
  do {
    const page = await store.listEntries({ ...query, account: ACCOUNT, limit, marker });
    expect(page.items.length).toBeLessThanOrEqual(limit);
    seqs.push(...page.items.map((item) => item.entry.seq));
    marker = page.nextMarker;
  } while (marker !== undefined);
  return seqs;
}

/**
 * What both SQL stores must answer for time-bounded listings (ledger-rows.ts, inTimeOrder): the
 * entries of the window in (time, seq) order, each once, across pages and in both directions; by
 * key, principal or operation, in seq order; and InvalidMarkerException for a marker naming no entry.
 */
export async function expectTimeOrderedListings(store: LedgerAppendStore & LedgerReader): Promise<void> {
  const chain = new ChainBuilder(GENESIS_HEAD);
  const batch = Array.from({ length: 40 }, (_, i) => chain.append({ ...sampleEvent(i + 1), time: new Date(steppedTime(i + 1)) }));
  await store.appendEntries(GENESIS_HEAD, batch);

  const inTimeOrder = (seqs: number[]) => [...seqs].sort((a, b) => steppedTime(a) - steppedTime(b) || a - b);
  const all = Array.from({ length: 40 }, (_, i) => i + 1);
  const window = all.filter((seq) => steppedTime(seq) >= START + 4000 && steppedTime(seq) <= START + 25_000);
  expect(window).toHaveLength(21); // 4–10, 12–15 (stepped back into the window), 16–25
  const bounds = { startTime: new Date(START + 4000), endTime: new Date(START + 25_000) };

  for (const limit of [1, 3, 7, 100]) {
    expect(await walkPages(store, bounds, limit)).toEqual(inTimeOrder(window));
    expect(await walkPages(store, { ...bounds, newestFirst: true }, limit)).toEqual(inTimeOrder(window).reverse());
  }
  // One bound only, either way; an outcome, which has no index, is checked per entry on the way.
  const since = all.filter((seq) => steppedTime(seq) >= START + 20_000);
  expect(await walkPages(store, { startTime: new Date(START + 20_000), newestFirst: true }, 2)).toEqual(inTimeOrder(since).reverse());
  const until = all.filter((seq) => steppedTime(seq) <= START + 7000 && sampleEvent(seq).outcome === 'Success');
  expect(await walkPages(store, { endTime: new Date(START + 7000), outcome: 'Success' }, 2)).toEqual(inTimeOrder(until));

  // By key, principal or operation: that column's own index, in seq order, whatever the times.
  const keyId = '0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0';
  expect(await walkPages(store, { ...bounds, keyId }, 5)).toEqual(window);
  expect(await walkPages(store, { ...bounds, keyId, newestFirst: true }, 5)).toEqual([...window].reverse());
  const encrypts = window.filter((seq) => seq % 2 === 0);
  expect(await walkPages(store, { ...bounds, operation: 'Encrypt' }, 4)).toEqual(encrypts);
  const principal = 'arn:aws:iam::111122223333:role/app-1';
  const theirs = window.filter((seq) => sampleEvent(seq).principalArn === principal);
  expect(theirs.length).toBeGreaterThan(3);
  expect(await walkPages(store, { ...bounds, principalArn: principal, newestFirst: true }, 2)).toEqual([...theirs].reverse());

  // A marker naming an entry the ledger does not hold was not made by this listing.
  const forged = Buffer.from('ledger-entries:v1:41', 'utf8').toString('base64url');
  await expect(store.listEntries({ ...bounds, account: ACCOUNT, limit: 5, marker: forged })).rejects.toMatchObject({
    name: 'InvalidMarkerException',
  });
  // Another account reads none of them.
  expect((await store.listEntries({ ...bounds, account: '999999999999', limit: 5 })).items).toEqual([]);
}
