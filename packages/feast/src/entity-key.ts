import { RegattaError } from '@regatta/contracts';
import protobuf from 'protobufjs';
import { describeInput } from './time.js';
import { decodeValue, encodeValue, toFeastValue, type FeastValue } from './value.js';
import { ValueType, valueTypeName } from './value-type.js';

/** Feast's `entity_key_serialization_version`: 3 since Feast 0.50, older repositories used 2 (or 1). */
export type EntityKeySerializationVersion = 1 | 2 | 3;

/** A value that can be part of an entity key. */
export type EntityKeyValue = Extract<
  FeastValue,
  { kind: 'string' | 'bytes' | 'int32' | 'int64' | 'unix_timestamp' }
>;

/** Join key used by feature views without entities; its value is always the empty string. */
export const DUMMY_JOIN_KEY = '__dummy_id';
/** Name of the implicit entity of feature views without entities. */
export const DUMMY_ENTITY = '__dummy';

const TYPE_TAG: Record<EntityKeyValue['kind'], number> = {
  bytes: ValueType.BYTES,
  string: ValueType.STRING,
  int32: ValueType.INT32,
  int64: ValueType.INT64,
  unix_timestamp: ValueType.UNIX_TIMESTAMP,
};

function valueBytes(value: EntityKeyValue, version: EntityKeySerializationVersion): Buffer {
  switch (value.kind) {
    case 'string':
      return Buffer.from(value.value, 'utf8');
    case 'bytes':
      return Buffer.from(value.value.buffer, value.value.byteOffset, value.value.byteLength);
    case 'int32': {
      const b = Buffer.allocUnsafe(4);
      b.writeInt32LE(value.value, 0);
      return b;
    }
    case 'int64':
    case 'unix_timestamp': {
      // Version 1 packed int64 into 4 bytes (Python's `<l`); timestamps were always 8.
      if (version === 1 && value.kind === 'int64') {
        const b = Buffer.allocUnsafe(4);
        b.writeInt32LE(Number(BigInt.asIntN(32, value.value)), 0);
        return b;
      }
      const b = Buffer.allocUnsafe(8);
      b.writeBigInt64LE(value.value, 0);
      return b;
    }
  }
}

function isKeyValue(value: FeastValue): value is EntityKeyValue {
  return value.kind in TYPE_TAG;
}

/**
 * Feast's `serialize_entity_key`: pairs sorted by join-key name, all names first, then all values, every integer
 * a little-endian uint32. v3: `[count]`, names as `[2][len][utf8]`, values as `[type][len][bytes]`; v2 and v1
 * write names as `[2][utf8]` without count or length (v1 also packs int64 into 4 bytes).
 */
export function serializeEntityKey(
  joinKeys: readonly string[],
  values: readonly FeastValue[],
  version: EntityKeySerializationVersion = 3,
): Buffer {
  return new EntityKeySerializer(joinKeys, version).serialize(values);
}

/**
 * `serializeEntityKey` for one set of join keys, many times: the sort order and the names part (the same for
 * every key of a feature view) are worked out once.
 */
export class EntityKeySerializer {
  private readonly order: number[];
  private readonly names: Buffer;

  constructor(
    readonly joinKeys: readonly string[],
    readonly version: EntityKeySerializationVersion = 3,
  ) {
    const names = joinKeys.map((k) => Buffer.from(k, 'utf8'));
    const order = names.map((_, i) => i);
    // Python sorts str by code point, which is the byte order of their UTF-8 encodings.
    if (order.length > 1) order.sort((a, b) => Buffer.compare(names[a]!, names[b]!));
    const parts: Buffer[] = [];
    if (version >= 3) parts.push(u32(order.length));
    for (const i of order) {
      parts.push(u32(ValueType.STRING));
      if (version >= 3) parts.push(u32(names[i]!.length));
      parts.push(names[i]!);
    }
    this.order = order;
    this.names = Buffer.concat(parts);
  }

  /** The serialized key of `values` (one per join key, in the order the join keys were given). */
  serialize(values: readonly FeastValue[]): Buffer {
    const { joinKeys, order } = this;
    if (joinKeys.length !== values.length) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `entity key has ${joinKeys.length} join keys but ${values.length} values`,
      );
    }
    // Strings, the usual join keys, are measured here and written straight into the key.
    let length = this.names.length;
    const encoded: (Buffer | number)[] = new Array<Buffer | number>(order.length);
    for (let k = 0; k < order.length; k++) {
      const i = order[k]!;
      const value = values[i]!;
      if (!isKeyValue(value)) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `join key ${joinKeys[i]}: a ${value.kind} value cannot be part of an entity key`,
        );
      }
      const bytes =
        value.kind === 'string' ? Buffer.byteLength(value.value, 'utf8') : valueBytes(value, this.version);
      encoded[k] = bytes;
      length += 8 + (typeof bytes === 'number' ? bytes : bytes.length);
    }
    const out = Buffer.allocUnsafe(length);
    let pos = this.names.copy(out, 0);
    for (let k = 0; k < order.length; k++) {
      const value = values[order[k]!] as EntityKeyValue;
      const bytes = encoded[k]!;
      pos = out.writeUInt32LE(TYPE_TAG[value.kind], pos);
      if (typeof bytes === 'number') {
        pos = out.writeUInt32LE(bytes, pos);
        pos += out.write(value.value as string, pos, 'utf8');
      } else {
        pos = out.writeUInt32LE(bytes.length, pos);
        pos += bytes.copy(out, pos);
      }
    }
    return out;
  }
}

function u32(n: number): Buffer {
  const b = Buffer.allocUnsafe(4);
  b.writeUInt32LE(n, 0);
  return b;
}

/** The join keys and values of a v3 serialized entity key (earlier versions carry no lengths to parse by). */
export function deserializeEntityKey(bytes: Uint8Array): { joinKeys: string[]; values: EntityKeyValue[] } {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let pos = 0;
  const u32 = () => {
    if (pos + 4 > buf.length) throw new RegattaError('INVALID_ARGUMENT', 'entity key is truncated');
    const n = buf.readUInt32LE(pos);
    pos += 4;
    return n;
  };
  const take = (len: number) => {
    if (pos + len > buf.length) throw new RegattaError('INVALID_ARGUMENT', 'entity key is truncated');
    const slice = buf.subarray(pos, pos + len);
    pos += len;
    return slice;
  };
  const count = u32();
  const joinKeys: string[] = [];
  for (let i = 0; i < count; i++) {
    if (u32() !== ValueType.STRING)
      throw new RegattaError('INVALID_ARGUMENT', 'entity key name is not a string');
    joinKeys.push(take(u32()).toString('utf8'));
  }
  const values: EntityKeyValue[] = [];
  for (let i = 0; i < count; i++) {
    const type = u32();
    const bytesOfValue = take(u32());
    switch (type) {
      case ValueType.STRING:
        values.push({ kind: 'string', value: bytesOfValue.toString('utf8') });
        break;
      case ValueType.BYTES:
        values.push({ kind: 'bytes', value: Uint8Array.from(bytesOfValue) });
        break;
      case ValueType.INT32:
        values.push({ kind: 'int32', value: bytesOfValue.readInt32LE(0) });
        break;
      case ValueType.INT64:
        values.push({ kind: 'int64', value: bytesOfValue.readBigInt64LE(0) });
        break;
      case ValueType.UNIX_TIMESTAMP:
        values.push({ kind: 'unix_timestamp', value: bytesOfValue.readBigInt64LE(0) });
        break;
      default:
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `entity key value type ${valueTypeName(type)} is not supported`,
        );
    }
  }
  if (pos !== buf.length) throw new RegattaError('INVALID_ARGUMENT', 'entity key has trailing bytes');
  return { joinKeys, values };
}

/**
 * A plain JSON entity value as a value of the join key's declared type. INVALID_ARGUMENT naming the join key
 * when it does not fit (e.g. a string for INT64 that is not an integer) or is null. An UNKNOWN declared type
 * (entities declared without one) follows the input: strings stay strings, integers become INT64.
 */
export function toEntityKeyValue(joinKey: string, valueType: number, input: unknown): EntityKeyValue {
  if (input === null || input === undefined) {
    throw new RegattaError('INVALID_ARGUMENT', `entity ${joinKey}: value must not be null`, {
      join_key: joinKey,
    });
  }
  if (valueType === ValueType.UNKNOWN && typeof input === 'number' && !Number.isInteger(input)) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `entity ${joinKey}: expected a string or an integer, got ${describeInput(input)}`,
    );
  }
  if (!(valueType in KEY_TYPES)) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `entity ${joinKey}: join keys of type ${valueTypeName(valueType)} cannot be serialized into an entity key`,
      { join_key: joinKey },
    );
  }
  try {
    return toFeastValue(valueType, input, `entity ${joinKey}`) as EntityKeyValue;
  } catch (err) {
    if (err instanceof RegattaError) throw new RegattaError(err.code, err.message, { join_key: joinKey });
    throw err;
  }
}

const KEY_TYPES: Record<number, true> = {
  [ValueType.UNKNOWN]: true,
  [ValueType.BYTES]: true,
  [ValueType.STRING]: true,
  [ValueType.INT32]: true,
  [ValueType.INT64]: true,
  [ValueType.UNIX_TIMESTAMP]: true,
};

/** Serialized `feast.types.EntityKey` message (join_keys=1, entity_values=2), in the order given. */
export function encodeEntityKeyProto(joinKeys: readonly string[], values: readonly FeastValue[]): Uint8Array {
  const writer = protobuf.Writer.create();
  for (const key of joinKeys) writer.uint32((1 << 3) | 2).string(key);
  for (const value of values) writer.uint32((2 << 3) | 2).bytes(encodeValue(value));
  return writer.finish();
}

/** The join keys and values of a serialized `feast.types.EntityKey` message. */
export function decodeEntityKeyProto(bytes: Uint8Array): { joinKeys: string[]; values: FeastValue[] } {
  const reader = protobuf.Reader.create(bytes);
  const joinKeys: string[] = [];
  const values: FeastValue[] = [];
  try {
    while (reader.pos < reader.len) {
      const tag = reader.uint32();
      if (tag === ((1 << 3) | 2)) joinKeys.push(reader.string());
      else if (tag === ((2 << 3) | 2)) values.push(decodeValue(reader.bytes()));
      else reader.skipType(tag & 7);
    }
  } catch (err) {
    if (err instanceof RegattaError) throw err;
    throw new RegattaError('INVALID_ARGUMENT', 'not a valid feast.types.EntityKey message');
  }
  return { joinKeys, values };
}
