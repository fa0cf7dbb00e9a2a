import type { Matcher } from './wildcard.js';

/**
 * IpAddress / NotIpAddress (IAM condition operators): the request's `aws:SourceIp` against a CIDR
 * block (RFC 4632 for IPv4, RFC 4291 §2.3 for IPv6). A bare address means a single host. An
 * IPv4-mapped IPv6 address (`::ffff:192.0.2.1`, what a dual-stack socket reports) is its IPv4 address.
 */
interface Address {
  readonly family: 4 | 6;
  readonly value: bigint;
}

const BITS = { 4: 32, 6: 128 } as const;

export function parseIp(text: string): Address | undefined {
  if (text.includes(':')) {
    const v6 = parseIpv6(text);
    if (v6 === undefined) return undefined;
    if (v6 >> 32n === 0xffffn) return { family: 4, value: v6 & 0xffffffffn };
    return { family: 6, value: v6 };
  }
  const v4 = parseIpv4(text);
  return v4 === undefined ? undefined : { family: 4, value: v4 };
}

/** Compiles a CIDR block once; undefined when the text is not one. */
export function compileCidr(text: string): Matcher | undefined {
  const slash = text.indexOf('/');
  const address = parseIp(slash < 0 ? text : text.slice(0, slash));
  if (!address) return undefined;
  const width: number = BITS[address.family];
  let prefix = width;
  if (slash >= 0) {
    const digits = text.slice(slash + 1);
    if (!/^\d{1,3}$/.test(digits)) return undefined;
    prefix = Number(digits);
    // A mapped IPv4 block written in IPv6 form carries a /96-based prefix.
    if (text.includes(':') && address.family === 4) prefix -= 96;
    if (prefix < 0 || prefix > width) return undefined;
  }
  const shift = BigInt(width - prefix);
  const network = address.value >> shift;
  return (subject) => {
    const ip = parseIp(subject);
    return ip !== undefined && ip.family === address.family && ip.value >> shift === network;
  };
}

function parseIpv4(text: string): bigint | undefined {
  const parts = text.split('.');
  if (parts.length !== 4) return undefined;
  let value = 0n;
  for (const part of parts) {
    if (!/^\d{1,3}$/.test(part) || Number(part) > 255) return undefined;
    value = (value << 8n) | BigInt(Number(part));
  }
  return value;
}

function parseIpv6(text: string): bigint | undefined {
  const zone = text.indexOf('%');
  const body = zone >= 0 ? text.slice(0, zone) : text;
  const halves = body.split('::');
  if (halves.length > 2) return undefined;
  const head = halves[0] === '' ? [] : halves[0]!.split(':');
  const tail = halves.length === 2 && halves[1] !== '' ? halves[1]!.split(':') : [];
  const groups = [...head, ...tail];
  const last = groups[groups.length - 1];
  let embedded: bigint | undefined;
  if (last !== undefined && last.includes('.')) {
    embedded = parseIpv4(last);
    if (embedded === undefined) return undefined;
    groups.pop();
    (tail.length > 0 ? tail : head).pop();
  }
  const width = groups.length + (embedded !== undefined ? 2 : 0);
  if (halves.length === 1 ? width !== 8 : width > 7) return undefined;
  if (!groups.every((g) => /^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  const zeros = 8 - width;
  const words = [...head, ...Array<string>(halves.length === 2 ? zeros : 0).fill('0'), ...tail];
  let value = 0n;
  for (const word of words) value = (value << 16n) | BigInt(parseInt(word, 16));
  if (embedded !== undefined) value = (value << 32n) | embedded;
  return value;
}
