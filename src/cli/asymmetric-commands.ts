import { readFileSync } from 'node:fs';
import { keyValuePairs } from './aws-json.js';
import { collect, type CommandSpec, type Options } from './command-spec.js';

const keyIdFlag: [string, string] = ['--key-id <id>', 'key id, ARN, alias name or alias ARN'];
const base64 = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64') : undefined);

/** --message (UTF-8), --message-base64 or --message-file, as the AWS CLI's fileb:// does for binary. */
const messageFlags: CommandSpec['flags'] = [
  ['--message <text>', 'UTF-8 message'],
  ['--message-base64 <b64>', 'message (or digest) in base64'],
  ['--message-file <path>', 'message from a file'],
];
function messageFrom(options: Options): Buffer | undefined {
  if (typeof options.message === 'string') return Buffer.from(options.message, 'utf8');
  if (typeof options.messageBase64 === 'string') return Buffer.from(options.messageBase64, 'base64');
  if (typeof options.messageFile === 'string') return readFileSync(options.messageFile);
  return undefined;
}

/** A DER public key in base64, or a PEM / DER file. */
function publicKeyFrom(options: Options): Buffer | undefined {
  if (typeof options.publicKey === 'string') return Buffer.from(options.publicKey, 'base64');
  if (typeof options.publicKeyFile !== 'string') return undefined;
  const bytes = readFileSync(options.publicKeyFile);
  const pem = /-----BEGIN PUBLIC KEY-----([\s\S]+?)-----END PUBLIC KEY-----/.exec(bytes.toString('latin1'));
  return pem ? Buffer.from(pem[1]!.replace(/\s+/g, ''), 'base64') : bytes;
}

const signingFlags: CommandSpec['flags'] = [
  keyIdFlag,
  ...messageFlags,
  ['--message-type <type>', 'RAW (default) or DIGEST'],
  ['--signing-algorithm <alg>', 'e.g. ECDSA_SHA_256, RSASSA_PSS_SHA_256'],
];
const signingRequest = (o: Options) => ({
  keyId: o.keyId,
  message: messageFrom(o),
  messageType: o.messageType,
  signingAlgorithm: o.signingAlgorithm,
});

const macFlags: CommandSpec['flags'] = [keyIdFlag, ...messageFlags, ['--mac-algorithm <alg>', 'HMAC_SHA_224/256/384/512']];
const macRequest = (o: Options) => ({ keyId: o.keyId, message: messageFrom(o), macAlgorithm: o.macAlgorithm });

const dataKeyPair = (name: string, rpc: CommandSpec['rpc'], describe: string): CommandSpec => ({
  name,
  rpc,
  dryRun: true,
  describe,
  flags: [
    keyIdFlag,
    ['--key-pair-spec <spec>', 'RSA_2048/3072/4096, ECC_NIST_P256/P384/P521, ECC_SECG_P256K1'],
    ['--encryption-context <key=value>', 'context pair (repeatable)', collect],
  ],
  request: (o) => ({
    keyId: o.keyId,
    keyPairSpec: o.keyPairSpec,
    encryptionContext: keyValuePairs(o.encryptionContext as string[] | undefined, 'encryption context'),
  }),
});

/** Client commands for asymmetric keys, HMAC keys and key agreement; binary values are base64, as in the AWS CLI. */
export const ASYMMETRIC_COMMANDS: CommandSpec[] = [
  {
    name: 'get-public-key',
    rpc: 'GetPublicKey',
    describe: 'the public key of an asymmetric key (DER SubjectPublicKeyInfo, base64)',
    flags: [keyIdFlag],
    request: (o) => ({ keyId: o.keyId }),
  },
  {
    name: 'sign',
    rpc: 'Sign',
    dryRun: true,
    describe: 'sign a message or digest with an asymmetric key',
    flags: signingFlags,
    request: signingRequest,
  },
  {
    name: 'verify',
    rpc: 'Verify',
    dryRun: true,
    describe: 'verify a signature (KMSInvalidSignatureException when it does not verify)',
    flags: [...signingFlags, ['--signature <b64>', 'signature in base64']],
    request: (o) => ({ ...signingRequest(o), signature: base64(o.signature) }),
  },
  {
    name: 'generate-mac',
    rpc: 'GenerateMac',
    dryRun: true,
    describe: 'HMAC of a message with an HMAC key',
    flags: macFlags,
    request: macRequest,
  },
  {
    name: 'verify-mac',
    rpc: 'VerifyMac',
    dryRun: true,
    describe: 'verify an HMAC (KMSInvalidMacException when it does not verify)',
    flags: [...macFlags, ['--mac <b64>', 'MAC in base64']],
    request: (o) => ({ ...macRequest(o), mac: base64(o.mac) }),
  },
  dataKeyPair('generate-data-key-pair', 'GenerateDataKeyPair', 'make a data key pair: public key, private key and its encrypted copy'),
  dataKeyPair(
    'generate-data-key-pair-without-plaintext',
    'GenerateDataKeyPairWithoutPlaintext',
    'make a data key pair: public key and encrypted private key only',
  ),
  {
    name: 'derive-shared-secret',
    rpc: 'DeriveSharedSecret',
    dryRun: true,
    describe: 'ECDH between a KEY_AGREEMENT key and a peer public key',
    flags: [
      keyIdFlag,
      ['--key-agreement-algorithm <alg>', 'ECDH (default)'],
      ['--public-key <b64>', 'peer public key, DER SubjectPublicKeyInfo in base64'],
      ['--public-key-file <path>', 'peer public key, PEM or DER file'],
    ],
    request: (o) => ({ keyId: o.keyId, keyAgreementAlgorithm: o.keyAgreementAlgorithm ?? 'ECDH', publicKey: publicKeyFrom(o) }),
  },
];
