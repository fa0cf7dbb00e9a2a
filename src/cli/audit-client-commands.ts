import type { Command } from 'commander';
import { KmsClient, type AuditRpc } from '../transport/grpc/client.js';
import { integer, isoTime, type CommandSpec } from './command-spec.js';
import { addClientCommand, connection } from './client-commands.js';

const page: CommandSpec<AuditRpc>['flags'] = [
  ['--limit <n>', 'page size, 1 to 1000 (default 100)', integer],
  ['--marker <marker>', 'next page (NextMarker of the previous answer)'],
];

/**
 * The AuditService through a running server, for an auditor with a client certificate (and the
 * kms:ListAuditEvents … permissions): each read is authorized and itself recorded. `audit export`
 * and `audit verify` stay the offline route to the whole chain.
 */
const AUDIT_CLIENT_COMMANDS: CommandSpec<AuditRpc>[] = [
  {
    name: 'list-events',
    rpc: 'ListAuditEvents',
    describe: 'list ledger entries through the server; every filter given must match',
    flags: [
      ['--key-id <id>', 'entries naming this key (key id or key ARN)'],
      ['--principal-arn <arn>', 'entries of this caller'],
      ['--operation <name>', 'e.g. Decrypt'],
      ['--outcome <outcome>', 'Success or an AWS exception name, e.g. AccessDeniedException'],
      ['--start-time <iso>', 'entries at or after this time', isoTime],
      ['--end-time <iso>', 'entries at or before this time', isoTime],
      ['--newest-first', 'newest entries first (default: oldest first)'],
      ...page,
    ],
    request: (o) => ({
      keyId: o.keyId,
      principalArn: o.principalArn,
      operation: o.operation,
      outcome: o.outcome,
      startTime: o.startTime,
      endTime: o.endTime,
      newestFirst: o.newestFirst === true,
      limit: o.limit,
      marker: o.marker,
    }),
  },
  {
    name: 'head',
    rpc: 'GetLedgerHead',
    describe: "the ledger's head (sequence number, chain hash) and its last signed checkpoint",
    flags: [],
    request: () => ({}),
  },
  { name: 'checkpoints', rpc: 'ListCheckpoints', describe: 'list the signed checkpoints', flags: page, request: (o) => ({ limit: o.limit, marker: o.marker }) },
  {
    name: 'get-public-key',
    rpc: 'GetAuditPublicKey',
    describe: "the audit public key and its fingerprint, from the server ('audit public-key' reads the token itself)",
    flags: [],
    request: () => ({}),
  },
  {
    name: 'key-last-usage',
    rpc: 'GetKeyLastUsage',
    describe: "a key's last successful cryptographic use, from the ledger",
    flags: [['--key-id <id>', 'key id or key ARN']],
    request: (o) => ({ keyId: o.keyId }),
  },
];

export function registerAuditClientCommands(audit: Command, run: (action: () => Promise<unknown>) => Promise<void>): void {
  for (const spec of AUDIT_CLIENT_COMMANDS) {
    addClientCommand(audit, spec, (options) => {
      const { endpoint, tls } = connection(options);
      return KmsClient.connectAudit(endpoint, tls);
    }, run);
  }
}
