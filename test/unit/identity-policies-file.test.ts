import { afterEach, describe, expect, it } from 'vitest';
import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parsePrincipal } from '../../src/domain/principal.js';
import { readIdentityPoliciesFile } from '../../src/identity-policies-file.js';
import type { IdentityPolicySet } from '../../src/policy/identity-policy-set.js';
import { tempDir } from '../support/temp-dirs.js';

/**
 * The identity policies file at start and on SIGHUP (src/identity-policies-file.ts): which policies
 * are in force after each event, and what the log says. A real file in a temp dir; the signal is
 * delivered to the listener with process.emit, so the test process is never signalled.
 */
const ROLE = parsePrincipal('arn:aws:iam::111122223333:role/DeveloperRole')!;
const fileAllowing = (action: string) =>
  JSON.stringify({
    policies: { Access: { Version: '2012-10-17', Statement: [{ Effect: 'Allow', Action: action, Resource: '*' }] } },
    attachments: { [ROLE.arn]: ['Access'] },
  });

/** The actions the role's identity policies allow, as the authorizer would be given them. */
function allowedActions(set: IdentityPolicySet | undefined): string[] {
  const named = (set?.policiesFor(ROLE) ?? []).flatMap((policy) => JSON.stringify(policy).match(/kms:[A-Za-z]+/g) ?? []);
  return [...new Set(named)];
}

function harness(source: { path: string; mayBeAbsent: boolean } | undefined) {
  const sets: IdentityPolicySet[] = [];
  const lines: { level: string; message: string }[] = [];
  const log = (level: string) => (_fields: object, message: string) => void lines.push({ level, message });
  const file = readIdentityPoliciesFile(source, { info: log('info'), warn: log('warn'), error: log('error') });
  const stop = file.applyTo({ useIdentityPolicies: (set) => void sets.push(set) });
  stops.push(stop);
  return { sets, lines, current: () => allowedActions(sets.at(-1)) };
}

const stops: (() => void)[] = [];
afterEach(() => {
  for (const stop of stops.splice(0)) stop();
});

describe('identity policies file', () => {
  it('may be absent in the embedded setup: none in force, then read on SIGHUP once created, and dropped once removed', () => {
    const path = join(tempDir('p11kms-identity-'), 'identity-policies.json');
    const h = harness({ path, mayBeAbsent: true });
    expect(h.sets).toHaveLength(1);
    expect(h.current()).toEqual([]);
    expect(h.lines.at(-1)).toEqual({ level: 'info', message: 'no identity policies file: none in force until it is created and the server gets SIGHUP' });

    writeFileSync(path, fileAllowing('kms:Encrypt'));
    process.emit('SIGHUP', 'SIGHUP');
    expect(h.current()).toEqual(['kms:Encrypt']);
    expect(h.lines.at(-1)).toEqual({ level: 'info', message: 'identity policies reloaded' });

    rmSync(path);
    process.emit('SIGHUP', 'SIGHUP');
    expect(h.sets).toHaveLength(3);
    expect(h.current()).toEqual([]);
    expect(h.lines.at(-1)).toEqual({ level: 'warn', message: 'identity policies file absent: no identity policies in force' });
  });

  it('must exist when a configuration file names it: absent at start, the server does not start', () => {
    const path = join(tempDir('p11kms-identity-'), 'typo.json');
    expect(() => harness({ path, mayBeAbsent: false })).toThrow(`identity policies file ${path}: does not exist`);
  });

  it('keeps the policies in force when, on SIGHUP, a required file is gone or any file is invalid', () => {
    const path = join(tempDir('p11kms-identity-'), 'identity-policies.json');
    writeFileSync(path, fileAllowing('kms:Decrypt'));
    const h = harness({ path, mayBeAbsent: false });
    expect(h.current()).toEqual(['kms:Decrypt']);
    expect(h.lines.at(-1)).toEqual({ level: 'info', message: 'identity policies loaded' });

    rmSync(path);
    process.emit('SIGHUP', 'SIGHUP');
    expect(h.sets).toHaveLength(1);
    expect(h.lines.at(-1)?.level).toBe('error');

    writeFileSync(path, '{"policies": {"Bad": {"Statement": [{"Effect": "Maybe"}]}}}');
    process.emit('SIGHUP', 'SIGHUP');
    expect(h.sets).toHaveLength(1);
    expect(h.current()).toEqual(['kms:Decrypt']);
    expect(h.lines.at(-1)?.level).toBe('error');

    const optional = join(tempDir('p11kms-identity-'), 'identity-policies.json');
    writeFileSync(optional, 'not json');
    expect(() => harness({ path: optional, mayBeAbsent: true })).toThrow(/not JSON/);
  });

  it('without a file configured, has none in force and says so on SIGHUP', () => {
    const h = harness(undefined);
    expect(h.current()).toEqual([]);
    expect(h.lines).toEqual([]);
    process.emit('SIGHUP', 'SIGHUP');
    expect(h.sets).toHaveLength(1);
    expect(h.lines).toEqual([{ level: 'info', message: 'SIGHUP: no identity policies file is configured, nothing to reload' }]);
  });
});
