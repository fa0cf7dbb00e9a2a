import { generateKeyPairSync, type KeyObject, sign } from 'node:crypto';
import type { AuditEvent } from '../../src/ports/audit-sink.js';
import { ChainBuilder } from '../../src/audit/chain.js';
import { type Checkpoint, type CheckpointSigner, signCheckpoint } from '../../src/audit/checkpoint.js';
import { formatCheckpointLine, formatEntryLine } from '../../src/audit/export-format.js';

/** The audit key as the token would hold it, but in memory: ECDSA P-256, DER signatures. */
export function nodeCheckpointSigner(privateKey: KeyObject): CheckpointSigner {
  return { sign: async (payload) => sign('sha256', payload, { key: privateKey, dsaEncoding: 'der' }) };
}

export function auditKeyPair(): { privateKey: KeyObject; publicKeyPem: string } {
  const { privateKey, publicKey } = generateKeyPairSync('ec', { namedCurve: 'P-256' });
  return { privateKey, publicKeyPem: publicKey.export({ type: 'spki', format: 'pem' }) as string };
}

const START = Date.parse('2026-01-02T03:04:05.000Z');
const OUTCOMES = ['Success', 'Success', 'AccessDeniedException', 'NotFoundException', 'Success'];

/** A varied but deterministic event for entry `seq`. */
export function sampleEvent(seq: number): AuditEvent {
  const outcome = OUTCOMES[seq % OUTCOMES.length] as string;
  const authenticated = seq % 7 !== 0;
  return {
    requestId: `req-${seq.toString().padStart(6, '0')}`,
    time: new Date(START + seq * 1000),
    operation: seq % 2 === 0 ? 'Encrypt' : 'Decrypt',
    principalArn: authenticated ? `arn:aws:iam::111122223333:role/app-${seq % 3}` : undefined,
    principalAccount: authenticated ? '111122223333' : undefined,
    sourceAddress: `10.0.0.${seq % 250}`,
    keyArns: ['arn:aws:kms:eu-west-1:111122223333:key/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0'],
    parameters: { encryptionContext: { tenant: `t${seq}`, purpose: 'ünïcode ✓' }, algorithm: 'SYMMETRIC_DEFAULT' },
    outcome,
    decision: authenticated
      ? { allowed: outcome !== 'AccessDeniedException', reason: 'key policy statement 1' }
      : undefined,
    durationMs: 1.25 + (seq % 5),
  };
}

export interface TestLedger {
  /** The JSON Lines export, one element per line. */
  readonly lines: string[];
  readonly publicKeyPem: string;
  readonly privateKey: KeyObject;
  readonly checkpoints: Checkpoint[];
  /** hashes[seq] is the hex chain hash at seq (hashes[0] is genesis). */
  readonly hashes: string[];
}

/** A real chain of `entries` entries with a checkpoint after every `checkpointEvery`, exported. */
export async function buildTestLedger(entries: number, checkpointEvery: number): Promise<TestLedger> {
  const { privateKey, publicKeyPem } = auditKeyPair();
  const signer = nodeCheckpointSigner(privateKey);
  const chain = new ChainBuilder();
  const lines: string[] = [];
  const checkpoints: Checkpoint[] = [];
  const hashes = [chain.head.hash.toString('hex')];
  for (let seq = 1; seq <= entries; seq++) {
    const { canonical, hash } = chain.append(sampleEvent(seq));
    lines.push(formatEntryLine(canonical, hash));
    hashes.push(hash.toString('hex'));
    if (seq % checkpointEvery === 0) {
      const checkpoint = await signCheckpoint(signer, chain.head, new Date(START + seq * 1000 + 500));
      checkpoints.push(checkpoint);
      lines.push(formatCheckpointLine(checkpoint));
    }
  }
  return { lines, publicKeyPem, privateKey, checkpoints, hashes };
}

export async function* linesOf(lines: readonly string[]): AsyncIterable<string> {
  yield* lines;
}
