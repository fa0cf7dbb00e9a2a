import { aliasArn } from '../domain/alias.js';
import { KmsError } from '../domain/errors.js';
import { parseKeyReference } from '../domain/ids.js';
import { defineOperation } from './operation.js';
import { validateLimit } from './paging.js';

export interface ListAliasesRequest {
  readonly keyId?: string;
  readonly limit?: number;
  readonly marker?: string;
}

export interface AliasListEntry {
  readonly aliasName: string;
  readonly aliasArn: string;
  readonly targetKeyId: string;
  readonly creationDate: Date;
  readonly lastUpdatedDate: Date;
}

export interface ListAliasesResponse {
  readonly aliases: AliasListEntry[];
  readonly nextMarker: string | undefined;
  readonly truncated: boolean;
}

/** AWS KMS ListAliases: the caller account's aliases, optionally of one key (id or ARN). */
export const listAliases = defineOperation<ListAliasesRequest, ListAliasesResponse>({
  name: 'ListAliases',
  action: 'kms:ListAliases',
  keys: {},
  audit: (r) => ({ keyId: r.keyId, limit: r.limit }),
  validate: (r) => validateLimit(r.limit, 100),
  // AWS KMS ListAliases: Limit 1–100, 50 when absent.
  async run(request, { store, location, caller }) {
    let keyId: string | undefined;
    if (request.keyId) {
      const reference = parseKeyReference(request.keyId);
      if (reference.kind !== 'keyId' && reference.kind !== 'keyArn') {
        throw new KmsError('ValidationException', 'KeyId must be a key id or key ARN.');
      }
      keyId = reference.keyId;
    }
    const page = await store.listAliases({
      account: caller.account,
      keyId,
      limit: request.limit ?? 50,
      marker: request.marker || undefined,
    });
    return {
      aliases: page.items.map((alias) => ({
        aliasName: alias.aliasName,
        aliasArn: aliasArn(location, alias.account, alias.aliasName),
        targetKeyId: alias.keyId,
        creationDate: alias.createdAt,
        lastUpdatedDate: alias.lastUpdatedAt,
      })),
      nextMarker: page.nextMarker,
      truncated: page.nextMarker !== undefined,
    };
  },
});
