import protobuf from 'protobufjs';
import { setDataProperty } from '../../domain/data-property.js';

/**
 * Converts between wire messages (snake_case, prefixed enum names, Timestamps) and the operations'
 * requests and responses (camelCase, AWS enum values, Dates), driven by the proto reflection so
 * that every message is handled the same way. Nothing below the transport sees protobuf.
 */
/** AWS spells these enums' values in PascalCase (KeyState "PendingDeletion"); proto values are UPPER_SNAKE. */
const PASCAL_CASE_ENUMS = new Set(['KeyState', 'GrantOperation']);

/** A message field with the names both sides use, worked out once per type. */
interface FieldPlan {
  readonly field: protobuf.Field;
  readonly wireName: string;
  readonly operationName: string;
}

export class MessageCodec {
  private readonly enumPrefixes = new Map<protobuf.Enum, string>();
  /** Per message type: its fields and their camelCase names (the profile showed the renaming at ~10 µs per request). */
  private readonly plans = new Map<protobuf.Type, readonly FieldPlan[]>();
  private readonly enumsIn = new Map<protobuf.Enum, Map<string, string | undefined>>();
  private readonly enumsOut = new Map<protobuf.Enum, Map<string, string | undefined>>();

  /** Wire → operation. Absent fields stay absent; the *_UNSPECIFIED enum value counts as absent. */
  toOperation(type: protobuf.Type, message: Record<string, unknown>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const { field, wireName, operationName } of this.plan(type)) {
      const value = message[wireName];
      if (value === undefined || value === null) continue;
      const converted = field.map
        ? this.mapIn(field, value as Record<string, unknown>)
        : field.repeated
          ? (value as unknown[]).map((item) => this.valueIn(field, item)).filter((item) => item !== undefined)
          : this.valueIn(field, value);
      if (converted !== undefined) result[operationName] = converted;
    }
    return result;
  }

  /** Operation → wire. */
  toWire(type: protobuf.Type, value: Record<string, unknown>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const { field, wireName, operationName } of this.plan(type)) {
      const item = value[operationName];
      if (item === undefined || item === null) continue;
      result[wireName] = field.map
        ? this.mapOut(field, item as Record<string, unknown>)
        : field.repeated
          ? (item as unknown[]).map((element) => this.valueOut(field, element))
          : this.valueOut(field, item);
    }
    return result;
  }

  private plan(type: protobuf.Type): readonly FieldPlan[] {
    let plan = this.plans.get(type);
    if (plan === undefined) {
      plan = type.fieldsArray.map((field) => ({ field, wireName: field.name, operationName: camelCase(field.name) }));
      this.plans.set(type, plan);
    }
    return plan;
  }

  private valueIn(field: protobuf.Field, value: unknown): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) return this.enumIn(resolved, String(value));
    if (resolved instanceof protobuf.Type) {
      if (resolved.fullName === '.google.protobuf.Timestamp') {
        const { seconds, nanos } = value as { seconds?: string | number; nanos?: number };
        return new Date(Number(seconds ?? 0) * 1000 + Math.floor((nanos ?? 0) / 1e6));
      }
      return this.toOperation(resolved, value as Record<string, unknown>);
    }
    return value;
  }

  private valueOut(field: protobuf.Field, value: unknown): unknown {
    const resolved = field.resolvedType;
    if (resolved instanceof protobuf.Enum) return this.enumOut(resolved, String(value));
    if (resolved instanceof protobuf.Type) {
      if (resolved.fullName === '.google.protobuf.Timestamp') {
        const millis = (value as Date).getTime();
        return { seconds: String(Math.floor(millis / 1000)), nanos: (millis % 1000) * 1e6 };
      }
      return this.toWire(resolved, value as Record<string, unknown>);
    }
    return value;
  }

  private mapIn(field: protobuf.Field, value: Record<string, unknown>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setDataProperty(result, key, this.valueIn(field, value[key]));
    return result;
  }

  private mapOut(field: protobuf.Field, value: Record<string, unknown>): Record<string, unknown> {
    const result: Record<string, unknown> = {};
    for (const key of Object.keys(value)) setDataProperty(result, key, this.valueOut(field, value[key]));
    return result;
  }

  /**
   * `KEY_SPEC_RSA_2048` → `RSA_2048`, `KEY_STATE_PENDING_DELETION` → `PendingDeletion`; the
   * *_UNSPECIFIED value and names of another enum → undefined. An enum has few values and requests
   * repeat them: each is worked out once, not re-sliced and re-cased on every request.
   */
  private enumIn(type: protobuf.Enum, name: string): string | undefined {
    const known = this.enumNames(this.enumsIn, type);
    if (known.has(name)) return known.get(name);
    const prefix = this.prefix(type);
    let awsValue: string | undefined;
    if (name !== `${prefix}UNSPECIFIED` && name.startsWith(prefix)) {
      const bare = name.slice(prefix.length);
      awsValue = PASCAL_CASE_ENUMS.has(type.name) ? pascalCase(bare) : bare;
    }
    // Only the type's own values are kept: anything else a client sends is worked out each time.
    if (Object.hasOwn(type.values, name)) known.set(name, awsValue);
    return awsValue;
  }

  /** The inverse of enumIn: `RSA_2048` → `KEY_SPEC_RSA_2048`, once per value. */
  private enumOut(type: protobuf.Enum, awsValue: string): string {
    const known = this.enumNames(this.enumsOut, type);
    let name = known.get(awsValue);
    if (name === undefined) {
      name = `${this.prefix(type)}${PASCAL_CASE_ENUMS.has(type.name) ? upperSnakeCase(awsValue) : awsValue}`;
      if (Object.hasOwn(type.values, name)) known.set(awsValue, name);
    }
    return name;
  }

  private enumNames(
    byType: Map<protobuf.Enum, Map<string, string | undefined>>,
    type: protobuf.Enum,
  ): Map<string, string | undefined> {
    let names = byType.get(type);
    if (names === undefined) byType.set(type, (names = new Map()));
    return names;
  }

  /** KeySpec → "KEY_SPEC_": enum values carry their type's name (kms.proto). */
  private prefix(type: protobuf.Enum): string {
    let prefix = this.enumPrefixes.get(type);
    if (prefix === undefined) {
      prefix = `${upperSnakeCase(type.name)}_`;
      this.enumPrefixes.set(type, prefix);
    }
    return prefix;
  }
}

export function camelCase(snake: string): string {
  return snake.replace(/_([a-z0-9])/g, (_, c: string) => c.toUpperCase());
}

export function upperSnakeCase(pascal: string): string {
  return pascal.replace(/([a-z0-9])([A-Z])/g, '$1_$2').toUpperCase();
}

export function pascalCase(upperSnake: string): string {
  return upperSnake
    .toLowerCase()
    .split('_')
    .map((word) => word.charAt(0).toUpperCase() + word.slice(1))
    .join('');
}
