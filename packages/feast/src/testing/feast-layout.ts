// An independent writer of Feast's online layout for tests, built only from the published format (field
// numbers, entity-key layout, Redis/SQL layout) and sharing no code with the package it checks: protobuf
// bytes are assembled by hand here, the Redis field hash comes from a third-party MurmurHash3.
import murmur from 'murmurhash3js-revisited';

/** Protobuf base-128 varint of a non-negative or two's complement 64-bit integer. */
export function varint(value: bigint | number): Buffer {
  let v = BigInt.asUintN(64, BigInt(value));
  const out: number[] = [];
  do {
    let byte = Number(v & 0x7fn);
    v >>= 7n;
    if (v > 0n) byte |= 0x80;
    out.push(byte);
  } while (v > 0n);
  return Buffer.from(out);
}

/** Field key: field number and wire type. */
export function key(field: number, wireType: 0 | 1 | 2 | 5): Buffer {
  return varint((field << 3) | wireType);
}

/** A length-delimited field. */
export function lengthDelimited(field: number, payload: Uint8Array): Buffer {
  return Buffer.concat([key(field, 2), varint(payload.length), payload]);
}

/** A varint field. */
export function varintField(field: number, value: bigint | number): Buffer {
  return Buffer.concat([key(field, 0), varint(value)]);
}

/** Serialized feast.types.Value for the common kinds (field numbers from Value's oneof). */
export const feastValue = {
  string: (s: string) => lengthDelimited(2, Buffer.from(s, 'utf8')),
  bytes: (b: Uint8Array) => lengthDelimited(1, b),
  int32: (n: number) => varintField(3, n),
  int64: (n: bigint | number) => varintField(4, n),
  double: (n: number) => {
    const b = Buffer.alloc(8);
    b.writeDoubleLE(n, 0);
    return Buffer.concat([key(5, 1), b]);
  },
  float: (n: number) => {
    const b = Buffer.alloc(4);
    b.writeFloatLE(n, 0);
    return Buffer.concat([key(6, 5), b]);
  },
  bool: (v: boolean) => varintField(7, v ? 1 : 0),
  unixTimestamp: (seconds: number) => varintField(8, seconds),
  int64List: (values: (bigint | number)[]) =>
    lengthDelimited(14, lengthDelimited(1, Buffer.concat(values.map((v) => varint(v))))),
  doubleList: (values: number[]) => {
    const b = Buffer.alloc(values.length * 8);
    values.forEach((v, i) => b.writeDoubleLE(v, i * 8));
    return lengthDelimited(15, lengthDelimited(1, b));
  },
  stringList: (values: string[]) =>
    lengthDelimited(12, Buffer.concat(values.map((v) => lengthDelimited(1, Buffer.from(v, 'utf8'))))),
  /** Feast writes a missing value as an empty Value message. */
  null: () => Buffer.alloc(0),
};

/** Serialized google.protobuf.Timestamp with whole seconds (what Feast writes to Redis `_ts` fields). */
export function timestampBytes(seconds: number): Buffer {
  return seconds === 0 ? Buffer.alloc(0) : varintField(1, seconds);
}

const u32 = (n: number) => {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(n, 0);
  return b;
};

/** serialize_entity_key v3 of string or int64 join keys. */
export function entityKeyV3(pairs: Record<string, string | bigint>): Buffer {
  const names = Object.keys(pairs).sort();
  const parts: Buffer[] = [u32(names.length)];
  for (const name of names) parts.push(u32(2), u32(Buffer.byteLength(name)), Buffer.from(name, 'utf8'));
  for (const name of names) {
    const v = pairs[name]!;
    if (typeof v === 'string') {
      parts.push(u32(2), u32(Buffer.byteLength(v)), Buffer.from(v, 'utf8'));
    } else {
      const b = Buffer.alloc(8);
      b.writeBigInt64LE(v, 0);
      parts.push(u32(4), u32(8), b);
    }
  }
  return Buffer.concat(parts);
}

/** Redis hash key: entity key bytes followed by the project name. */
export function redisKey(entityKey: Buffer, project: string): Buffer {
  return Buffer.concat([entityKey, Buffer.from(project, 'utf8')]);
}

/** Redis field of a feature: little-endian MurmurHash3 x86_32 of `view:feature`. */
export function redisField(view: string, feature: string): Buffer {
  return u32(murmur.x86.hash32(Buffer.from(`${view}:${feature}`, 'utf8'), 0));
}

/** Redis field of a view's timestamp. */
export function redisTsField(view: string): Buffer {
  return Buffer.from(`_ts:${view}`, 'utf8');
}
