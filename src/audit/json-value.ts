import canonicalize from 'canonicalize';
import { setDataProperty } from '../domain/data-property.js';

/** A value that survives JSON.stringify → JSON.parse unchanged, so its canonical form is stable. */
export type JsonValue = null | boolean | number | string | readonly JsonValue[] | { readonly [key: string]: JsonValue };

/** Deeper nesting than any operation records; also how a cyclic object is caught. */
const MAX_DEPTH = 32;

/**
 * RFC 8785 (JSON Canonicalization Scheme) text of a JSON value: keys sorted by UTF-16 code units
 * (§3.2.3), numbers in ECMAScript shortest form (§3.2.2.3), minimal string escapes (§3.2.2.2).
 */
export function canonicalJson(value: unknown): string {
  const text = canonicalize(value);
  if (text === undefined) throw new TypeError('canonical JSON needs a JSON value, not undefined');
  return text;
}

/**
 * Copies `value` into a plain JSON tree: undefined becomes null, a Date its ISO string, -0 becomes 0.
 * Throws a TypeError naming the path (never the value) for bytes of any kind — audit parameters never
 * hold plaintext or key material (DESIGN.md invariant 4), so bytes here mean a bug upstream — and for
 * anything JSON would silently change (NaN, bigint, Map, class instances, functions).
 *
 * Every request's parameters pass through here, so the copy makes nothing but the copy: a member's
 * path is written only for an error message, or to go one level deeper (it was a string per member,
 * and the entries and pairs arrays of Object.fromEntries, on every request).
 */
export function toJsonValue(value: unknown, path: string, depth = 0): JsonValue {
  return copy(value, path, undefined, depth);
}

/** `parent` and `member` name the value's path (`parent.member`, `parent[3]`), joined only when needed. */
function copy(value: unknown, parent: string, member: string | number | undefined, depth: number): JsonValue {
  if (depth > MAX_DEPTH) throw new TypeError(`${pathOf(parent, member)} is nested deeper than ${MAX_DEPTH} levels (or is cyclic)`);
  switch (typeof value) {
    case 'undefined':
      return null;
    case 'boolean':
      return value;
    case 'number':
      if (!Number.isFinite(value)) throw new TypeError(`${pathOf(parent, member)} is not a finite number`);
      return value === 0 ? 0 : value;
    case 'string':
      // RFC 8785 §3.1 requires I-JSON (RFC 7493 §2.1): no lone surrogates. One would also turn into
      // U+FFFD when the row is stored as UTF-8, breaking the hash on re-reading.
      if (!value.isWellFormed()) throw new TypeError(`${pathOf(parent, member)} holds a lone UTF-16 surrogate (RFC 8785 §3.1)`);
      return value;
    case 'object':
      return value === null ? null : objectToJson(value, pathOf(parent, member), depth);
    default:
      throw new TypeError(`${pathOf(parent, member)} is a ${typeof value}, which JSON cannot hold`);
  }
}

function pathOf(parent: string, member: string | number | undefined): string {
  if (member === undefined) return parent;
  return typeof member === 'number' ? `${parent}[${member}]` : `${parent}.${member}`;
}

function objectToJson(value: object, path: string, depth: number): JsonValue {
  if (isBinary(value)) {
    throw new TypeError(`${path} holds bytes; audit entries must never carry binary data (it may be a secret)`);
  }
  if (Array.isArray(value)) {
    // Every index up to length, so that holes are visited as undefined (→ null), as map() would not.
    const items = value as unknown[];
    const copied: JsonValue[] = new Array<JsonValue>(items.length);
    for (let index = 0; index < items.length; index++) copied[index] = copy(items[index], path, index, depth + 1);
    return copied;
  }
  if (value instanceof Date) {
    if (Number.isNaN(value.getTime())) throw new TypeError(`${path} is an invalid Date`);
    return value.toISOString();
  }
  const prototype: unknown = Object.getPrototypeOf(value);
  if (prototype !== Object.prototype && prototype !== null) {
    const name = (value as { constructor?: { name?: string } }).constructor?.name ?? 'object';
    throw new TypeError(`${path} is a ${name}; only plain objects, arrays and primitives are recorded`);
  }
  const copied: Record<string, JsonValue> = {};
  // for…in with an own-property check visits what Object.keys lists, in its order, without its array.
  for (const key in value) {
    if (!Object.hasOwn(value, key)) continue;
    if (!key.isWellFormed()) throw new TypeError(`${path} key holds a lone UTF-16 surrogate (RFC 8785 §3.1)`);
    const item = copy((value as Record<string, unknown>)[key], path, key, depth + 1);
    setDataProperty(copied, key, item);
  }
  return copied;
}

/** Buffers, typed arrays, DataViews, ArrayBuffers, and a Buffer already turned into `{type:'Buffer', data}`. */
function isBinary(value: object): boolean {
  if (ArrayBuffer.isView(value) || value instanceof ArrayBuffer || value instanceof SharedArrayBuffer) return true;
  const serialized = value as { type?: unknown; data?: unknown };
  return serialized.type === 'Buffer' && Array.isArray(serialized.data);
}
