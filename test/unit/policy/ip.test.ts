import { describe, expect, it } from 'vitest';
import { compileCidr, parseIp } from '../../../src/policy/ip.js';

describe('parseIp', () => {
  it.each([
    ['192.0.2.1', 4, 0xc0000201n],
    ['0.0.0.0', 4, 0n],
    ['255.255.255.255', 4, 0xffffffffn],
    ['::', 6, 0n],
    ['::1', 6, 1n],
    ['2001:db8::', 6, 0x20010db8n << 96n],
    ['2001:DB8:0:0:0:0:0:1', 6, (0x20010db8n << 96n) | 1n],
    ['fe80::1%eth0', 6, (0xfe80n << 112n) | 1n],
    ['::ffff:192.0.2.1', 4, 0xc0000201n],
    ['64:ff9b::192.0.2.1', 6, (0x64n << 112n) | (0xff9bn << 96n) | 0xc0000201n],
  ] as const)('%s', (text, family, value) => {
    expect(parseIp(text)).toEqual({ family, value });
  });

  it.each(['', '1.2.3', '1.2.3.4.5', '256.1.1.1', '1.2.3.-4', 'a.b.c.d', ':::', '1::2::3', '1:2:3:4:5:6:7:8:9', '12345::', 'g::1', '1:2:3:4:5:6:7', '::1.2.3', 'localhost'])(
    '%j is not an address',
    (text) => {
      expect(parseIp(text)).toBeUndefined();
    },
  );
});

describe('compileCidr', () => {
  it.each([
    ['10.0.0.0/8', '10.255.255.255', true],
    ['10.0.0.0/8', '11.0.0.0', false],
    ['192.0.2.128/25', '192.0.2.127', false],
    ['192.0.2.128/25', '192.0.2.200', true],
    ['192.0.2.77/24', '192.0.2.1', true],
    ['2001:db8::/32', '2001:db8:ffff::1', true],
    ['2001:db8::/32', '2001:db9::1', false],
    ['::/0', '2001:db8::1', true],
    ['::/0', '192.0.2.1', false],
    ['::ffff:10.0.0.0/104', '10.1.2.3', true],
    ['::ffff:10.0.0.0/104', '11.1.2.3', false],
  ] as const)('%s contains %s: %s', (cidr, ip, expected) => {
    expect(compileCidr(cidr)?.(ip)).toBe(expected);
  });

  it.each(['10.0.0.0/33', '10.0.0.0/', '10.0.0.0/x', '2001:db8::/129', 'example.com/24', '10.0.0.0/08a'])('%j is refused', (text) => {
    expect(compileCidr(text)).toBeUndefined();
  });
});
