import { describe, expect, it } from 'vitest';
import { isoTime } from '../../src/domain/iso-time.js';
import { parsePrincipal } from '../../src/domain/principal.js';
import { callerConditions } from '../../src/pipeline/request-conditions.js';
import { principalConditionKeys } from '../../src/policy/context.js';

describe('callerConditions', () => {
  const principals = [
    'arn:aws:iam::111122223333:root',
    'arn:aws:iam::111122223333:user/alice',
    'arn:aws:iam::111122223333:role/path/App',
    'arn:aws:sts::111122223333:assumed-role/App/session-1',
    'ec2.amazonaws.com',
  ];

  it("carries every one of the principal's own condition keys, and the caller's account over its own", () => {
    for (const arn of principals) {
      const principal = parsePrincipal(arn)!;
      const conditions = callerConditions({ principal, callerAccount: '999988887777', sourceAddress: 'ipv4:10.1.2.3:5000', now: new Date(0), viaService: undefined });
      for (const [name, value] of Object.entries(principalConditionKeys(principal))) {
        expect(conditions[name], `${arn}: ${name}`).toBe(name === 'kms:CallerAccount' ? '999988887777' : value);
      }
      expect(conditions['aws:SourceIp']).toBe('10.1.2.3');
      expect(conditions['aws:CurrentTime']).toBe('1970-01-01T00:00:00.000Z');
      expect(conditions['aws:SecureTransport']).toBe(true);
    }
  });

  it('leaves the keys a service principal lacks undefined, which the policy context reads as absent', () => {
    const conditions = callerConditions({ principal: parsePrincipal('ec2.amazonaws.com')!, callerAccount: '1', sourceAddress: '::1', now: new Date(0), viaService: undefined });
    expect(conditions['aws:PrincipalArn']).toBeUndefined();
    expect(conditions['aws:PrincipalAccount']).toBeUndefined();
  });
});

describe('isoTime', () => {
  it('writes what toISOString writes, for the same and for different milliseconds', () => {
    for (const time of [0, 0, 1, 1_700_000_000_123, 1_700_000_000_123, 1_700_000_000_124, -1, 8.64e15]) {
      expect(isoTime(new Date(time))).toBe(new Date(time).toISOString());
    }
    expect(() => isoTime(new Date(NaN))).toThrow(RangeError);
  });
});
