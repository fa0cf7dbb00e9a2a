import type { Checkpoint } from '../../audit/checkpoint.js';
import type { LedgerReader } from '../../audit/ledger-store.js';
import { defineOperation } from '../operation.js';

export type GetLedgerHeadRequest = Record<string, never>;

export interface GetLedgerHeadResponse {
  readonly seq: number;
  readonly hash: string;
  readonly time: Date | undefined;
  readonly lastCheckpoint: Checkpoint | undefined;
}

/**
 * The chain's head as stored now. An auditor keeps it: an export later verified against it shows
 * whether the tail was cut off together with its checkpoints (src/audit/verify.ts, VerifyResult).
 * The head this request's own entry makes is not in the answer: it is written after.
 */
export function getLedgerHead(ledger: Pick<LedgerReader, 'head' | 'lastCheckpoint'>) {
  return defineOperation<GetLedgerHeadRequest, GetLedgerHeadResponse>({
    name: 'GetLedgerHead',
    action: 'kms:GetLedgerHead',
    keys: {},
    async run() {
      const [head, lastCheckpoint] = await Promise.all([ledger.head(), ledger.lastCheckpoint()]);
      return {
        seq: head.seq,
        hash: head.hash,
        time: head.time === undefined ? undefined : new Date(head.time),
        lastCheckpoint,
      };
    },
  });
}
