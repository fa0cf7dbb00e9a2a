import { generateKeyPairSync } from 'node:crypto';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import * as ops from '../../src/operations/index.js';
import type { AnyOperation } from '../../src/operations/operation.js';
import { KmsError } from '../../src/domain/errors.js';
import { KEY_STATES, type KeyState } from '../../src/domain/key.js';
import { KEY_STATE_RULES } from '../../src/domain/key-state-rules.js';
import { ACCOUNT, DEVELOPER, pipelineHarness, type PipelineHarness } from '../support/pipeline-harness.js';
import { defaultKeyPolicyText } from '../../src/policy/index.js';

/**
 * The expected answers, transcribed from the AWS KMS Developer Guide ("Key states of AWS KMS
 * keys") independently of src/domain/key-state-rules.ts: every cell is run through the real
 * pipeline on a key put in that state.
 *   ok = allowed · DIS = DisabledException · INV = KMSInvalidStateException · UNA = KeyUnavailableException
 */
const COLUMNS: KeyState[] = ['Enabled', 'Disabled', 'PendingDeletion', 'PendingImport', 'Unavailable', 'Creating', 'Updating'];
const EXPECTED = `
DescribeKey                     ok  ok  ok  ok  ok  ok  ok
EnableKey                       ok  ok  INV INV INV INV INV
DisableKey                      ok  ok  INV INV INV INV INV
Encrypt                         ok  DIS INV INV UNA INV INV
Decrypt                         ok  DIS INV INV UNA INV INV
ReEncrypt                       ok  DIS INV INV UNA INV INV
GenerateDataKey                 ok  DIS INV INV UNA INV INV
GenerateDataKeyWithoutPlaintext ok  DIS INV INV UNA INV INV
GenerateDataKeyPair             ok  DIS INV INV UNA INV INV
GenerateDataKeyPairWithoutPlaintext ok DIS INV INV UNA INV INV
Sign                            ok  DIS INV INV UNA INV INV
Verify                          ok  DIS INV INV UNA INV INV
GetPublicKey                    ok  DIS INV INV UNA INV INV
GenerateMac                     ok  DIS INV INV UNA INV INV
VerifyMac                       ok  DIS INV INV UNA INV INV
DeriveSharedSecret              ok  DIS INV INV UNA INV INV
CreateAlias                     ok  ok  INV ok  ok  INV INV
UpdateAlias                     ok  ok  INV ok  ok  INV INV
DeleteAlias                     ok  ok  ok  ok  ok  ok  ok
EnableKeyRotation               ok  DIS INV INV INV INV INV
DisableKeyRotation              ok  DIS INV INV INV INV INV
GetKeyRotationStatus            ok  ok  ok  ok  ok  ok  ok
RotateKeyOnDemand               ok  DIS INV INV INV INV INV
ListKeyRotations                ok  ok  ok  ok  ok  ok  ok
ScheduleKeyDeletion             ok  ok  INV ok  ok  INV INV
CancelKeyDeletion               INV INV ok  INV INV INV INV
UpdateKeyDescription            ok  ok  INV ok  ok  INV INV
TagResource                     ok  ok  INV ok  ok  INV INV
UntagResource                   ok  ok  INV ok  ok  INV INV
ListResourceTags                ok  ok  ok  ok  ok  ok  ok
PutKeyPolicy                    ok  ok  ok  ok  ok  ok  ok
GetKeyPolicy                    ok  ok  ok  ok  ok  ok  ok
ListKeyPolicies                 ok  ok  ok  ok  ok  ok  ok
CreateGrant                     ok  DIS INV INV UNA INV INV
ListGrants                      ok  ok  ok  ok  ok  ok  ok
RetireGrant                     ok  ok  ok  ok  ok  ok  ok
RevokeGrant                     ok  ok  ok  ok  ok  ok  ok
`;
const NAMES = { ok: 'allow', DIS: 'DisabledException', INV: 'KMSInvalidStateException', UNA: 'KeyUnavailableException' } as const;

const table = EXPECTED.trim()
  .split('\n')
  .map((line) => line.trim().split(/\s+/))
  .map(([operation, ...cells]) => ({ operation: operation!, cells: cells.map((c) => NAMES[c as keyof typeof NAMES]) }));

interface Fixture {
  readonly keyId: string;
  readonly ciphertextBlob: Buffer;
  readonly aliasOfKey: string;
  readonly aliasOfOther: string;
  readonly grantId: string;
  /** A signature or MAC made while the key was enabled (Verify, VerifyMac). */
  readonly proof: Buffer | undefined;
}

/** The operations that need a key of another kind than a symmetric encryption key. */
const KEY_KINDS: Record<string, { keySpec: string; keyUsage: string }> = {
  Sign: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' },
  Verify: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' },
  GetPublicKey: { keySpec: 'ECC_NIST_P256', keyUsage: 'SIGN_VERIFY' },
  GenerateMac: { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' },
  VerifyMac: { keySpec: 'HMAC_256', keyUsage: 'GENERATE_VERIFY_MAC' },
  DeriveSharedSecret: { keySpec: 'ECC_NIST_P256', keyUsage: 'KEY_AGREEMENT' },
};
const MESSAGE = Buffer.from('message');
const PEER_PUBLIC_KEY = generateKeyPairSync('ec', { namedCurve: 'prime256v1' }).publicKey.export({ format: 'der', type: 'spki' });
const SIGN = { message: MESSAGE, signingAlgorithm: 'ECDSA_SHA_256' };
const MAC = { message: MESSAGE, macAlgorithm: 'HMAC_SHA_256' };

/** The operation and a valid request for it, naming the key under test. */
const CALLS: Record<string, (f: Fixture) => [AnyOperation, object]> = {
  DescribeKey: (f) => [ops.describeKey, { keyId: f.keyId }],
  EnableKey: (f) => [ops.enableKey, { keyId: f.keyId }],
  DisableKey: (f) => [ops.disableKey, { keyId: f.keyId }],
  Encrypt: (f) => [ops.encrypt, { keyId: f.keyId, plaintext: Buffer.from('x') }],
  Decrypt: (f) => [ops.decrypt, { ciphertextBlob: f.ciphertextBlob }],
  ReEncrypt: (f) => [ops.reEncrypt, { ciphertextBlob: f.ciphertextBlob, destinationKeyId: f.keyId }],
  GenerateDataKey: (f) => [ops.generateDataKey, { keyId: f.keyId, keySpec: 'AES_256' }],
  GenerateDataKeyWithoutPlaintext: (f) => [ops.generateDataKeyWithoutPlaintext, { keyId: f.keyId, keySpec: 'AES_256' }],
  CreateAlias: (f) => [ops.createAlias, { aliasName: `${f.aliasOfKey}-new`, targetKeyId: f.keyId }],
  UpdateAlias: (f) => [ops.updateAlias, { aliasName: f.aliasOfOther, targetKeyId: f.keyId }],
  DeleteAlias: (f) => [ops.deleteAlias, { aliasName: f.aliasOfKey }],
  EnableKeyRotation: (f) => [ops.enableKeyRotation, { keyId: f.keyId }],
  DisableKeyRotation: (f) => [ops.disableKeyRotation, { keyId: f.keyId }],
  GetKeyRotationStatus: (f) => [ops.getKeyRotationStatus, { keyId: f.keyId }],
  RotateKeyOnDemand: (f) => [ops.rotateKeyOnDemand, { keyId: f.keyId }],
  ListKeyRotations: (f) => [ops.listKeyRotations, { keyId: f.keyId }],
  ScheduleKeyDeletion: (f) => [ops.scheduleKeyDeletion, { keyId: f.keyId }],
  CancelKeyDeletion: (f) => [ops.cancelKeyDeletion, { keyId: f.keyId }],
  UpdateKeyDescription: (f) => [ops.updateKeyDescription, { keyId: f.keyId, description: 'x' }],
  TagResource: (f) => [ops.tagResource, { keyId: f.keyId, tags: [{ tagKey: 'a', tagValue: 'b' }] }],
  UntagResource: (f) => [ops.untagResource, { keyId: f.keyId, tagKeys: ['a'] }],
  ListResourceTags: (f) => [ops.listResourceTags, { keyId: f.keyId }],
  PutKeyPolicy: (f) => [ops.putKeyPolicy, { keyId: f.keyId, policy: defaultKeyPolicyText(ACCOUNT) }],
  GetKeyPolicy: (f) => [ops.getKeyPolicy, { keyId: f.keyId }],
  ListKeyPolicies: (f) => [ops.listKeyPolicies, { keyId: f.keyId }],
  CreateGrant: (f) => [ops.createGrant, { keyId: f.keyId, granteePrincipal: DEVELOPER, operations: ['Decrypt'] }],
  ListGrants: (f) => [ops.listGrants, { keyId: f.keyId }],
  RetireGrant: (f) => [ops.retireGrant, { keyId: f.keyId, grantId: f.grantId }],
  RevokeGrant: (f) => [ops.revokeGrant, { keyId: f.keyId, grantId: f.grantId }],
  GenerateDataKeyPair: (f) => [ops.generateDataKeyPair, { keyId: f.keyId, keyPairSpec: 'ECC_NIST_P256' }],
  GenerateDataKeyPairWithoutPlaintext: (f) => [ops.generateDataKeyPairWithoutPlaintext, { keyId: f.keyId, keyPairSpec: 'ECC_NIST_P256' }],
  Sign: (f) => [ops.sign, { keyId: f.keyId, ...SIGN }],
  Verify: (f) => [ops.verify, { keyId: f.keyId, ...SIGN, signature: f.proof }],
  GetPublicKey: (f) => [ops.getPublicKey, { keyId: f.keyId }],
  GenerateMac: (f) => [ops.generateMac, { keyId: f.keyId, ...MAC }],
  VerifyMac: (f) => [ops.verifyMac, { keyId: f.keyId, ...MAC, mac: f.proof }],
  DeriveSharedSecret: (f) => [ops.deriveSharedSecret, { keyId: f.keyId, keyAgreementAlgorithm: 'ECDH', publicKey: PEER_PUBLIC_KEY }],
};

let h: PipelineHarness;
let cell = 0;
beforeAll(async () => {
  h = await pipelineHarness();
});
afterAll(async () => h?.close());

/**
 * A fresh Enabled key (of the kind the operation needs) with a ciphertext or a signature or MAC,
 * and aliases, then put into `state`.
 */
async function keyIn(state: KeyState, operation: string): Promise<Fixture> {
  const n = cell++;
  const kind = KEY_KINDS[operation];
  const key = (await h.call(ops.createKey, kind ?? {})).keyMetadata;
  const other = (await h.call(ops.createKey, {})).keyMetadata;
  const { ciphertextBlob } = kind ? { ciphertextBlob: Buffer.alloc(0) } : await h.call(ops.encrypt, { keyId: key.keyId, plaintext: Buffer.from('x') });
  const proof =
    operation === 'Verify'
      ? (await h.call(ops.sign, { keyId: key.keyId, ...SIGN })).signature
      : operation === 'VerifyMac'
        ? (await h.call(ops.generateMac, { keyId: key.keyId, ...MAC })).mac
        : undefined;
  await h.call(ops.createAlias, { aliasName: `alias/cell-${n}`, targetKeyId: key.keyId });
  await h.call(ops.createAlias, { aliasName: `alias/cell-${n}-other`, targetKeyId: other.keyId });
  const grantOperations = kind ? ['DescribeKey'] : ['Encrypt'];
  const { grantId } = await h.call(ops.createGrant, { keyId: key.keyId, granteePrincipal: DEVELOPER, operations: grantOperations });
  if (state === 'PendingDeletion') await h.store.scheduleKeyDeletion(key.keyId, new Date(h.clock.now().getTime() + 7 * 86_400_000));
  else if (state !== 'Enabled') await h.store.setKeyState(key.keyId, state);
  return { keyId: key.keyId, ciphertextBlob, aliasOfKey: `alias/cell-${n}`, aliasOfOther: `alias/cell-${n}-other`, grantId, proof };
}

describe('the key-state table, cell by cell through the pipeline', () => {
  it('covers exactly the operations that name a key', () => {
    const inCode = Object.keys(KEY_STATE_RULES).filter((name) => name !== 'UpdateAliasCurrentKey').sort();
    expect(table.map((row) => row.operation).sort()).toEqual(inCode);
    expect([...COLUMNS].sort()).toEqual([...KEY_STATES].sort());
  });

  const cells = table.flatMap(({ operation, cells: expected }) =>
    COLUMNS.map((state, i) => [operation, state, expected[i]!] as const),
  );

  it.each(cells)('%s on a %s key: %s', async (operation, state, expected) => {
    const fixture = await keyIn(state, operation);
    const [op, request] = CALLS[operation]!(fixture);
    const outcome = await h.call(op, request).then(
      () => 'allow',
      (error: unknown) => (error instanceof KmsError ? error.name : String(error)),
    );
    expect(outcome).toBe(expected);
  });
});
