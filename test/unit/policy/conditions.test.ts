import { describe, expect, it } from 'vitest';
import { compileConditionBlock } from '../../../src/policy/conditions.js';
import { normalizeContext, type RequestContextInput } from '../../../src/policy/context.js';

/** Does the whole Condition block hold for this request context? (operators and keys AND together) */
function holds(block: unknown, context: RequestContextInput): boolean {
  const conditions = compileConditionBlock(block, 'Condition');
  const normalized = normalizeContext(context);
  return conditions.every((c) => c.test(normalized));
}

type Row = [label: string, block: Record<string, Record<string, unknown>>, context: RequestContextInput, expected: boolean];

const EC = 'kms:EncryptionContext:dept';
const dept = (value: string | undefined): RequestContextInput => ({ [EC]: value });

const STRING: Row[] = [
  ['StringEquals matches the exact value', { StringEquals: { [EC]: 'finance' } }, dept('finance'), true],
  ['StringEquals is case-sensitive in its value', { StringEquals: { [EC]: 'finance' } }, dept('Finance'), false],
  ['StringEquals fails on another value', { StringEquals: { [EC]: 'finance' } }, dept('hr'), false],
  ['StringEquals fails when the key is missing', { StringEquals: { [EC]: 'finance' } }, {}, false],
  ['StringEquals with several values ORs them', { StringEquals: { [EC]: ['hr', 'finance'] } }, dept('finance'), true],
  ['StringEquals does not treat * as a wildcard', { StringEquals: { [EC]: 'fin*' } }, dept('finance'), false],
  ['StringEquals matches the empty string when asked', { StringEquals: { [EC]: '' } }, dept(''), true],
  ['condition key names are case-insensitive', { StringEquals: { 'KMS:ENCRYPTIONCONTEXT:DEPT': 'finance' } }, dept('finance'), true],
  ['StringNotEquals fails on the listed value', { StringNotEquals: { [EC]: 'finance' } }, dept('finance'), false],
  ['StringNotEquals holds on another value', { StringNotEquals: { [EC]: 'finance' } }, dept('hr'), true],
  ['StringNotEquals holds when the key is missing', { StringNotEquals: { [EC]: 'finance' } }, {}, true],
  ['StringNotEquals with several values is a NOR (listed)', { StringNotEquals: { [EC]: ['hr', 'finance'] } }, dept('finance'), false],
  ['StringNotEquals with several values is a NOR (unlisted)', { StringNotEquals: { [EC]: ['hr', 'finance'] } }, dept('ops'), true],
  ['StringEqualsIgnoreCase ignores case', { StringEqualsIgnoreCase: { [EC]: 'FINANCE' } }, dept('finance'), true],
  ['StringEqualsIgnoreCase fails on another value', { StringEqualsIgnoreCase: { [EC]: 'FINANCE' } }, dept('fin'), false],
  ['StringEqualsIgnoreCase fails when missing', { StringEqualsIgnoreCase: { [EC]: 'FINANCE' } }, {}, false],
  ['StringNotEqualsIgnoreCase fails on the value in another case', { StringNotEqualsIgnoreCase: { [EC]: 'FINANCE' } }, dept('Finance'), false],
  ['StringNotEqualsIgnoreCase holds on another value', { StringNotEqualsIgnoreCase: { [EC]: 'FINANCE' } }, dept('hr'), true],
  ['StringNotEqualsIgnoreCase holds when missing', { StringNotEqualsIgnoreCase: { [EC]: 'FINANCE' } }, {}, true],
  ['StringLike with * matches a prefix', { StringLike: { [EC]: 'fin*' } }, dept('finance'), true],
  ['StringLike with ? matches one character', { StringLike: { [EC]: 'f?nance' } }, dept('finance'), true],
  ['StringLike ? does not match two characters', { StringLike: { [EC]: 'f?ance' } }, dept('finance'), false],
  ['StringLike is case-sensitive', { StringLike: { [EC]: 'fin*' } }, dept('FINANCE'), false],
  ['StringLike * in the middle', { StringLike: { [EC]: 'f*e' } }, dept('finance'), true],
  ['StringLike * matches the empty string', { StringLike: { [EC]: '*' } }, dept(''), true],
  ['StringLike fails when missing', { StringLike: { [EC]: '*' } }, {}, false],
  ['StringLike survives a pathological pattern', { StringLike: { [EC]: '*a*a*a*a*a*a*a*a*b' } }, dept('a'.repeat(4000)), false],
  ['StringNotLike fails on a match', { StringNotLike: { [EC]: 'fin*' } }, dept('finance'), false],
  ['StringNotLike holds on no match', { StringNotLike: { [EC]: 'fin*' } }, dept('hr'), true],
  ['StringNotLike holds when missing', { StringNotLike: { [EC]: 'fin*' } }, {}, true],
  ['numbers in a string condition compare as text', { StringEquals: { 'kms:EncryptionContext:version': 2 } }, { 'kms:EncryptionContext:version': '2' }, true],
  ['operator names are case-insensitive', { stringequals: { [EC]: 'finance' } }, dept('finance'), true],
];

const PA = 'aws:PrincipalArn';
const DEV = `arn:aws:iam::111122223333:role/Dev`;
const ARN: Row[] = [
  ['ArnEquals matches the same ARN', { ArnEquals: { [PA]: DEV } }, { [PA]: DEV }, true],
  ['ArnEquals fails on another ARN', { ArnEquals: { [PA]: DEV } }, { [PA]: 'arn:aws:iam::111122223333:user/Dev' }, false],
  ['ArnEquals takes wildcards per component, like ArnLike', { ArnEquals: { [PA]: 'arn:aws:iam::*:role/Dev' } }, { [PA]: DEV }, true],
  ['ArnLike with a wildcard resource', { ArnLike: { [PA]: 'arn:aws:iam::111122223333:role/*' } }, { [PA]: DEV }, true],
  ['ArnLike with a wildcard in the account', { ArnLike: { [PA]: 'arn:aws:iam::1111*:role/Dev' } }, { [PA]: DEV }, true],
  ['ArnLike compares the resource with its colons', { ArnLike: { [PA]: DEV } }, { [PA]: `${DEV}:extra` }, false],
  ['ArnLike fails on a value that is not an ARN', { ArnLike: { [PA]: '*' } }, { [PA]: 'Dev' }, false],
  ['ArnLike * matches any ARN', { ArnLike: { [PA]: '*' } }, { [PA]: DEV }, true],
  ['ArnLike fails when missing', { ArnLike: { [PA]: '*' } }, {}, false],
  ['ArnLike is case-sensitive', { ArnLike: { [PA]: 'arn:aws:iam::111122223333:role/dev' } }, { [PA]: DEV }, false],
  ['ArnNotEquals fails on the same ARN', { ArnNotEquals: { [PA]: DEV } }, { [PA]: DEV }, false],
  ['ArnNotEquals holds on another ARN', { ArnNotEquals: { [PA]: DEV } }, { [PA]: 'arn:aws:iam::111122223333:role/Ops' }, true],
  ['ArnNotEquals holds when missing', { ArnNotEquals: { [PA]: DEV } }, {}, true],
  ['ArnNotLike fails on a match', { ArnNotLike: { [PA]: 'arn:aws:iam::*:role/*' } }, { [PA]: DEV }, false],
  ['ArnNotLike holds on no match', { ArnNotLike: { [PA]: 'arn:aws:iam::*:user/*' } }, { [PA]: DEV }, true],
  ['ArnNotLike holds when missing', { ArnNotLike: { [PA]: 'arn:aws:iam::*:user/*' } }, {}, true],
];

const AGE = 'aws:MultiFactorAuthAge';
const NUMERIC: Row[] = [
  ['NumericEquals matches a numeric string', { NumericEquals: { [AGE]: '10' } }, { [AGE]: '10' }, true],
  ['NumericEquals takes a JSON number in the policy', { NumericEquals: { [AGE]: 10 } }, { [AGE]: 10 }, true],
  ['NumericEquals compares numbers, not text', { NumericEquals: { [AGE]: '10' } }, { [AGE]: '10.0' }, true],
  ['NumericEquals fails on another number', { NumericEquals: { [AGE]: '10' } }, { [AGE]: 11 }, false],
  ['NumericEquals fails on a value that is not a number', { NumericEquals: { [AGE]: '10' } }, { [AGE]: 'ten' }, false],
  ['NumericEquals fails when missing', { NumericEquals: { [AGE]: '10' } }, {}, false],
  ['NumericNotEquals fails on the number', { NumericNotEquals: { [AGE]: '10' } }, { [AGE]: 10 }, false],
  ['NumericNotEquals holds on another number', { NumericNotEquals: { [AGE]: '10' } }, { [AGE]: 11 }, true],
  ['NumericNotEquals holds when missing', { NumericNotEquals: { [AGE]: '10' } }, {}, true],
  ['NumericLessThan holds below', { NumericLessThan: { [AGE]: '3600' } }, { [AGE]: 60 }, true],
  ['NumericLessThan fails at the limit', { NumericLessThan: { [AGE]: '3600' } }, { [AGE]: 3600 }, false],
  ['NumericLessThan with decimals', { NumericLessThan: { [AGE]: '2' } }, { [AGE]: '1.5' }, true],
  ['NumericLessThan with a negative value', { NumericLessThan: { [AGE]: '0' } }, { [AGE]: '-1' }, true],
  ['NumericLessThanEquals holds at the limit', { NumericLessThanEquals: { [AGE]: '3600' } }, { [AGE]: 3600 }, true],
  ['NumericLessThanEquals fails above', { NumericLessThanEquals: { [AGE]: '3600' } }, { [AGE]: 3601 }, false],
  ['NumericGreaterThan holds above', { NumericGreaterThan: { [AGE]: '10' } }, { [AGE]: 11 }, true],
  ['NumericGreaterThan fails at the limit', { NumericGreaterThan: { [AGE]: '10' } }, { [AGE]: 10 }, false],
  ['NumericGreaterThanEquals holds at the limit', { NumericGreaterThanEquals: { [AGE]: '10' } }, { [AGE]: 10 }, true],
  ['NumericGreaterThanEquals fails below', { NumericGreaterThanEquals: { [AGE]: '10' } }, { [AGE]: 9 }, false],
  ['NumericLessThanIfExists holds when missing', { NumericLessThanIfExists: { [AGE]: '10' } }, {}, true],
  ['NumericLessThanIfExists checks a present value', { NumericLessThanIfExists: { [AGE]: '10' } }, { [AGE]: 20 }, false],
  ['Numeric operators OR several values', { NumericEquals: { [AGE]: ['1', '2', '3'] } }, { [AGE]: 2 }, true],
];

const NOW = 'aws:CurrentTime';
const DATE: Row[] = [
  ['DateLessThan holds before', { DateLessThan: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2025-06-01T12:00:00Z' }, true],
  ['DateLessThan fails after', { DateLessThan: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2031-01-01T00:00:00Z' }, false],
  ['DateLessThan fails at the instant', { DateLessThan: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2030-01-01T00:00:00Z' }, false],
  ['DateLessThanEquals holds at the instant', { DateLessThanEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2030-01-01T00:00:00Z' }, true],
  ['DateLessThanEquals fails after', { DateLessThanEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2030-01-01T00:00:01Z' }, false],
  ['DateGreaterThan holds after', { DateGreaterThan: { [NOW]: '2020-01-01T00:00:00Z' } }, { [NOW]: '2025-01-01T00:00:00Z' }, true],
  ['DateGreaterThan fails before', { DateGreaterThan: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2025-01-01T00:00:00Z' }, false],
  ['DateGreaterThanEquals holds at the instant', { DateGreaterThanEquals: { [NOW]: '2025-01-01T00:00:00Z' } }, { [NOW]: '2025-01-01T00:00:00Z' }, true],
  ['DateGreaterThanEquals fails before', { DateGreaterThanEquals: { [NOW]: '2025-01-01T00:00:00Z' } }, { [NOW]: '2024-12-31T23:59:59Z' }, false],
  ['DateEquals compares instants across offsets', { DateEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2030-01-01T01:00:00+01:00' }, true],
  ['DateEquals accepts a date alone (midnight UTC)', { DateEquals: { [NOW]: '2030-01-01' } }, { [NOW]: '2030-01-01T00:00:00Z' }, true],
  ['DateEquals reads a time without offset as UTC', { DateEquals: { [NOW]: '2030-01-01T00:00:00' } }, { [NOW]: '2030-01-01T00:00:00Z' }, true],
  ['DateEquals takes epoch seconds in the request', { DateEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: 1893456000 }, true],
  ['DateGreaterThan takes epoch seconds in the policy', { DateGreaterThan: { [NOW]: 1700000000 } }, { [NOW]: '2025-01-01T00:00:00Z' }, true],
  ['DateEquals fails on another instant', { DateEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2030-01-02T00:00:00Z' }, false],
  ['DateEquals fails on a request value that is not a date', { DateEquals: { [NOW]: '2030-01-01' } }, { [NOW]: 'yesterday' }, false],
  ['DateLessThan fails when missing', { DateLessThan: { [NOW]: '2030-01-01' } }, {}, false],
  ['DateNotEquals fails on the instant', { DateNotEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2030-01-01T00:00:00Z' }, false],
  ['DateNotEquals holds on another instant', { DateNotEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, { [NOW]: '2029-01-01T00:00:00Z' }, true],
  ['DateNotEquals holds when missing', { DateNotEquals: { [NOW]: '2030-01-01T00:00:00Z' } }, {}, true],
  ['DateLessThanIfExists holds when missing', { DateLessThanIfExists: { [NOW]: '2030-01-01' } }, {}, true],
];

const TLS = 'aws:SecureTransport';
const BOOL: Row[] = [
  ['Bool true matches a boolean true', { Bool: { [TLS]: 'true' } }, { [TLS]: true }, true],
  ['Bool true fails on false', { Bool: { [TLS]: 'true' } }, { [TLS]: false }, false],
  ['Bool compares case-insensitively', { Bool: { [TLS]: 'true' } }, { [TLS]: 'TRUE' }, true],
  ['Bool takes a JSON boolean in the policy', { Bool: { [TLS]: false } }, { [TLS]: false }, true],
  ['Bool fails when missing', { Bool: { [TLS]: 'false' } }, {}, false],
  ['BoolIfExists holds when missing', { BoolIfExists: { [TLS]: 'false' } }, {}, true],
  ['BoolIfExists checks a present value', { BoolIfExists: { [TLS]: 'false' } }, { [TLS]: true }, false],
  ['Bool fails on a value that is not a boolean', { Bool: { [TLS]: 'true' } }, { [TLS]: 'yes' }, false],
];

const KEYS = 'kms:EncryptionContextKeys';
const NULL: Row[] = [
  ['Null true holds when the key is absent', { Null: { [KEYS]: 'true' } }, {}, true],
  ['Null true fails when the key is present', { Null: { [KEYS]: 'true' } }, { [KEYS]: ['dept'] }, false],
  ['Null false holds when the key is present', { Null: { [KEYS]: 'false' } }, { [KEYS]: ['dept'] }, true],
  ['Null false fails when the key is absent', { Null: { [KEYS]: 'false' } }, {}, false],
  ['Null treats an empty set as absent', { Null: { [KEYS]: 'true' } }, { [KEYS]: [] }, true],
  ['Null treats undefined as absent', { Null: { 'aws:TagKeys': true } }, { 'aws:TagKeys': undefined }, true],
  ['Null sees an empty string as present', { Null: { [EC]: 'false' } }, dept(''), true],
];

const IP = 'aws:SourceIp';
const IPS: Row[] = [
  ['IpAddress holds inside an IPv4 block', { IpAddress: { [IP]: '203.0.113.0/24' } }, { [IP]: '203.0.113.7' }, true],
  ['IpAddress fails outside an IPv4 block', { IpAddress: { [IP]: '203.0.113.0/24' } }, { [IP]: '203.0.114.1' }, false],
  ['IpAddress does not mix families', { IpAddress: { [IP]: '203.0.113.0/24' } }, { [IP]: '2001:db8::1' }, false],
  ['IpAddress holds inside an IPv6 block', { IpAddress: { [IP]: '2001:DB8:1234:5678::/64' } }, { [IP]: '2001:db8:1234:5678:abcd::1' }, true],
  ['IpAddress fails outside an IPv6 block', { IpAddress: { [IP]: '2001:db8:1234:5678::/64' } }, { [IP]: '2001:db8:1234:5679::1' }, false],
  ['IpAddress with a bare address is one host', { IpAddress: { [IP]: '192.0.2.1' } }, { [IP]: '192.0.2.1' }, true],
  ['IpAddress with a bare address excludes its neighbour', { IpAddress: { [IP]: '192.0.2.1' } }, { [IP]: '192.0.2.2' }, false],
  ['IpAddress reads an IPv4-mapped IPv6 address as IPv4', { IpAddress: { [IP]: '203.0.113.0/24' } }, { [IP]: '::ffff:203.0.113.9' }, true],
  ['IpAddress /0 holds for every IPv4 address', { IpAddress: { [IP]: '0.0.0.0/0' } }, { [IP]: '198.51.100.1' }, true],
  ['IpAddress ORs several blocks', { IpAddress: { [IP]: ['10.0.0.0/8', '203.0.113.0/24'] } }, { [IP]: '10.1.2.3' }, true],
  ['IpAddress fails on a request value that is not an address', { IpAddress: { [IP]: '0.0.0.0/0' } }, { [IP]: 'not-an-ip' }, false],
  ['IpAddress fails when missing', { IpAddress: { [IP]: '0.0.0.0/0' } }, {}, false],
  ['IpAddress handles a compressed IPv6 loopback', { IpAddress: { [IP]: '::1/128' } }, { [IP]: '::1' }, true],
  ['NotIpAddress holds outside the block', { NotIpAddress: { [IP]: '203.0.113.0/24' } }, { [IP]: '10.0.0.1' }, true],
  ['NotIpAddress fails inside the block', { NotIpAddress: { [IP]: '203.0.113.0/24' } }, { [IP]: '203.0.113.7' }, false],
  ['NotIpAddress holds when missing', { NotIpAddress: { [IP]: '203.0.113.0/24' } }, {}, true],
  ['NotIpAddress with several blocks is a NOR', { NotIpAddress: { [IP]: ['10.0.0.0/8', '203.0.113.0/24'] } }, { [IP]: '10.9.9.9' }, false],
];

const IF_EXISTS: Row[] = [
  ['StringEqualsIfExists holds when the value matches', { StringEqualsIfExists: { [EC]: 'finance' } }, dept('finance'), true],
  ['StringEqualsIfExists fails when the value differs', { StringEqualsIfExists: { [EC]: 'finance' } }, dept('hr'), false],
  ['StringEqualsIfExists holds when missing', { StringEqualsIfExists: { [EC]: 'finance' } }, {}, true],
  ['StringNotEqualsIfExists holds when missing', { StringNotEqualsIfExists: { [EC]: 'finance' } }, {}, true],
  ['StringNotEqualsIfExists fails on the value', { StringNotEqualsIfExists: { [EC]: 'finance' } }, dept('finance'), false],
  ['StringLikeIfExists holds when missing', { StringLikeIfExists: { [EC]: 'x*' } }, {}, true],
  ['ArnLikeIfExists holds when missing', { ArnLikeIfExists: { [PA]: 'arn:aws:iam::*:role/*' } }, {}, true],
  ['IpAddressIfExists holds when missing', { IpAddressIfExists: { [IP]: '10.0.0.0/8' } }, {}, true],
  ['IpAddressIfExists checks a present value', { IpAddressIfExists: { [IP]: '10.0.0.0/8' } }, { [IP]: '192.0.2.1' }, false],
  ['DateGreaterThanIfExists checks a present value', { DateGreaterThanIfExists: { [NOW]: '2020-01-01' } }, { [NOW]: '2021-01-01' }, true],
];

const TAGS = 'aws:TagKeys';
const ALIASES = 'kms:ResourceAliases';
const OPS = 'kms:GrantOperations';
const SETS: Row[] = [
  ['ForAnyValue:StringEquals holds when one request value is listed', { 'ForAnyValue:StringEquals': { [KEYS]: ['dept', 'project'] } }, { [KEYS]: ['dept'] }, true],
  ['ForAnyValue:StringEquals holds with one listed among others', { 'ForAnyValue:StringEquals': { [KEYS]: ['dept'] } }, { [KEYS]: ['other', 'dept'] }, true],
  ['ForAnyValue:StringEquals fails when none is listed', { 'ForAnyValue:StringEquals': { [KEYS]: ['dept', 'project'] } }, { [KEYS]: ['other'] }, false],
  ['ForAnyValue:StringEquals fails when the key is missing', { 'ForAnyValue:StringEquals': { [KEYS]: ['dept'] } }, {}, false],
  ['ForAnyValue:StringEquals fails on an empty set', { 'ForAnyValue:StringEquals': { [KEYS]: ['dept'] } }, { [KEYS]: [] }, false],
  ['ForAllValues:StringEquals holds when every value is listed', { 'ForAllValues:StringEquals': { [KEYS]: ['dept', 'project'] } }, { [KEYS]: ['dept', 'project'] }, true],
  ['ForAllValues:StringEquals holds on a subset', { 'ForAllValues:StringEquals': { [KEYS]: ['dept', 'project'] } }, { [KEYS]: ['dept'] }, true],
  ['ForAllValues:StringEquals fails when one value is not listed', { 'ForAllValues:StringEquals': { [KEYS]: ['dept', 'project'] } }, { [KEYS]: ['dept', 'other'] }, false],
  ['ForAllValues:StringEquals holds when the key is missing', { 'ForAllValues:StringEquals': { [KEYS]: ['dept'] } }, {}, true],
  ['ForAllValues:StringEquals holds on an empty set', { 'ForAllValues:StringEquals': { [KEYS]: ['dept'] } }, { [KEYS]: [] }, true],
  ['ForAllValues:StringNotLike (IAM example): key1:legal does not match', { 'ForAllValues:StringNotLike': { [TAGS]: 'key1*' } }, { [TAGS]: ['key1:legal'] }, false],
  ['ForAllValues:StringNotLike (IAM example): key1:hr, key1:personnel', { 'ForAllValues:StringNotLike': { [TAGS]: 'key1*' } }, { [TAGS]: ['key1:hr', 'key1:personnel'] }, false],
  ['ForAllValues:StringNotLike (IAM example): key2:audit matches', { 'ForAllValues:StringNotLike': { [TAGS]: 'key1*' } }, { [TAGS]: ['key2:audit'] }, true],
  ['ForAllValues:StringNotLike (IAM example): no tag keys matches', { 'ForAllValues:StringNotLike': { [TAGS]: 'key1*' } }, {}, true],
  ['ForAnyValue:StringNotEquals holds when one value is unlisted', { 'ForAnyValue:StringNotEquals': { [TAGS]: 'a' } }, { [TAGS]: ['a', 'b'] }, true],
  ['ForAnyValue:StringNotEquals fails when all are listed', { 'ForAnyValue:StringNotEquals': { [TAGS]: 'a' } }, { [TAGS]: ['a'] }, false],
  ['ForAnyValue:StringNotEquals fails when missing', { 'ForAnyValue:StringNotEquals': { [TAGS]: 'a' } }, {}, false],
  ['ForAnyValue:StringLike over resource aliases', { 'ForAnyValue:StringLike': { [ALIASES]: 'alias/finance-*' } }, { [ALIASES]: ['alias/x', 'alias/finance-key'] }, true],
  ['ForAnyValue:StringLike fails on no alias', { 'ForAnyValue:StringLike': { [ALIASES]: 'alias/finance-*' } }, { [ALIASES]: ['alias/hr'] }, false],
  ['ForAllValues:StringEquals over grant operations', { 'ForAllValues:StringEquals': { [OPS]: ['Encrypt', 'Decrypt'] } }, { [OPS]: ['Encrypt'] }, true],
  ['ForAllValues:StringEquals refuses an extra grant operation', { 'ForAllValues:StringEquals': { [OPS]: ['Encrypt', 'Decrypt'] } }, { [OPS]: ['Encrypt', 'CreateGrant'] }, false],
  ['ForAnyValue:StringEqualsIfExists holds when missing', { 'ForAnyValue:StringEqualsIfExists': { [TAGS]: 'a' } }, {}, true],
  ['ForAllValues:StringLikeIfExists holds when missing', { 'ForAllValues:StringLikeIfExists': { [TAGS]: 'a*' } }, {}, true],
  ['ForAllValues:StringEqualsIgnoreCase folds case per value', { 'ForAllValues:StringEqualsIgnoreCase': { [TAGS]: ['Dept'] } }, { [TAGS]: ['DEPT', 'dept'] }, true],
  ['set prefixes are case-insensitive', { 'forallvalues:StringEquals': { [TAGS]: ['a'] } }, { [TAGS]: ['a'] }, true],
  ['a multivalued key without a set prefix matches when any value does', { StringEquals: { [ALIASES]: 'alias/a' } }, { [ALIASES]: ['alias/a', 'alias/b'] }, true],
  ['a negated operator on a multivalued key needs every value to differ', { StringNotEquals: { [ALIASES]: 'alias/a' } }, { [ALIASES]: ['alias/a', 'alias/b'] }, false],
];

const LOGIC: Row[] = [
  ['two keys under one operator AND (both hold)', { StringEquals: { [EC]: 'finance', 'kms:CallerAccount': '111122223333' } }, { [EC]: 'finance', 'kms:CallerAccount': '111122223333' }, true],
  ['two keys under one operator AND (one fails)', { StringEquals: { [EC]: 'finance', 'kms:CallerAccount': '111122223333' } }, { [EC]: 'finance', 'kms:CallerAccount': '444455556666' }, false],
  ['two operators AND (both hold)', { StringEquals: { [EC]: 'finance' }, Bool: { [TLS]: 'true' } }, { [EC]: 'finance', [TLS]: true }, true],
  ['two operators AND (one fails)', { StringEquals: { [EC]: 'finance' }, Bool: { [TLS]: 'true' } }, { [EC]: 'finance', [TLS]: false }, false],
  ['an empty Condition block holds', {}, {}, true],
  ['context keys that differ only by case merge their values', { StringEquals: { [EC]: 'hr' } }, { 'kms:EncryptionContext:Dept': 'finance', [EC]: 'hr' }, true],
];

describe('condition operators (IAM semantics)', () => {
  for (const [family, rows] of Object.entries({ STRING, ARN, NUMERIC, DATE, BOOL, NULL, IPS, IF_EXISTS, SETS, LOGIC })) {
    describe(family, () => {
      it.each(rows)('%s', (_label, block, context, expected) => {
        expect(holds(block, context)).toBe(expected);
      });
    });
  }
});

type Bad = [label: string, block: unknown, message: RegExp];
const MALFORMED: Bad[] = [
  ['an unknown operator', { StringContains: { [EC]: 'x' } }, /Condition\.StringContains\.kms:EncryptionContext:dept: 'StringContains' is not a supported condition operator/],
  ['a set prefix on Null', { 'ForAnyValue:Null': { [EC]: 'true' } }, /Null takes no set prefix/],
  ['NullIfExists', { NullIfExists: { [EC]: 'true' } }, /'NullIfExists' is not a supported/],
  ['a Null value that is not a boolean', { Null: { [EC]: 'maybe' } }, /value 'maybe' must be true or false/],
  ['a Bool value that is not a boolean', { Bool: { [TLS]: 'yes' } }, /Condition\.Bool\.aws:SecureTransport value 'yes' must be true or false/],
  ['a Numeric value that is not a number', { NumericLessThan: { [AGE]: 'ten' } }, /value 'ten' is not a valid number/],
  ['a Date value that is not a date', { DateLessThan: { [NOW]: 'next tuesday' } }, /value 'next tuesday' is not a valid date/],
  ['an IpAddress value that is not a block', { IpAddress: { [IP]: '203.0.113.0/33' } }, /value '203.0.113.0\/33' is not an IP address or CIDR block/],
  ['an IpAddress value with a bad octet', { IpAddress: { [IP]: '203.0.113.256' } }, /is not an IP address/],
  ['an empty list of values', { StringEquals: { [EC]: [] } }, /must have at least one value/],
  ['an object as a value', { StringEquals: { [EC]: { a: 1 } } }, /values must be strings, numbers or booleans/],
  ['null as a value', { StringEquals: { [EC]: null } }, /values must be strings, numbers or booleans/],
  ['an operator holding a string', { StringEquals: 'x' }, /Condition\.StringEquals must be an object mapping condition keys/],
  ['an operator holding no keys', { StringEquals: {} }, /must be an object mapping condition keys/],
  ['a Condition that is a list', [], /Condition must be an object of condition operators/],
  ['an empty condition key', { StringEquals: { ' ': 'x' } }, /has an empty condition key/],
];

describe('malformed conditions name the problem and where it is', () => {
  it.each(MALFORMED)('%s', (_label, block, message) => {
    expect(() => compileConditionBlock(block, 'Condition')).toThrowError(message);
    try {
      compileConditionBlock(block, 'Condition');
    } catch (error) {
      expect((error as Error).name).toBe('MalformedPolicyDocumentException');
    }
  });
});

describe('a key layer over the request context', () => {
  it('reads as the merged copy Object.assign({}, request, key) would, for 500 generated pairs of layers', () => {
    // Names that collide exactly, differ only by case, or stand alone; values of every kind, undefined included.
    const names = ['kms:KeySpec', 'KMS:KeySpec', 'kms:keyspec', 'aws:ResourceTag/Team', 'aws:resourcetag/team', 'kms:CallerAccount', 'kms:ViaService'];
    const values: RequestContextInput[string][] = ['a', 'B', '', ['x', 'y'], [], true, 7, undefined];
    let state = 5;
    const next = (n: number) => (state = (state * 1103515245 + 12345) % 2 ** 31) % n;
    const layer = () => {
      const made: Record<string, RequestContextInput[string]> = {};
      for (let i = next(5); i > 0; i--) made[names[next(names.length)]!] = values[next(values.length)];
      return made;
    };
    for (let round = 0; round < 500; round++) {
      const request = layer();
      const key = layer();
      const layered = normalizeContext(request, key);
      const merged = normalizeContext(Object.assign({}, request, key));
      for (const name of ['kms:keyspec', 'aws:resourcetag/team', 'kms:calleraccount', 'kms:viaservice', 'kms:absent']) {
        expect(layered.get(name), `${JSON.stringify(request)} under ${JSON.stringify(key)}: ${name}`).toEqual(merged.get(name));
      }
    }
  });

  it('lets the key layer hide a request value, even with undefined', () => {
    expect(normalizeContext({ 'kms:KeySpec': 'A' }, { 'kms:KeySpec': 'B' }).get('kms:keyspec')).toEqual(['B']);
    expect(normalizeContext({ 'kms:KeySpec': 'A' }, { 'kms:KeySpec': undefined }).get('kms:keyspec')).toBeUndefined();
    expect(normalizeContext({ 'kms:KeySpec': 'A' }, { 'KMS:KEYSPEC': 'B' }).get('kms:keyspec')).toEqual(['A', 'B']);
  });
});
