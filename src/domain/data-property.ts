/**
 * `target[key] = value` as an own data property, even under the name "__proto__", which an
 * assignment would take as setting the prototype instead (what Object.fromEntries avoids). For
 * copies of objects whose names come from a caller (encryption contexts, audit parameters).
 */
export function setDataProperty(target: Record<string, unknown>, key: string, value: unknown): void {
  if (key === '__proto__') Object.defineProperty(target, key, { value, enumerable: true, writable: true, configurable: true });
  else target[key] = value;
}
