import { generateKeyPairSync } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { GENESIS_HEAD } from '../../../src/audit/chain.js';
import { auditPublicKey, checkpointPayload, signCheckpoint, verifyCheckpoint } from '../../../src/audit/checkpoint.js';
import { auditKeyPair, nodeCheckpointSigner } from '../../support/audit-ledger.js';

const HASH = 'ab'.repeat(32);

describe('checkpoints', () => {
  it('sign exactly the canonical JSON of {domain, hash, seq, time, v}', () => {
    expect(checkpointPayload(40, HASH, '2026-01-02T03:04:05.678Z').toString('utf8')).toBe(
      `{"domain":"p11kms-ledger-checkpoint","hash":"${HASH}","seq":40,"time":"2026-01-02T03:04:05.678Z","v":1}`,
    );
  });

  it('refuse a payload with a bad seq or hash; genesis has nothing to vouch for', async () => {
    const signer = nodeCheckpointSigner(auditKeyPair().privateKey);
    await expect(signCheckpoint(signer, GENESIS_HEAD, new Date(0))).rejects.toThrow(RangeError);
    expect(() => checkpointPayload(0, HASH, 't')).toThrow(RangeError);
    expect(() => checkpointPayload(1, HASH.toUpperCase(), 't')).toThrow(RangeError);
  });

  it('verify with the PEM public key, and fail on any changed field or another key', async () => {
    const { privateKey, publicKeyPem } = auditKeyPair();
    const head = { seq: 12, hash: Buffer.from(HASH, 'hex') };
    const checkpoint = await signCheckpoint(nodeCheckpointSigner(privateKey), head, new Date(0));
    expect(checkpoint).toMatchObject({ seq: 12, hash: HASH, time: '1970-01-01T00:00:00.000Z' });
    expect(Buffer.from(checkpoint.signature, 'base64')[0]).toBe(0x30); // a DER SEQUENCE
    expect(verifyCheckpoint(checkpoint, publicKeyPem)).toBe(true);

    expect(verifyCheckpoint({ ...checkpoint, seq: 13 }, publicKeyPem)).toBe(false);
    expect(verifyCheckpoint({ ...checkpoint, hash: 'cd'.repeat(32) }, publicKeyPem)).toBe(false);
    expect(verifyCheckpoint({ ...checkpoint, time: '1970-01-01T00:00:00.001Z' }, publicKeyPem)).toBe(false);
    expect(verifyCheckpoint({ ...checkpoint, signature: 'AAAA' }, publicKeyPem)).toBe(false);
    expect(verifyCheckpoint(checkpoint, auditKeyPair().publicKeyPem)).toBe(false);
  });

  it('accept only an ECDSA P-256 public key', () => {
    const pem = (curve: string) =>
      generateKeyPairSync('ec', { namedCurve: curve }).publicKey.export({ type: 'spki', format: 'pem' }) as string;
    expect(auditPublicKey(pem('P-256')).asymmetricKeyType).toBe('ec');
    expect(() => auditPublicKey(pem('P-384'))).toThrow(TypeError);
    const ed25519 = generateKeyPairSync('ed25519').publicKey.export({ type: 'spki', format: 'pem' });
    expect(() => auditPublicKey(ed25519)).toThrow(TypeError);
  });
});
