import { describe, expect, it } from '@jest/globals';
import {
  decodeDuration,
  decodeTimestamp,
  encodeDuration,
  encodeTimestamp,
  formatRfc3339,
  parseDateTime,
  toEpochMs,
} from './time.js';

describe('encodeTimestamp', () => {
  it('matches Feast for 1640991600 s', () => {
    expect(Buffer.from(encodeTimestamp(1640991600_000)).toString('hex')).toBe('08f096be8e06');
  });

  it('round-trips milliseconds through nanos', () => {
    expect(decodeTimestamp(encodeTimestamp(1640991600_123))).toBe(1640991600_123);
    expect(decodeTimestamp(encodeTimestamp(0))).toBe(0);
  });
});

describe('decodeTimestamp', () => {
  it('reads seconds and nanos as the protobuf decoder does, before 1970 and with unknown fields too', () => {
    expect(decodeTimestamp(encodeTimestamp(-1500))).toBe(-1500);
    expect(decodeTimestamp(encodeTimestamp(-86_400_000))).toBe(-86_400_000);
    expect(decodeTimestamp(encodeTimestamp(253402300799_999))).toBe(253402300799_999);
    expect(decodeTimestamp(new Uint8Array(0))).toBe(0);
    // nanos before seconds, and an unknown varint field 3.
    expect(decodeTimestamp(Buffer.from('1080dac4091801' + '08f096be8e06', 'hex'))).toBe(1640991600_020);
  });

  it('rejects a truncated message', () => {
    expect(() => decodeTimestamp(Buffer.from('08f096', 'hex'))).toThrow();
  });
});

describe('encodeDuration', () => {
  it('writes whole seconds and reads them back', () => {
    expect(Buffer.from(encodeDuration(172800)).toString('hex')).toBe('0880c60a');
    expect(decodeDuration(encodeDuration(172800))).toBe(172800);
    expect(encodeDuration(0)).toHaveLength(0);
  });
});

describe('formatRfc3339', () => {
  it('prints whole seconds without a fraction and Z for UTC', () => {
    expect(formatRfc3339(1640991600_000)).toBe('2021-12-31T23:00:00Z');
    expect(formatRfc3339(0)).toBe('1970-01-01T00:00:00Z');
    expect(formatRfc3339(1640991600_250)).toBe('2021-12-31T23:00:00.250Z');
  });

  it('gives the same text for an instant seen before, and stays right past its cache bound', () => {
    const base = Date.UTC(2026, 10, 27);
    // More distinct instants than the cache holds, each asked for twice, then the first ones again.
    for (let i = 0; i < 10_000; i++) {
      const expected = new Date(base + i * 1001).toISOString().replace('.000Z', 'Z');
      expect(formatRfc3339(base + i * 1001)).toBe(expected);
      expect(formatRfc3339(base + i * 1001)).toBe(expected);
    }
    expect(formatRfc3339(base)).toBe('2026-11-27T00:00:00Z');
    expect(formatRfc3339(base + 1001)).toBe('2026-11-27T00:00:01.001Z');
    expect(() => formatRfc3339(Number.NaN)).toThrow(RangeError);
  });
});

describe('parseDateTime', () => {
  it('reads RFC 3339, Python isoformat with a space, zones and long fractions', () => {
    expect(parseDateTime('2021-12-31T23:00:00Z')).toBe(1640991600_000);
    expect(parseDateTime('2021-12-31 23:00:00')).toBe(1640991600_000);
    expect(parseDateTime('2021-12-31 23:00:00.123456+00:00')).toBe(1640991600_123);
    expect(parseDateTime('2022-01-01T01:00:00+02:00')).toBe(1640991600_000);
    expect(parseDateTime('2021-12-31')).toBe(Date.UTC(2021, 11, 31));
    expect(parseDateTime('yesterday')).toBeUndefined();
  });
});

describe('toEpochMs', () => {
  it('reads epoch numbers by magnitude', () => {
    expect(toEpochMs(1640991600, 't')).toBe(1640991600_000);
    expect(toEpochMs(1640991600_000, 't')).toBe(1640991600_000);
    expect(toEpochMs(1640991600_000_000, 't')).toBe(1640991600_000);
    expect(toEpochMs(1640991600_000_000_000, 't')).toBe(1640991600_000);
    expect(toEpochMs('1640991600', 't')).toBe(1640991600_000);
  });

  it('names the column for text that is no timestamp', () => {
    expect(() => toEpochMs('soon', 'event_timestamp')).toThrow(
      'event_timestamp: expected a timestamp, got "soon"',
    );
  });
});
