import type { AuditEvent } from '../src/ports/audit-sink.js';

/**
 * The audit event of a request numbered `seq`, shaped like an Encrypt or Decrypt through the
 * bench's key policy: one principal, one key, a two-pair encryption context, one in fifty denied.
 * Deterministic, so that two runs write the same entries.
 */
export function benchEvent(seq: number): AuditEvent {
  return {
    requestId: `00000000-0000-4000-8000-${seq.toString().padStart(12, '0')}`,
    time: new Date(Date.UTC(2026, 0, 1) + seq * 7),
    operation: seq % 3 === 0 ? 'Decrypt' : 'Encrypt',
    principalArn: 'arn:aws:iam::111122223333:role/app',
    principalAccount: '111122223333',
    sourceAddress: `ipv4:10.0.${(seq >> 8) & 255}.${seq & 255}:5${seq % 10000}`,
    keyArns: ['arn:aws:kms:us-east-1:111122223333:key/0f1e2d3c-4b5a-4978-8796-a5b4c3d2e1f0'],
    parameters: { keyId: 'alias/app', encryptionContext: { tenant: `t${seq % 97}`, purpose: 'bench' }, encryptionAlgorithm: null },
    outcome: seq % 50 === 0 ? 'AccessDeniedException' : 'Success',
    decision: { allowed: seq % 50 !== 0, reason: "Allow by key policy statement 'Enable IAM User Permissions' (#0)" },
    durationMs: 0.5 + (seq % 13) / 10,
  };
}
