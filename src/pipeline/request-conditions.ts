import type { EncryptionContext } from '../domain/encryption-context.js';
import { boundedMemo } from '../domain/memo.js';
import { isoTime } from '../domain/iso-time.js';
import type { KeyRecord, Tag } from '../domain/key.js';
import type { Principal } from '../domain/principal.js';
import { principalConditionKeys } from '../policy/context.js';
import type { ConditionKeys } from '../ports/authorizer.js';

/** The condition keys every request carries (AWS global and KMS keys; IAM "Global condition context keys"). */
export function callerConditions(input: {
  principal: Principal;
  callerAccount: string;
  sourceAddress: string;
  now: Date;
  viaService: string | undefined;
}): Record<string, ConditionKeys[string]> {
  const principal = principalConditionKeys(input.principal);
  // One literal of fixed keys, so that every request's object has one shape (a spread of the
  // principal's frozen keys took V8's slow copy). A key a principal lacks is undefined: absent to
  // the policy context, as a missing key is.
  return {
    'aws:PrincipalArn': principal['aws:PrincipalArn'],
    'aws:PrincipalAccount': principal['aws:PrincipalAccount'],
    'kms:CallerAccount': input.callerAccount,
    'aws:SourceIp': sourceIp(input.sourceAddress),
    'aws:CurrentTime': isoTime(input.now),
    // Every request arrives over mutual TLS.
    'aws:SecureTransport': true,
    'kms:ViaService': input.viaService,
  };
}

/** The condition keys of the key a request names (AWS KMS condition keys). */
export function keyConditions(key: KeyRecord, aliases: readonly string[], tags: readonly Tag[], requestAlias: string | undefined) {
  const keys: Record<string, ConditionKeys[string]> = {
    'kms:KeySpec': key.keySpec,
    'kms:KeyUsage': key.keyUsage,
    'kms:KeyOrigin': key.origin,
    'kms:ResourceAliases': aliases,
    'kms:RequestAlias': requestAlias,
  };
  for (const tag of tags) keys[`aws:ResourceTag/${tag.tagKey}`] = tag.tagValue;
  return keys;
}

/** kms:EncryptionContext:<key> for each pair and kms:EncryptionContextKeys (AWS KMS condition keys). */
export function encryptionContextConditions(context: EncryptionContext | undefined): Record<string, ConditionKeys[string]> {
  if (context === undefined) return {};
  const names = Object.keys(context);
  const keys: Record<string, ConditionKeys[string]> = { 'kms:EncryptionContextKeys': names };
  for (const name of names) keys[contextKeyName(name)] = context[name];
  return keys;
}

/**
 * `kms:EncryptionContext:<name>`. The same names come back request after request: one string per
 * name, rather than a new one to build and look up as a property name on every request.
 */
const contextKeyName = boundedMemo((name) => `kms:EncryptionContext:${name}`);

/**
 * `ipv4:127.0.0.1:5000`, `127.0.0.1:5000`, `[::1]:5000` → the address alone. A peer is one
 * connection, so the answer is remembered (bounded) rather than re-parsed for every call on it.
 */
export const sourceIp: (peer: string) => string = boundedMemo(parseSourceIp);

function parseSourceIp(peer: string): string {
  const address = peer.replace(/^ipv[46]:/, '');
  const bracketed = /^\[([^\]]+)\](?::\d+)?$/.exec(address);
  if (bracketed) return bracketed[1]!;
  const colon = address.lastIndexOf(':');
  return colon > 0 && address.indexOf(':') === colon ? address.slice(0, colon) : address;
}
