import { describe, expect, it } from 'vitest';
import { parsePrincipal } from '../../src/domain/principal.js';

const ACCOUNT = '111122223333';

describe('parsePrincipal', () => {
  it('recognises an account root', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:root`;
    expect(parsePrincipal(arn)).toEqual({ kind: 'root', arn, account: ACCOUNT });
  });

  it('recognises a role, with or without a path', () => {
    for (const arn of [`arn:aws:iam::${ACCOUNT}:role/KeyAdmin`, `arn:aws:iam::${ACCOUNT}:role/service/app/Reader`]) {
      expect(parsePrincipal(arn), arn).toEqual({ kind: 'role', arn, account: ACCOUNT });
    }
  });

  it('recognises a user', () => {
    const arn = `arn:aws:iam::${ACCOUNT}:user/alice`;
    expect(parsePrincipal(arn)).toEqual({ kind: 'user', arn, account: ACCOUNT });
  });

  it('recognises an assumed-role session', () => {
    const arn = `arn:aws:sts::${ACCOUNT}:assumed-role/KeyUser/session-1`;
    expect(parsePrincipal(arn)).toEqual({ kind: 'assumed-role', arn, account: ACCOUNT });
  });

  it('recognises a service principal, which belongs to no account', () => {
    for (const name of ['s3.amazonaws.com', 'logs.eu-west-1.amazonaws.com', 'billing-service.amazonaws.com']) {
      expect(parsePrincipal(name), name).toEqual({ kind: 'service', arn: name, account: undefined });
    }
  });

  it('keeps the partition: a principal in another partition is still parsed', () => {
    const arn = `arn:aws-us-gov:iam::${ACCOUNT}:role/Gov`;
    expect(parsePrincipal(arn)).toEqual({ kind: 'role', arn, account: ACCOUNT });
  });

  it('answers undefined for anything else', () => {
    const invalid = [
      '',
      '*',
      ACCOUNT,
      'amazonaws.com',
      '.amazonaws.com',
      'S3.AMAZONAWS.COM',
      's3.amazonaws.com.attacker.example',
      's3_amazonaws.com',
      `arn:aws:iam::${ACCOUNT}`,
      `arn:aws:iam::${ACCOUNT}:`,
      `arn:aws:iam::${ACCOUNT}:root/extra`,
      `arn:aws:iam::${ACCOUNT}:role/`,
      `arn:aws:iam::${ACCOUNT}:user/`,
      `arn:aws:iam::${ACCOUNT}:group/admins`,
      `arn:aws:iam::${ACCOUNT}:assumed-role/KeyUser/session-1`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/KeyUser`,
      `arn:aws:sts::${ACCOUNT}:assumed-role/KeyUser/`,
      `arn:aws:sts::${ACCOUNT}:assumed-role//session`,
      `arn:aws:sts::${ACCOUNT}:role/KeyUser`,
      `arn:aws:iam:us-east-1:${ACCOUNT}:root`,
      'arn:aws:iam::11112222333:root',
      'arn:aws:iam::*:root',
      'arn:aws:iam:::root',
      `arn:aws:kms:us-east-1:${ACCOUNT}:key/1234abcd-12ab-34cd-56ef-1234567890ab`,
      `arn::iam::${ACCOUNT}:root`,
      `arn:aws:iam::${ACCOUNT}:role`,
    ];
    for (const value of invalid) expect(parsePrincipal(value), value).toBeUndefined();
  });
});
