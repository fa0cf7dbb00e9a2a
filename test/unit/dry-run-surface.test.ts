import { Command } from 'commander';
import { describe, expect, it } from 'vitest';
import { registerClientCommands } from '../../src/cli/client-commands.js';
import { loadReflection } from '../../src/transport/grpc/proto-files.js';
import { KMS_ROUTES } from '../../src/transport/grpc/routes.js';

/** AWS KMS's DryRun operations ("Testing your permissions", AWS KMS developer guide). */
const AWS_DRY_RUN_OPERATIONS = [
  'CreateGrant', 'Decrypt', 'DeriveSharedSecret', 'Encrypt', 'GenerateDataKey', 'GenerateDataKeyPair',
  'GenerateDataKeyPairWithoutPlaintext', 'GenerateDataKeyWithoutPlaintext', 'GenerateMac', 'ReEncrypt',
  'RetireGrant', 'RevokeGrant', 'Sign', 'Verify', 'VerifyMac',
];

const pascalCase = (kebab: string) => kebab.replace(/(^|-)([a-z])/g, (_match, _dash, letter: string) => letter.toUpperCase());

describe('where DryRun is taken', () => {
  const reflection = loadReflection();
  const requestHasDryRun = (rpc: string) => reflection.lookupType(`p11kms.v1.${rpc}Request`).fields['dry_run'] !== undefined;

  it('the proto, the operations and the CLI agree, and name what AWS KMS names', () => {
    const routes = Object.entries(KMS_ROUTES);
    expect(routes.filter(([rpc]) => requestHasDryRun(rpc)).map(([rpc]) => rpc).sort()).toEqual(AWS_DRY_RUN_OPERATIONS);
    expect(routes.filter(([, operation]) => operation.dryRun === true).map(([rpc]) => rpc).sort()).toEqual(AWS_DRY_RUN_OPERATIONS);

    const program = new Command();
    registerClientCommands(program, async () => undefined);
    const withFlag = program.commands.filter((command) => command.options.some((option) => option.long === '--dry-run'));
    // Every dry-runnable operation the CLI offers has the flag, and no other command has it.
    const offered = program.commands.map((command) => pascalCase(command.name())).filter((rpc) => AWS_DRY_RUN_OPERATIONS.includes(rpc));
    expect(withFlag.map((command) => pascalCase(command.name())).sort()).toEqual(offered.sort());
    expect(offered).toHaveLength(AWS_DRY_RUN_OPERATIONS.length);
  });
});
