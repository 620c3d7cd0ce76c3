import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import {
  EntityKeySerializer,
  decodeEntityKeyProto,
  deserializeEntityKey,
  encodeEntityKeyProto,
  serializeEntityKey,
  toEntityKeyValue,
} from './entity-key.js';
import { EntityKeyMessage } from './proto/schema.js';
import { redisHashKey } from './redis-layout.js';
import { ValueType } from './value-type.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const int64 = (v: bigint) => ({ kind: 'int64' as const, value: v });
const str = (v: string) => ({ kind: 'string' as const, value: v });

describe('serializeEntityKey', () => {
  it('matches Feast for driver_id=1001 (int64), v3', () => {
    expect(hex(serializeEntityKey(['driver_id'], [int64(1001n)], 3))).toBe(
      '0100000002000000090000006472697665725f69640400000008000000e903000000000000',
    );
  });

  it('matches Feast for driver_id=1001 (int64), v2', () => {
    expect(hex(serializeEntityKey(['driver_id'], [int64(1001n)], 2))).toBe(
      '020000006472697665725f69640400000008000000e903000000000000',
    );
  });

  it('matches Feast for driver_id="1001" (string), v3', () => {
    expect(hex(serializeEntityKey(['driver_id'], [str('1001')], 3))).toBe(
      '0100000002000000090000006472697665725f6964020000000400000031303031',
    );
  });

  it('packs int64 into 4 bytes in v1', () => {
    expect(hex(serializeEntityKey(['driver_id'], [int64(1001n)], 1))).toBe(
      '020000006472697665725f69640400000004000000e9030000',
    );
  });

  it('defaults to version 3', () => {
    expect(serializeEntityKey(['driver_id'], [int64(1001n)])).toEqual(
      serializeEntityKey(['driver_id'], [int64(1001n)], 3),
    );
  });

  it('sorts by join-key name and writes all names before all values', () => {
    const key = serializeEntityKey(['zeta', 'alpha'], [str('z'), int64(-2n)], 3);
    expect(hex(key)).toBe(
      '02000000' +
        '02000000' +
        '05000000' +
        Buffer.from('alpha').toString('hex') +
        '02000000' +
        '04000000' +
        Buffer.from('zeta').toString('hex') +
        '04000000' +
        '08000000' +
        'feffffffffffffff' +
        '02000000' +
        '01000000' +
        '7a',
    );
    expect(key).toEqual(serializeEntityKey(['alpha', 'zeta'], [int64(-2n), str('z')], 3));
  });

  it('encodes int32, bytes and unix timestamps with their type tags', () => {
    const key = serializeEntityKey(
      ['a', 'b', 'c'],
      [
        { kind: 'int32', value: -1 },
        { kind: 'bytes', value: Uint8Array.of(1, 2) },
        { kind: 'unix_timestamp', value: 1640991600n },
      ],
    );
    const name = (n: string) => '02000000' + '01000000' + Buffer.from(n).toString('hex');
    expect(hex(key)).toBe(
      '03000000' +
        name('a') +
        name('b') +
        name('c') +
        '03000000' +
        '04000000' +
        'ffffffff' +
        '01000000' +
        '02000000' +
        '0102' +
        '08000000' +
        '08000000' +
        '708bcf6100000000',
    );
  });

  it('rejects values that cannot be part of an entity key', () => {
    expect(() => serializeEntityKey(['x'], [{ kind: 'double', value: 1.5 }])).toThrow(/join key x/);
  });
});

describe(EntityKeySerializer.name, () => {
  it('writes key after key what serializeEntityKey writes, multi-byte names and values included', () => {
    const serializer = new EntityKeySerializer(['zone', 'müller_id'], 3);
    for (const values of [
      [str('ü1'), int64(7n)],
      [str(''), int64(-1n)],
      [str('a longer zone name'), int64(2n ** 40n)],
    ]) {
      expect(hex(serializer.serialize(values))).toBe(
        hex(serializeEntityKey(['zone', 'müller_id'], values, 3)),
      );
      expect(deserializeEntityKey(serializer.serialize(values))).toEqual({
        joinKeys: ['müller_id', 'zone'],
        values: [values[1], values[0]],
      });
    }
    const v2 = new EntityKeySerializer(['driver_id'], 2);
    expect(hex(v2.serialize([int64(1001n)]))).toBe(hex(serializeEntityKey(['driver_id'], [int64(1001n)], 2)));
  });
});

describe('deserializeEntityKey', () => {
  it('reads back what v3 serialization wrote', () => {
    const key = serializeEntityKey(['b', 'a'], [str('c1'), int64(42n)], 3);
    expect(deserializeEntityKey(key)).toEqual({ joinKeys: ['a', 'b'], values: [int64(42n), str('c1')] });
  });

  it('rejects truncated input', () => {
    const key = serializeEntityKey(['a'], [str('c1')], 3);
    expect(() => deserializeEntityKey(key.subarray(0, key.length - 1))).toThrow(RegattaError);
  });
});

describe('redisHashKey', () => {
  it('matches Feast for driver_id=1001, v3, project my_project', () => {
    expect(hex(redisHashKey(serializeEntityKey(['driver_id'], [int64(1001n)], 3), 'my_project'))).toBe(
      '0100000002000000090000006472697665725f69640400000008000000e9030000000000006d795f70726f6a656374',
    );
  });
});

describe('toEntityKeyValue', () => {
  it('accepts integers and integer strings for INT64', () => {
    expect(toEntityKeyValue('driver_id', ValueType.INT64, 1001)).toEqual(int64(1001n));
    expect(toEntityKeyValue('driver_id', ValueType.INT64, '9223372036854775807')).toEqual(
      int64(9223372036854775807n),
    );
  });

  it('names the join key when a string for INT64 is not an integer', () => {
    const err = captureError(() => toEntityKeyValue('driver_id', ValueType.INT64, 'abc'));
    expect(err.code).toBe('INVALID_ARGUMENT');
    expect(err.message).toContain('driver_id');
    expect(err.details).toEqual({ join_key: 'driver_id' });
  });

  it('rejects numbers for STRING keys, nulls, and out-of-range integers', () => {
    expect(() => toEntityKeyValue('customer_id', ValueType.STRING, 1001)).toThrow(
      /customer_id: expected a string/,
    );
    expect(() => toEntityKeyValue('customer_id', ValueType.STRING, null)).toThrow(/must not be null/);
    expect(() => toEntityKeyValue('n', ValueType.INT32, 2 ** 31)).toThrow(/32-bit/);
    expect(() => toEntityKeyValue('n', ValueType.INT64, 1.5)).toThrow(/64-bit/);
  });

  it('refuses join keys of types Feast cannot serialize', () => {
    expect(() => toEntityKeyValue('score', ValueType.DOUBLE, 1.5)).toThrow(/cannot be serialized/);
  });

  it('follows the input for entities declared without a type', () => {
    expect(toEntityKeyValue('id', ValueType.UNKNOWN, 'c1')).toEqual(str('c1'));
    expect(toEntityKeyValue('id', ValueType.UNKNOWN, 7)).toEqual(int64(7n));
  });
});

describe('encodeEntityKeyProto', () => {
  it('writes the same bytes as the EntityKey message definition and reads them back', () => {
    const bytes = encodeEntityKeyProto(['driver_id', 'name'], [int64(1001n), str('x')]);
    const viaSchema = EntityKeyMessage.encode({
      joinKeys: ['driver_id', 'name'],
      entityValues: [{ int64Val: '1001' }, { stringVal: 'x' }],
    }).finish();
    expect(hex(bytes)).toBe(hex(viaSchema));
    expect(decodeEntityKeyProto(bytes)).toEqual({
      joinKeys: ['driver_id', 'name'],
      values: [int64(1001n), str('x')],
    });
  });
});

function captureError(fn: () => unknown): RegattaError {
  try {
    fn();
  } catch (err) {
    if (err instanceof RegattaError) return err;
    throw err;
  }
  throw new Error('expected an error');
}
