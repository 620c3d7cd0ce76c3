import { RegattaError } from '@regatta/contracts';
import { ValueMessage } from './proto/schema.js';
import { describeInput, formatRfc3339, toEpochMs } from './time.js';
import { ValueType, valueTypeName } from './value-type.js';

/** A decoded `feast.types.Value`: one of Feast's scalar or list kinds, or null. */
export type FeastValue =
  | { kind: 'null' }
  | { kind: 'bytes'; value: Uint8Array }
  | { kind: 'string'; value: string }
  | { kind: 'int32'; value: number }
  | { kind: 'int64'; value: bigint }
  | { kind: 'double'; value: number }
  | { kind: 'float'; value: number }
  | { kind: 'bool'; value: boolean }
  /** Epoch seconds. */
  | { kind: 'unix_timestamp'; value: bigint }
  | { kind: 'bytes_list'; value: Uint8Array[] }
  | { kind: 'string_list'; value: string[] }
  | { kind: 'int32_list'; value: number[] }
  | { kind: 'int64_list'; value: bigint[] }
  | { kind: 'double_list'; value: number[] }
  | { kind: 'float_list'; value: number[] }
  | { kind: 'bool_list'; value: boolean[] }
  /** Epoch seconds. */
  | { kind: 'unix_timestamp_list'; value: bigint[] };

/** The kind of a FeastValue (`int64`, `string_list`, `null`, ...). */
export type ValueKind = FeastValue['kind'];

/** A feature value as Feast's HTTP server prints it in JSON. */
export type JsonScalar = string | number | boolean;
/** A JSON feature value: null, a scalar or a list of scalars. */
export type JsonFeatureValue = JsonScalar | JsonScalar[] | null;

/** The shared null value (Feast stores it as zero bytes). */
export const NULL_VALUE: FeastValue = Object.freeze({ kind: 'null' });

const EMPTY = new Uint8Array(0);
const INT64_MIN = -(2n ** 63n);
const INT64_MAX = 2n ** 63n - 1n;

// protobufjs property name of each kind, and back.
const PROPERTY: Record<Exclude<ValueKind, 'null'>, string> = {
  bytes: 'bytesVal',
  string: 'stringVal',
  int32: 'int32Val',
  int64: 'int64Val',
  double: 'doubleVal',
  float: 'floatVal',
  bool: 'boolVal',
  unix_timestamp: 'unixTimestampVal',
  bytes_list: 'bytesListVal',
  string_list: 'stringListVal',
  int32_list: 'int32ListVal',
  int64_list: 'int64ListVal',
  double_list: 'doubleListVal',
  float_list: 'floatListVal',
  bool_list: 'boolListVal',
  unix_timestamp_list: 'unixTimestampListVal',
};
const KIND_OF_PROPERTY = new Map(Object.entries(PROPERTY).map(([kind, prop]) => [prop, kind as ValueKind]));

/** Serialized `feast.types.Value`; null is zero bytes, as Feast writes it. */
export function encodeValue(value: FeastValue): Uint8Array {
  if (value.kind === 'null') return EMPTY;
  const prop = PROPERTY[value.kind];
  let payload: unknown;
  switch (value.kind) {
    case 'int64':
    case 'unix_timestamp':
      // protobufjs takes 64-bit integers as decimal strings (a bigint would be written as 0).
      payload = value.value.toString();
      break;
    case 'int64_list':
    case 'unix_timestamp_list':
      payload = { val: value.value.map((v) => v.toString()) };
      break;
    case 'bytes_list':
    case 'string_list':
    case 'int32_list':
    case 'double_list':
    case 'float_list':
    case 'bool_list':
      payload = { val: value.value };
      break;
    case 'bytes':
    case 'string':
    case 'int32':
    case 'double':
    case 'float':
    case 'bool':
      payload = value.value;
      break;
  }
  return ValueMessage.encode({ [prop]: payload }).finish();
}

/** The typed value of a serialized `feast.types.Value` (zero bytes and `null_val` are null). */
export function decodeValue(bytes: Uint8Array): FeastValue {
  if (bytes.length === 0) return NULL_VALUE;
  let object: Record<string, unknown>;
  try {
    object = ValueMessage.toObject(ValueMessage.decode(bytes), { longs: BigInt, oneofs: true });
  } catch {
    throw malformed();
  }
  const kind = KIND_OF_PROPERTY.get(object.val as string);
  if (kind === undefined) return NULL_VALUE;
  const raw = object[PROPERTY[kind as Exclude<ValueKind, 'null'>]];
  if (kind.endsWith('_list')) {
    const list = (raw as { val?: unknown[] } | undefined)?.val ?? [];
    return { kind, value: list } as FeastValue;
  }
  return { kind, value: raw } as FeastValue;
}

/** JSON form of a value, as Feast's HTTP server prints it: bytes base64, int64 a number, timestamps RFC 3339. */
export function valueToJson(value: FeastValue): JsonFeatureValue {
  switch (value.kind) {
    case 'null':
      return null;
    case 'bytes':
      return base64(value.value);
    case 'string':
    case 'int32':
    case 'double':
    case 'float':
    case 'bool':
      return value.value;
    case 'int64':
      return int64Json(value.value);
    case 'unix_timestamp':
      return formatRfc3339(Number(value.value) * 1000);
    case 'bytes_list':
      return value.value.map(base64);
    case 'string_list':
    case 'int32_list':
    case 'double_list':
    case 'float_list':
    case 'bool_list':
      return [...value.value];
    case 'int64_list':
      return value.value.map(int64Json);
    case 'unix_timestamp_list':
      return value.value.map((s) => formatRfc3339(Number(s) * 1000));
  }
}

/** An int64 as a JSON number; beyond 2^53 as its exact decimal string rather than a rounded number. */
function int64Json(v: bigint): number | string {
  return v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString();
}

function base64(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('base64');
}

function malformed(): RegattaError {
  return new RegattaError('INTERNAL', 'stored feature value is not a valid feast.types.Value');
}

// ---------------------------------------------------------------------------------------------------------
// Hot path: serialized Value straight to its JSON form. Reading 100 entities x 50 features decodes 5,000
// values per request, so this walks the protobuf wire format directly instead of building protobufjs
// messages, Long objects and typed wrappers that would be thrown away immediately.

class WireCursor {
  buf: Buffer = Buffer.alloc(0);
  pos = 0;
  end = 0;

  reset(buf: Buffer): void {
    this.buf = buf;
    this.pos = 0;
    this.end = buf.length;
  }

  byte(): number {
    if (this.pos >= this.end) throw malformed();
    return this.buf[this.pos++]!;
  }

  /** An unsigned varint of up to 32 bits (tags, lengths); int32 values keep their low 32 bits. */
  varint32(): number {
    let result = 0;
    for (let shift = 0; shift < 35; shift += 7) {
      const b = this.byte();
      result |= (b & 0x7f) << shift;
      if (b < 0x80) return result >>> 0;
    }
    // Negative int32 values are sign-extended to 10 bytes; the upper bytes carry nothing new.
    for (let i = 0; i < 5; i++) if (this.byte() < 0x80) return result >>> 0;
    throw malformed();
  }

  /** A two's complement int64 varint: a number when exactly representable, else its decimal string. */
  varint64(): number | string {
    let lo = 0;
    let hi: number;
    let b: number;
    for (let shift = 0; shift < 28; shift += 7) {
      b = this.byte();
      lo |= (b & 0x7f) << shift;
      if (b < 0x80) return lo >>> 0;
    }
    b = this.byte();
    lo |= (b & 0x0f) << 28;
    hi = (b & 0x7f) >> 4;
    if (b >= 0x80) {
      let done = false;
      for (let shift = 3; shift < 38; shift += 7) {
        b = this.byte();
        hi |= (b & 0x7f) << shift;
        if (b < 0x80) {
          done = true;
          break;
        }
      }
      if (!done) throw malformed();
    }
    const high = hi | 0;
    // |value| < 2^53 exactly when the signed high word lies within 21 bits.
    if (high >= -0x200000 && high < 0x200000) return high * 4294967296 + (lo >>> 0);
    return ((BigInt(high) << 32n) | BigInt(lo >>> 0)).toString();
  }

  /** Start of a length-delimited field's payload; `pos` moves past it. */
  delimited(): number {
    const len = this.varint32();
    const start = this.pos;
    if (start + len > this.end) throw malformed();
    this.pos = start + len;
    return start;
  }

  skip(wireType: number): void {
    switch (wireType) {
      case 0:
        this.varint64();
        return;
      case 1:
        this.pos += 8;
        break;
      case 2:
        this.delimited();
        return;
      case 5:
        this.pos += 4;
        break;
      default:
        throw malformed();
    }
    if (this.pos > this.end) throw malformed();
  }
}

const cursor = new WireCursor();

function asBuffer(bytes: Uint8Array): Buffer {
  return Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
}

function timestampJson(seconds: number | string): string {
  return formatRfc3339(Number(seconds) * 1000);
}

/**
 * JSON form of a serialized `feast.types.Value` (same result as `valueToJson(decodeValue(bytes))`, without the
 * intermediate objects). Zero bytes and `null_val` give null.
 */
export function decodeValueJson(bytes: Uint8Array): JsonFeatureValue {
  if (bytes.length === 0) return null;
  const c = cursor;
  c.reset(asBuffer(bytes));
  let result: JsonFeatureValue = null;
  while (c.pos < c.end) {
    const tag = c.varint32();
    const field = tag >>> 3;
    const wireType = tag & 7;
    // A Value holds one field of its oneof; should several appear, the last wins, as in protobuf.
    switch (field) {
      case 1:
      case 2:
        if (wireType !== 2) break;
        {
          const start = c.delimited();
          result =
            field === 1 ? c.buf.toString('base64', start, c.pos) : c.buf.toString('utf8', start, c.pos);
        }
        continue;
      case 3:
        if (wireType !== 0) break;
        result = c.varint32() | 0;
        continue;
      case 4:
        if (wireType !== 0) break;
        result = c.varint64();
        continue;
      case 5:
        if (wireType !== 1 || c.pos + 8 > c.end) break;
        result = c.buf.readDoubleLE(c.pos);
        c.pos += 8;
        continue;
      case 6:
        if (wireType !== 5 || c.pos + 4 > c.end) break;
        result = c.buf.readFloatLE(c.pos);
        c.pos += 4;
        continue;
      case 7:
        if (wireType !== 0) break;
        result = c.varint64() !== 0;
        continue;
      case 8:
        if (wireType !== 0) break;
        result = timestampJson(c.varint64());
        continue;
      case 11:
      case 12:
      case 13:
      case 14:
      case 15:
      case 16:
      case 17:
      case 18:
        if (wireType !== 2) break;
        {
          const start = c.delimited();
          const after = c.pos;
          result = decodeList(c, field, start, after);
          c.pos = after;
          c.end = c.buf.length;
        }
        continue;
      case 19:
        if (wireType !== 0) break;
        c.varint64();
        result = null;
        continue;
    }
    c.skip(wireType);
  }
  return result;
}

function decodeList(c: WireCursor, field: number, start: number, end: number): JsonScalar[] {
  const out: JsonScalar[] = [];
  c.pos = start;
  c.end = end;
  while (c.pos < end) {
    const tag = c.varint32();
    const wireType = tag & 7;
    if (tag >>> 3 !== 1) {
      c.skip(wireType);
      continue;
    }
    if (field === 11 || field === 12) {
      if (wireType !== 2) throw malformed();
      const s = c.delimited();
      out.push(field === 11 ? c.buf.toString('base64', s, c.pos) : c.buf.toString('utf8', s, c.pos));
      continue;
    }
    // Numeric lists are packed (proto3's default) but may also arrive one element per field.
    if (wireType === 2) {
      const s = c.delimited();
      const packedEnd = c.pos;
      c.pos = s;
      while (c.pos < packedEnd) out.push(listElement(c, field));
      if (c.pos !== packedEnd) throw malformed();
    } else {
      out.push(listElement(c, field));
    }
  }
  return out;
}

function listElement(c: WireCursor, field: number): JsonScalar {
  switch (field) {
    case 13:
      return c.varint32() | 0;
    case 14:
      return c.varint64();
    case 15: {
      if (c.pos + 8 > c.end) throw malformed();
      const v = c.buf.readDoubleLE(c.pos);
      c.pos += 8;
      return v;
    }
    case 16: {
      if (c.pos + 4 > c.end) throw malformed();
      const v = c.buf.readFloatLE(c.pos);
      c.pos += 4;
      return v;
    }
    case 17:
      return c.varint64() !== 0;
    default:
      return timestampJson(c.varint64());
  }
}

// ---------------------------------------------------------------------------------------------------------
// Plain JSON (or CSV text, or Parquet cells) to a typed value of a declared ValueType.

const INTEGER_TEXT = /^[+-]?\d+$/;
const BASE64_TEXT = /^[A-Za-z0-9+/_-]*={0,2}$/;

function fail(what: string, expected: string, input: unknown): never {
  throw new RegattaError('INVALID_ARGUMENT', `${what}: expected ${expected}, got ${describeInput(input)}`);
}

function toBigInt(input: unknown, what: string, min: bigint, max: bigint, label: string): bigint {
  let v: bigint | undefined;
  if (typeof input === 'bigint') v = input;
  else if (typeof input === 'number' && Number.isInteger(input)) v = BigInt(input);
  else if (typeof input === 'string' && INTEGER_TEXT.test(input.trim())) v = BigInt(input.trim());
  if (v === undefined || v < min || v > max) fail(what, label, input);
  return v;
}

function toNumber(input: unknown, what: string, label: string): number {
  if (typeof input === 'number') return input;
  if (typeof input === 'bigint') return Number(input);
  if (typeof input === 'string') {
    const text = input.trim().toLowerCase();
    if (text === 'nan') return NaN;
    if (text === 'inf' || text === 'infinity' || text === '+inf' || text === '+infinity') return Infinity;
    if (text === '-inf' || text === '-infinity') return -Infinity;
    const n = text === '' ? NaN : Number(text);
    if (!Number.isNaN(n)) return n;
  }
  return fail(what, label, input);
}

function toBool(input: unknown, what: string): boolean {
  if (typeof input === 'boolean') return input;
  if (input === 0 || input === 1) return input === 1;
  if (typeof input === 'string') {
    const text = input.trim().toLowerCase();
    if (text === 'true' || text === '1') return true;
    if (text === 'false' || text === '0') return false;
  }
  return fail(what, 'a boolean', input);
}

function toBytes(input: unknown, what: string): Uint8Array {
  if (input instanceof Uint8Array) return input;
  if (typeof input === 'string' && BASE64_TEXT.test(input)) {
    return Buffer.from(input, input.includes('-') || input.includes('_') ? 'base64url' : 'base64');
  }
  return fail(what, 'base64 text', input);
}

function toSeconds(input: unknown, what: string): bigint {
  // Integers are epoch seconds (the unit of unix_timestamp_val); anything else goes through toEpochMs.
  if (typeof input === 'bigint') return input;
  if (typeof input === 'number' && Number.isInteger(input) && Math.abs(input) < 1e11) return BigInt(input);
  return BigInt(Math.floor(toEpochMs(input, what) / 1000));
}

function toList(input: unknown, what: string): unknown[] {
  if (Array.isArray(input)) return input;
  // CSV cells carry lists as JSON text.
  if (typeof input === 'string' && input.trim().startsWith('[')) {
    try {
      const parsed: unknown = JSON.parse(input);
      if (Array.isArray(parsed)) return parsed;
    } catch {
      // reported below
    }
  }
  if (ArrayBuffer.isView(input) && !(input instanceof DataView))
    return Array.from(input as unknown as ArrayLike<unknown>);
  return fail(what, 'a list', input);
}

/**
 * A plain JSON (or CSV / Parquet) value as a typed Feast value of the declared `valueType`; null and undefined
 * become null. INVALID_ARGUMENT naming `what` when the input does not fit the type, e.g. a non-integer string
 * for INT64. For an UNKNOWN declared type the kind follows the input (string, int64, double, bool).
 */
export function toFeastValue(valueType: number, input: unknown, what: string): FeastValue {
  if (input === null || input === undefined) return NULL_VALUE;
  switch (valueType) {
    case ValueType.BYTES:
      return { kind: 'bytes', value: toBytes(input, what) };
    case ValueType.STRING:
      if (typeof input !== 'string') fail(what, 'a string', input);
      return { kind: 'string', value: input };
    case ValueType.INT32:
      return {
        kind: 'int32',
        value: Number(toBigInt(input, what, -(2n ** 31n), 2n ** 31n - 1n, 'a 32-bit integer')),
      };
    case ValueType.INT64:
      return { kind: 'int64', value: toBigInt(input, what, INT64_MIN, INT64_MAX, 'a 64-bit integer') };
    case ValueType.DOUBLE:
      return { kind: 'double', value: toNumber(input, what, 'a number') };
    case ValueType.FLOAT:
      return { kind: 'float', value: toNumber(input, what, 'a number') };
    case ValueType.BOOL:
      return { kind: 'bool', value: toBool(input, what) };
    case ValueType.UNIX_TIMESTAMP:
      return { kind: 'unix_timestamp', value: toSeconds(input, what) };
    case ValueType.BYTES_LIST:
      return { kind: 'bytes_list', value: toList(input, what).map((v, i) => toBytes(v, `${what}[${i}]`)) };
    case ValueType.STRING_LIST:
      return {
        kind: 'string_list',
        value: toList(input, what).map((v, i) =>
          typeof v === 'string' ? v : fail(`${what}[${i}]`, 'a string', v),
        ),
      };
    case ValueType.INT32_LIST:
      return {
        kind: 'int32_list',
        value: toList(input, what).map((v, i) =>
          Number(toBigInt(v, `${what}[${i}]`, -(2n ** 31n), 2n ** 31n - 1n, 'a 32-bit integer')),
        ),
      };
    case ValueType.INT64_LIST:
      return {
        kind: 'int64_list',
        value: toList(input, what).map((v, i) =>
          toBigInt(v, `${what}[${i}]`, INT64_MIN, INT64_MAX, 'a 64-bit integer'),
        ),
      };
    case ValueType.DOUBLE_LIST:
      return {
        kind: 'double_list',
        value: toList(input, what).map((v, i) => toNumber(v, `${what}[${i}]`, 'a number')),
      };
    case ValueType.FLOAT_LIST:
      return {
        kind: 'float_list',
        value: toList(input, what).map((v, i) => toNumber(v, `${what}[${i}]`, 'a number')),
      };
    case ValueType.BOOL_LIST:
      return { kind: 'bool_list', value: toList(input, what).map((v, i) => toBool(v, `${what}[${i}]`)) };
    case ValueType.UNIX_TIMESTAMP_LIST:
      return {
        kind: 'unix_timestamp_list',
        value: toList(input, what).map((v, i) => toSeconds(v, `${what}[${i}]`)),
      };
    case ValueType.NULL:
      return NULL_VALUE;
    case ValueType.UNKNOWN:
      if (typeof input === 'string') return { kind: 'string', value: input };
      if (typeof input === 'boolean') return { kind: 'bool', value: input };
      if (typeof input === 'bigint') return toFeastValue(ValueType.INT64, input, what);
      if (typeof input === 'number') {
        return Number.isInteger(input)
          ? { kind: 'int64', value: BigInt(input) }
          : { kind: 'double', value: input };
      }
      return fail(what, 'a string, number or boolean', input);
    default:
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `${what}: value type ${valueTypeName(valueType)} is not supported`,
      );
  }
}
