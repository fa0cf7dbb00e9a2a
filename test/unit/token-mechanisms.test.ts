import { readFileSync } from 'node:fs';
import pkcs11js from 'pkcs11js';
import { describe, expect, it } from 'vitest';
import {
  CKM_EC_EDWARDS_KEY_PAIR_GEN,
  CKM_EDDSA,
  MECHANISMS_IN_USE,
  SOFTHSM2_MECHANISMS_SETTING,
  mechanismsTheTablesName,
} from '../../src/adapters/pkcs11/mechanisms.js';
import { softhsmConfiguration } from '../../src/cli/init.js';

describe('the mechanisms a SoftHSM2 token made by p11kms enables', () => {
  it('are exactly the ones the mechanism tables name: none missing, none extra', () => {
    const listed = Object.values(MECHANISMS_IN_USE);
    expect(new Set(listed).size).toBe(listed.length);
    expect(new Set(listed)).toEqual(mechanismsTheTablesName());
  });

  it('are written under the names PKCS#11 gives their values, as SoftHSM2 reads them', () => {
    const v3 = { CKM_EC_EDWARDS_KEY_PAIR_GEN, CKM_EDDSA } as Record<string, number>;
    for (const [name, value] of Object.entries(MECHANISMS_IN_USE)) {
      const exported = (pkcs11js as unknown as Record<string, unknown>)[name] ?? v3[name];
      expect({ name, value: exported }).toEqual({ name, value });
    }
  });

  it('form one slots.mechanisms line, AES-GCM first', () => {
    expect(SOFTHSM2_MECHANISMS_SETTING).toMatch(/^slots\.mechanisms = CKM_AES_GCM,(CKM_[A-Z0-9_]+,)*CKM_[A-Z0-9_]+$/);
    expect(SOFTHSM2_MECHANISMS_SETTING.split(',')).toHaveLength(Object.keys(MECHANISMS_IN_USE).length);
  });
});

describe('hsm/softhsm2.conf.template', () => {
  it('is what init writes, for the container image\'s token volume: the same mechanism list included', () => {
    const template = readFileSync(new URL('../../hsm/softhsm2.conf.template', import.meta.url), 'utf8');
    const settings = template.split('\n').filter((line) => !line.startsWith('#')).join('\n');
    expect(settings).toBe(softhsmConfiguration('/var/lib/p11kms/tokens'));
    expect(settings).toContain(SOFTHSM2_MECHANISMS_SETTING);
  });
});
