import { describe, expect, it } from 'vitest';
import type { Principal } from '../../../src/domain/principal.js';
import { callerLayers, compilePrincipal, matchPrincipal, notPrincipalApplies, type PrincipalMatch } from '../../../src/policy/principals.js';
import { A, B, P, principal } from './fixtures.js';

const ROOT = (account: string) => `arn:aws:iam::${account}:root`;
const ROLE = (name: string, account = A) => `arn:aws:iam::${account}:role/${name}`;
const SESSION = (role: string, session: string, account = A) => `arn:aws:sts::${account}:assumed-role/${role}/${session}`;

type Row = [label: string, element: unknown, caller: Principal, expected: PrincipalMatch];

const PRINCIPAL: Row[] = [
  ['"*" names a role directly', '*', P.devRole, 'direct'],
  ['"*" names a service', '*', P.s3, 'direct'],
  ['"*" names an account root', '*', P.rootB, 'direct'],
  ['{AWS: "*"} names a user', { AWS: '*' }, P.alice, 'direct'],
  ['an account id names its root directly', { AWS: A }, P.rootA, 'direct'],
  ['an account id delegates for a role of the account', { AWS: A }, P.devRole, 'account'],
  ['an account id delegates for a session of the account', { AWS: A }, P.devSession, 'account'],
  ['an account id delegates for a user of the account', { AWS: A }, P.alice, 'account'],
  ['an account id does not name another account', { AWS: A }, P.extRole, 'none'],
  ['an account id does not name a service', { AWS: A }, P.s3, 'none'],
  ['a root ARN names its root directly', { AWS: ROOT(A) }, P.rootA, 'direct'],
  ['a root ARN delegates for a session of the account', { AWS: ROOT(A) }, P.devSession, 'account'],
  ['a root ARN does not name another root', { AWS: ROOT(A) }, P.rootB, 'none'],
  ['a root ARN in another partition does not match', { AWS: `arn:aws-cn:iam::${A}:root` }, P.devRole, 'none'],
  ['a bare account id matches in any partition', { AWS: A }, principal(`arn:aws-us-gov:iam::${A}:role/Gov`), 'account'],
  ['a role ARN names the role', { AWS: ROLE('DeveloperRole') }, P.devRole, 'direct'],
  ['a role ARN names a session of the role', { AWS: ROLE('DeveloperRole') }, P.devSession, 'direct'],
  ['a role ARN does not name a session of another role', { AWS: ROLE('DeveloperRole') }, P.otherSession, 'none'],
  ['a role ARN does not name the same-named role of another account', { AWS: ROLE('DeveloperRole') }, P.extDevSession, 'none'],
  ['a role ARN does not name a user of the same name', { AWS: ROLE('alice') }, P.alice, 'none'],
  ['a role ARN with a path names sessions of the role', { AWS: ROLE('team/DeveloperRole') }, P.devSession, 'direct'],
  ['a role ARN with a path names that role exactly', { AWS: ROLE('team/Dev') }, principal(ROLE('team/Dev')), 'direct'],
  ['a role ARN without the path does not name a role with one', { AWS: ROLE('Dev') }, principal(ROLE('team/Dev')), 'none'],
  ['a session ARN names that session', { AWS: SESSION('SSO_ROLE', 'user1') }, P.ssoUser1, 'direct'],
  ['a session ARN does not name another session of the role', { AWS: SESSION('SSO_ROLE', 'user1') }, P.ssoUser2, 'none'],
  ['a session ARN does not name the role itself', { AWS: SESSION('SSO_ROLE', 'user1') }, P.ssoRole, 'none'],
  ['a user ARN names the user', { AWS: `arn:aws:iam::${A}:user/alice` }, P.alice, 'direct'],
  ['a user ARN does not name another user', { AWS: `arn:aws:iam::${A}:user/alice` }, P.bob, 'none'],
  ['a service principal names the service', { Service: 's3.amazonaws.com' }, P.s3, 'direct'],
  ['a service principal does not name another service', { Service: 's3.amazonaws.com' }, P.dynamodb, 'none'],
  ['a service principal does not name a role', { Service: 's3.amazonaws.com' }, P.devRole, 'none'],
  ['naming the caller wins over naming its account', { AWS: [A, ROLE('DeveloperRole')] }, P.devSession, 'direct'],
  ['a list naming only the account delegates', { AWS: [A, ROLE('DeveloperRole')] }, P.otherSession, 'account'],
  ['AWS and Service together name the service', { AWS: ROOT(A), Service: 'dynamodb.amazonaws.com' }, P.dynamodb, 'direct'],
  ['an external account id names its roles by delegation', { AWS: B }, P.extSession, 'account'],
];

describe('Principal: how a statement names the caller', () => {
  it.each(PRINCIPAL)('%s', (_label, element, caller, expected) => {
    expect(matchPrincipal(compilePrincipal(element, 'Principal', false), callerLayers(caller))).toBe(expected);
  });
});

type NotRow = [label: string, element: unknown, caller: Principal, applies: boolean];

const NOT_PRINCIPAL: NotRow[] = [
  ['excluding the account root spares the root', { AWS: ROOT(A) }, P.rootA, false],
  ['excluding the account root does not spare a role of it', { AWS: ROOT(A) }, P.devRole, true],
  ['excluding the account root does not spare a session of it', { AWS: ROOT(A) }, P.devSession, true],
  ['excluding the account id does not spare a user of it', { AWS: A }, P.alice, true],
  ['excluding one account does not spare another', { AWS: ROOT(A) }, P.extRole, true],
  ['excluding account and role spares the role', { AWS: [ROOT(A), ROLE('DeveloperRole')] }, P.devRole, false],
  ['excluding account and role spares sessions of the role', { AWS: [ROOT(A), ROLE('DeveloperRole')] }, P.devSession, false],
  ['excluding account and role does not spare another role', { AWS: [ROOT(A), ROLE('DeveloperRole')] }, P.otherSession, true],
  ['excluding only a session does not spare it (account and role not excluded)', { AWS: SESSION('SSO_ROLE', 'user1') }, P.ssoUser1, true],
  ['excluding account and session, without the role, does not spare it', { AWS: [ROOT(A), SESSION('SSO_ROLE', 'user1')] }, P.ssoUser1, true],
  ['excluding account, role and session spares the session (IAM example)', { AWS: [ROOT(A), ROLE('SSO_ROLE'), SESSION('SSO_ROLE', 'user1')] }, P.ssoUser1, false],
  ['excluding account and user spares the user', { AWS: [ROOT(A), `arn:aws:iam::${A}:user/alice`] }, P.alice, false],
  ['excluding account and user does not spare another user', { AWS: [ROOT(A), `arn:aws:iam::${A}:user/alice`] }, P.bob, true],
  ['excluding only the user does not spare it', { AWS: `arn:aws:iam::${A}:user/alice` }, P.alice, true],
  ['excluding a service spares it', { Service: 's3.amazonaws.com' }, P.s3, false],
  ['excluding a service does not spare another', { Service: 's3.amazonaws.com' }, P.dynamodb, true],
  ['excluding a service does not spare a role', { Service: 's3.amazonaws.com' }, P.devRole, true],
  ['excluding everyone spares everyone', { AWS: '*' }, P.extSession, false],
];

describe('NotPrincipal: a Deny applies unless every layer of the caller is excluded', () => {
  it.each(NOT_PRINCIPAL)('%s', (_label, element, caller, applies) => {
    expect(notPrincipalApplies(compilePrincipal(element, 'NotPrincipal', true), callerLayers(caller))).toBe(applies);
  });
});
