import { keyValuePairs } from './aws-json.js';
import { collect, integer, type CommandSpec } from './command-spec.js';

const keyIdFlag: [string, string] = ['--key-id <id>', 'key id, ARN, alias name or alias ARN'];
const pageFlags: CommandSpec['flags'] = [['--limit <n>', 'page size', integer], ['--marker <marker>', 'next page']];
const keyOnly = (name: string, rpc: CommandSpec['rpc'], describe: string): CommandSpec => ({
  name,
  rpc,
  describe,
  flags: [keyIdFlag],
  request: (o) => ({ keyId: o.keyId }),
});

/** Client commands for aliases, rotation, scheduled deletion, descriptions and tags. */
export const LIFECYCLE_COMMANDS: CommandSpec[] = [
  {
    name: 'create-alias',
    rpc: 'CreateAlias',
    describe: 'give a key a friendly name (alias/…)',
    flags: [['--alias-name <alias/name>', 'alias name'], ['--target-key-id <id>', 'key id or ARN']],
    request: (o) => ({ aliasName: o.aliasName, targetKeyId: o.targetKeyId }),
  },
  {
    name: 'update-alias',
    rpc: 'UpdateAlias',
    describe: 'point an alias at another key',
    flags: [['--alias-name <alias/name>', 'alias name'], ['--target-key-id <id>', 'key id or ARN']],
    request: (o) => ({ aliasName: o.aliasName, targetKeyId: o.targetKeyId }),
  },
  {
    name: 'delete-alias',
    rpc: 'DeleteAlias',
    describe: 'delete an alias (the key stays)',
    flags: [['--alias-name <alias/name>', 'alias name']],
    request: (o) => ({ aliasName: o.aliasName }),
  },
  {
    name: 'list-aliases',
    rpc: 'ListAliases',
    describe: 'list aliases, optionally of one key',
    flags: [['--key-id <id>', 'key id or ARN'], ...pageFlags],
    request: (o) => ({ keyId: o.keyId, limit: o.limit, marker: o.marker }),
  },
  {
    name: 'enable-key-rotation',
    rpc: 'EnableKeyRotation',
    describe: 'rotate the key automatically every N days (90–2560, default 365)',
    flags: [keyIdFlag, ['--rotation-period-in-days <n>', 'period', integer]],
    request: (o) => ({ keyId: o.keyId, rotationPeriodInDays: o.rotationPeriodInDays }),
  },
  keyOnly('disable-key-rotation', 'DisableKeyRotation', 'stop automatic rotation'),
  keyOnly('get-key-rotation-status', 'GetKeyRotationStatus', 'show whether and when the key rotates'),
  keyOnly('rotate-key-on-demand', 'RotateKeyOnDemand', 'make a new key version now (at most 25 times)'),
  {
    name: 'list-key-rotations',
    rpc: 'ListKeyRotations',
    describe: 'list the rotations of a key',
    flags: [keyIdFlag, ...pageFlags],
    request: (o) => ({ keyId: o.keyId, limit: o.limit, marker: o.marker }),
  },
  {
    name: 'schedule-key-deletion',
    rpc: 'ScheduleKeyDeletion',
    describe: 'delete the key after a waiting period (7–30 days, default 30)',
    flags: [keyIdFlag, ['--pending-window-in-days <n>', 'waiting period', integer]],
    request: (o) => ({ keyId: o.keyId, pendingWindowInDays: o.pendingWindowInDays }),
  },
  keyOnly('cancel-key-deletion', 'CancelKeyDeletion', 'cancel a scheduled deletion (the key returns Disabled)'),
  {
    name: 'update-key-description',
    rpc: 'UpdateKeyDescription',
    describe: 'replace the description',
    flags: [keyIdFlag, ['--description <text>', 'new description ("" clears it)']],
    request: (o) => ({ keyId: o.keyId, description: o.description }),
  },
  {
    name: 'tag-resource',
    rpc: 'TagResource',
    describe: 'add or replace tags',
    flags: [keyIdFlag, ['--tag <key=value>', 'a tag (repeatable)', collect]],
    request: (o) => ({
      keyId: o.keyId,
      tags: Object.entries(keyValuePairs(o.tag as string[] | undefined, 'tag')).map(([tagKey, tagValue]) => ({ tagKey, tagValue })),
    }),
  },
  {
    name: 'untag-resource',
    rpc: 'UntagResource',
    describe: 'remove tags by key',
    flags: [keyIdFlag, ['--tag-key <key>', 'a tag key (repeatable)', collect]],
    request: (o) => ({ keyId: o.keyId, tagKeys: o.tagKey }),
  },
  {
    name: 'list-resource-tags',
    rpc: 'ListResourceTags',
    describe: 'list the tags of a key',
    flags: [keyIdFlag, ...pageFlags],
    request: (o) => ({ keyId: o.keyId, limit: o.limit, marker: o.marker }),
  },
];
