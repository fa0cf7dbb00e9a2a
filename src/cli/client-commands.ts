import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { KmsClient } from '../transport/grpc/client.js';
import type { TlsMaterial } from '../transport/grpc/server.js';
import { collect, integer, type CommandSpec, type ConnectionOptions, type Options } from './command-spec.js';
import { dataDirLayout } from './data-dir.js';
import { keyValuePairs, toAwsJson } from './aws-json.js';
import { LIFECYCLE_COMMANDS } from './lifecycle-commands.js';
import { AUTHORIZATION_COMMANDS } from './authorization-commands.js';
import { ASYMMETRIC_COMMANDS } from './asymmetric-commands.js';


const base64 = (value: unknown) => (typeof value === 'string' ? Buffer.from(value, 'base64') : undefined);
const context = (value: unknown) => keyValuePairs(value as string[] | undefined, 'encryption context');

function plaintextFrom(options: Options): Buffer | undefined {
  if (typeof options.plaintext === 'string') return Buffer.from(options.plaintext, 'utf8');
  if (typeof options.plaintextBase64 === 'string') return Buffer.from(options.plaintextBase64, 'base64');
  if (typeof options.plaintextFile === 'string') return readFileSync(options.plaintextFile);
  return undefined;
}


/** AWS KMS DryRunModifiers of Decrypt and ReEncrypt. */
const dryRunModifiersFlag: CommandSpec['flags'][number] = [
  '--dry-run-modifiers <modifier>',
  'IGNORE_CIPHERTEXT: with --dry-run, name the key by its key-id flag and give no ciphertext (repeatable)',
  collect,
];

const KEY_COMMANDS: CommandSpec[] = [
  {
    name: 'create-key',
    rpc: 'CreateKey',
    describe: 'create a KMS key whose material is generated in the token',
    flags: [
      ['--description <text>', 'description'], ['--key-spec <spec>', 'key spec'],
      ['--customer-master-key-spec <spec>', 'the key spec under its deprecated name, as the AWS CLI still takes it'],
      ['--key-usage <usage>', 'key usage'], ['--tag <key=value>', 'a tag (repeatable)', collect],
    ],
    request: (o) => ({
      description: o.description,
      keySpec: o.keySpec,
      customerMasterKeySpec: o.customerMasterKeySpec,
      keyUsage: o.keyUsage,
      tags: Object.entries(keyValuePairs(o.tag as string[] | undefined, 'tag')).map(([tagKey, tagValue]) => ({ tagKey, tagValue })),
    }),
  },
  { name: 'describe-key', rpc: 'DescribeKey', describe: 'show a key', flags: [['--key-id <id>', 'key id, ARN, alias name or alias ARN']], request: (o) => ({ keyId: o.keyId }) },
  { name: 'list-keys', rpc: 'ListKeys', describe: 'list keys', flags: [['--limit <n>', 'page size', integer], ['--marker <marker>', 'next page']], request: (o) => ({ limit: o.limit, marker: o.marker }) },
  { name: 'enable-key', rpc: 'EnableKey', describe: 'enable a key', flags: [['--key-id <id>', 'key']], request: (o) => ({ keyId: o.keyId }) },
  { name: 'disable-key', rpc: 'DisableKey', describe: 'disable a key', flags: [['--key-id <id>', 'key']], request: (o) => ({ keyId: o.keyId }) },
  {
    name: 'encrypt',
    rpc: 'Encrypt',
    dryRun: true,
    describe: 'encrypt up to 4096 bytes',
    flags: [['--key-id <id>', 'key'], ['--plaintext <text>', 'UTF-8 plaintext'], ['--plaintext-base64 <b64>', 'plaintext in base64'], ['--plaintext-file <path>', 'plaintext from a file'], ['--encryption-context <key=value>', 'context pair (repeatable)', collect], ['--encryption-algorithm <alg>', 'SYMMETRIC_DEFAULT (default), RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256']],
    request: (o) => ({ keyId: o.keyId, plaintext: plaintextFrom(o), encryptionContext: context(o.encryptionContext), encryptionAlgorithm: o.encryptionAlgorithm }),
  },
  {
    name: 'decrypt',
    rpc: 'Decrypt',
    dryRun: true,
    describe: 'decrypt a ciphertext blob (base64); Plaintext is printed in base64',
    flags: [
      ['--ciphertext-blob <b64>', 'ciphertext'], ['--key-id <id>', 'expected key (required for RSA keys)'],
      ['--encryption-context <key=value>', 'context pair (repeatable)', collect],
      ['--encryption-algorithm <alg>', 'RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 for RSA keys'], dryRunModifiersFlag,
    ],
    request: (o) => ({
      ciphertextBlob: base64(o.ciphertextBlob),
      keyId: o.keyId,
      encryptionContext: context(o.encryptionContext),
      encryptionAlgorithm: o.encryptionAlgorithm,
      dryRunModifiers: o.dryRunModifiers,
    }),
  },
  {
    name: 're-encrypt',
    rpc: 'ReEncrypt',
    dryRun: true,
    describe: 'decrypt and encrypt again under another key or context, inside the service',
    flags: [
      ['--ciphertext-blob <b64>', 'ciphertext'], ['--destination-key-id <id>', 'destination key'], ['--source-key-id <id>', 'expected source key (required for RSA keys)'],
      ['--source-encryption-context <key=value>', 'source context pair', collect], ['--destination-encryption-context <key=value>', 'destination context pair', collect],
      ['--source-encryption-algorithm <alg>', 'RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 for an RSA source key'],
      ['--destination-encryption-algorithm <alg>', 'RSAES_OAEP_SHA_1 or RSAES_OAEP_SHA_256 for an RSA destination key'],
      dryRunModifiersFlag,
    ],
    request: (o) => ({
      ciphertextBlob: base64(o.ciphertextBlob),
      destinationKeyId: o.destinationKeyId,
      sourceKeyId: o.sourceKeyId,
      sourceEncryptionContext: context(o.sourceEncryptionContext),
      destinationEncryptionContext: context(o.destinationEncryptionContext),
      sourceEncryptionAlgorithm: o.sourceEncryptionAlgorithm,
      destinationEncryptionAlgorithm: o.destinationEncryptionAlgorithm,
      dryRunModifiers: o.dryRunModifiers,
    }),
  },
  ...(['generate-data-key', 'generate-data-key-without-plaintext'] as const).map((name) => ({
    name,
    rpc: (name === 'generate-data-key' ? 'GenerateDataKey' : 'GenerateDataKeyWithoutPlaintext') as CommandSpec['rpc'],
    dryRun: true as const,
    describe: name === 'generate-data-key' ? 'make a data key: plaintext and encrypted copy' : 'make a data key: encrypted copy only',
    flags: [['--key-id <id>', 'key'], ['--key-spec <spec>', 'AES_128 or AES_256'], ['--number-of-bytes <n>', '1 to 1024', integer], ['--encryption-context <key=value>', 'context pair (repeatable)', collect]] as CommandSpec['flags'],
    request: (o: Options) => ({ keyId: o.keyId, keySpec: o.keySpec, numberOfBytes: o.numberOfBytes, encryptionContext: context(o.encryptionContext) }),
  })),
  { name: 'generate-random', rpc: 'GenerateRandom', describe: 'random bytes from the token', flags: [['--number-of-bytes <n>', '1 to 1024', integer]], request: (o) => ({ numberOfBytes: o.numberOfBytes }) },
];

function connect(options: ConnectionOptions): KmsClient {
  const { endpoint, tls } = connection(options);
  return KmsClient.connect(endpoint, tls);
}

/** Where the server is and the TLS material to reach it: flags first, then the data dir's files. */
export function connection(options: ConnectionOptions): { endpoint: string; tls: TlsMaterial } {
  const layout = dataDirLayout(options.dataDir);
  let endpoint = options.endpoint;
  if (!endpoint) {
    if (!existsSync(layout.endpointFile)) {
      throw new Error(`no --endpoint given and ${layout.endpointFile} does not exist: is 'p11kms serve' running?`);
    }
    endpoint = readFileSync(layout.endpointFile, 'utf8').trim();
  }
  return {
    endpoint,
    tls: {
      caPem: readFileSync(options.ca ?? layout.caCert),
      certPem: readFileSync(options.cert ?? layout.adminCert),
      keyPem: readFileSync(options.key ?? layout.adminKey),
    },
  };
}

type Run = (action: () => Promise<unknown>) => Promise<void>;

export function registerClientCommands(program: Command, run: Run): void {
  for (const spec of [...KEY_COMMANDS, ...ASYMMETRIC_COMMANDS, ...LIFECYCLE_COMMANDS, ...AUTHORIZATION_COMMANDS]) {
    addClientCommand(program, spec, connect, run);
  }
}

/**
 * One client command under `parent`: the connection flags, the spec's own flags, and an action that
 * calls the RPC and prints the answer in the AWS CLI's shape.
 */
export function addClientCommand<Rpc extends string>(
  parent: Command,
  spec: CommandSpec<Rpc>,
  open: (options: ConnectionOptions) => KmsClient<Rpc>,
  run: Run,
): void {
  const command = parent
    .command(spec.name)
    .description(spec.describe)
    .option('--data-dir <dir>', 'data dir of a local server (CA, admin certificate, endpoint)', './data')
    .option('--endpoint <host:port>', 'server address (default: <data-dir>/endpoint)')
    .option('--ca <pem>', 'CA certificate that signed the server certificate')
    .option('--cert <pem>', 'client certificate (its URI SAN is your principal)')
    .option('--key <pem>', 'client private key');
  for (const [flags, description, parse] of spec.flags) {
    if (parse) command.option(flags, description, parse as (value: string, previous: unknown) => unknown);
    else command.option(flags, description);
  }
  if (spec.dryRun) {
    command.option('--dry-run', 'check permissions, parameters and key state only: DryRunOperationException when the call would succeed');
  }
  command.action((options: Options) =>
    run(async () => {
      const client = open(options);
      const request = options.dryRun === true ? { ...spec.request(options), dryRun: true } : spec.request(options);
      try {
        return toAwsJson(await client.call(spec.rpc, request));
      } finally {
        client.close();
      }
    }),
  );
}
