import { describe, expect, it } from '@jest/globals';
import { ValueMessage } from './proto/schema.js';
import {
  decodeValue,
  decodeValueJson,
  encodeValue,
  toFeastValue,
  valueToJson,
  type FeastValue,
} from './value.js';
import { ValueType } from './value-type.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const fromHex = (h: string) => Buffer.from(h, 'hex');

describe('encodeValue', () => {
  it('matches Feast for float 0.9273980259895325', () => {
    expect(hex(encodeValue({ kind: 'float', value: 0.9273980259895325 }))).toBe('35f5696d3f');
  });

  it('matches Feast for int64 308', () => {
    expect(hex(encodeValue({ kind: 'int64', value: 308n }))).toBe('20b402');
  });

  it('matches Feast for string "abc"', () => {
    expect(hex(encodeValue({ kind: 'string', value: 'abc' }))).toBe('1203616263');
  });

  it('writes null as zero bytes', () => {
    expect(encodeValue({ kind: 'null' })).toHaveLength(0);
  });

  it('keeps zero and empty values on the wire (oneof members have presence)', () => {
    expect(hex(encodeValue({ kind: 'int64', value: 0n }))).toBe('2000');
    expect(hex(encodeValue({ kind: 'string', value: '' }))).toBe('1200');
    expect(hex(encodeValue({ kind: 'bool', value: false }))).toBe('3800');
    expect(hex(encodeValue({ kind: 'int64_list', value: [] }))).toBe('7200');
  });

  it('packs numeric lists', () => {
    expect(hex(encodeValue({ kind: 'int64_list', value: [1n, 2n, 300n] }))).toBe('72060a040102ac02');
  });
});

const SAMPLES: [FeastValue, unknown][] = [
  [{ kind: 'null' }, null],
  [{ kind: 'bytes', value: Uint8Array.of(0, 1, 254, 255) }, 'AAH+/w=='],
  [{ kind: 'string', value: 'grüße 🚀' }, 'grüße 🚀'],
  [{ kind: 'int32', value: -5 }, -5],
  [{ kind: 'int32', value: 2147483647 }, 2147483647],
  [{ kind: 'int64', value: 308n }, 308],
  [{ kind: 'int64', value: -1n }, -1],
  [{ kind: 'int64', value: 9007199254740991n }, 9007199254740991],
  [{ kind: 'int64', value: -9007199254740991n }, -9007199254740991],
  [{ kind: 'int64', value: 9223372036854775807n }, '9223372036854775807'],
  [{ kind: 'int64', value: -9223372036854775808n }, '-9223372036854775808'],
  [{ kind: 'double', value: 0.1 }, 0.1],
  [{ kind: 'double', value: -1e300 }, -1e300],
  [{ kind: 'float', value: Math.fround(0.9273980259895325) }, 0.9273980259895325],
  [{ kind: 'bool', value: true }, true],
  [{ kind: 'bool', value: false }, false],
  [{ kind: 'unix_timestamp', value: 1640991600n }, '2021-12-31T23:00:00Z'],
  [{ kind: 'bytes_list', value: [Uint8Array.of(1), Uint8Array.of()] }, ['AQ==', '']],
  [{ kind: 'string_list', value: ['a', '', 'ü'] }, ['a', '', 'ü']],
  [{ kind: 'int32_list', value: [1, -1, 0] }, [1, -1, 0]],
  [{ kind: 'int64_list', value: [1n, -2n, 2n ** 62n] }, [1, -2, '4611686018427387904']],
  [{ kind: 'double_list', value: [1.5, -0.25] }, [1.5, -0.25]],
  [{ kind: 'float_list', value: [Math.fround(0.1), 2] }, [Math.fround(0.1), 2]],
  [{ kind: 'bool_list', value: [true, false] }, [true, false]],
  [
    { kind: 'unix_timestamp_list', value: [0n, 1640991600n] },
    ['1970-01-01T00:00:00Z', '2021-12-31T23:00:00Z'],
  ],
  [{ kind: 'string_list', value: [] }, []],
];

describe('decodeValue', () => {
  it('reads back every kind encodeValue wrote', () => {
    for (const [value] of SAMPLES) {
      const back = decodeValue(encodeValue(value));
      expect(valueToJson(back)).toEqual(valueToJson(value));
      expect(back.kind).toBe(value.kind);
    }
  });

  it('reads null_val as null', () => {
    expect(decodeValue(ValueMessage.encode({ nullVal: 0 }).finish())).toEqual({ kind: 'null' });
  });
});

describe('decodeValueJson', () => {
  it('gives the JSON of Feast HTTP server for every kind', () => {
    for (const [value, json] of SAMPLES) {
      expect(decodeValueJson(encodeValue(value))).toEqual(json);
    }
  });

  it('decodes the reference vectors', () => {
    expect(decodeValueJson(fromHex('35f5696d3f'))).toBe(0.9273980259895325);
    expect(decodeValueJson(fromHex('20b402'))).toBe(308);
    expect(decodeValueJson(fromHex('1203616263'))).toBe('abc');
  });

  it('accepts unpacked numeric lists and null_val', () => {
    // int64_list_val { val: 1, val: 2 } written element by element
    expect(decodeValueJson(fromHex('720408010802'))).toEqual([1, 2]);
    expect(decodeValueJson(fromHex('980100'))).toBeNull();
  });

  it('skips unknown fields', () => {
    // field 40 (varint) before string_val "a"
    expect(decodeValueJson(fromHex('c00201' + '120161'))).toBe('a');
  });

  it('reports truncated values as INTERNAL errors', () => {
    expect(() => decodeValueJson(fromHex('1205616263'))).toThrow(/not a valid feast.types.Value/);
    expect(() => decodeValueJson(fromHex('20ff'))).toThrow(/not a valid/);
  });
});

describe('toFeastValue', () => {
  it('converts JSON and CSV text to the declared type', () => {
    expect(toFeastValue(ValueType.INT64, '42', 'x')).toEqual({ kind: 'int64', value: 42n });
    expect(toFeastValue(ValueType.INT64, 42, 'x')).toEqual({ kind: 'int64', value: 42n });
    expect(toFeastValue(ValueType.DOUBLE, '0.5', 'x')).toEqual({ kind: 'double', value: 0.5 });
    expect(toFeastValue(ValueType.FLOAT, 2, 'x')).toEqual({ kind: 'float', value: 2 });
    expect(toFeastValue(ValueType.BOOL, 'true', 'x')).toEqual({ kind: 'bool', value: true });
    expect(toFeastValue(ValueType.BYTES, 'AQI=', 'x')).toEqual({ kind: 'bytes', value: Buffer.from([1, 2]) });
    expect(toFeastValue(ValueType.UNIX_TIMESTAMP, '2021-12-31T23:00:00Z', 'x')).toEqual({
      kind: 'unix_timestamp',
      value: 1640991600n,
    });
    expect(toFeastValue(ValueType.UNIX_TIMESTAMP, 1640991600, 'x')).toEqual({
      kind: 'unix_timestamp',
      value: 1640991600n,
    });
    expect(toFeastValue(ValueType.INT64_LIST, '[1, 2]', 'x')).toEqual({
      kind: 'int64_list',
      value: [1n, 2n],
    });
    expect(toFeastValue(ValueType.STRING_LIST, ['a'], 'x')).toEqual({ kind: 'string_list', value: ['a'] });
    expect(toFeastValue(ValueType.DOUBLE, null, 'x')).toEqual({ kind: 'null' });
  });

  it('names the column and says what was expected when the input does not fit', () => {
    expect(() => toFeastValue(ValueType.INT64, '4.5', 'txn_count_1h')).toThrow(
      'txn_count_1h: expected a 64-bit integer, got "4.5"',
    );
    expect(() => toFeastValue(ValueType.DOUBLE, 'abc', 'avg_amount_30d')).toThrow(
      /avg_amount_30d: expected a number/,
    );
    expect(() => toFeastValue(ValueType.INT64_LIST, [1, 'x'], 'l')).toThrow(/l\[1\]/);
    expect(() => toFeastValue(ValueType.STRING, 5, 's')).toThrow(/expected a string/);
    expect(() => toFeastValue(ValueType.BOOL, 'maybe', 'b')).toThrow(/expected a boolean/);
  });
});
