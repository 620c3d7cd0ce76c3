import { describe, expect, it } from '@jest/globals';
import murmur from 'murmurhash3js-revisited';
import { murmurHash3x86, redisFeatureField, redisTimestampField } from './redis-layout.js';

describe('redisFeatureField', () => {
  it('matches Feast for driver_hourly_stats:conv_rate', () => {
    expect(redisFeatureField('driver_hourly_stats', 'conv_rate').toString('hex')).toBe('6160e3da');
  });

  it('matches Feast for driver_hourly_stats:acc_rate', () => {
    expect(redisFeatureField('driver_hourly_stats', 'acc_rate').toString('hex')).toBe('fa5e58ad');
  });
});

describe('redisTimestampField', () => {
  it('is the ASCII text _ts:<view>', () => {
    expect(redisTimestampField('driver_hourly_stats').toString('latin1')).toBe('_ts:driver_hourly_stats');
  });
});

describe('murmurHash3x86', () => {
  it('agrees with an independent implementation on every tail length, non-ASCII text and seeds', () => {
    const inputs = ['', 'a', 'ab', 'abc', 'abcd', 'abcde', 'kundenstatistik:größe', '顧客:特徴量', '🚀:x'];
    for (const text of inputs) {
      const bytes = Buffer.from(text, 'utf8');
      expect(murmurHash3x86(bytes)).toBe(murmur.x86.hash32(bytes, 0));
      expect(murmurHash3x86(bytes, 42)).toBe(murmur.x86.hash32(bytes, 42));
    }
  });

  it('hashes the UTF-8 bytes, not UTF-16 code units', () => {
    const field = redisFeatureField('größe', 'ä');
    const expected = Buffer.alloc(4);
    expected.writeUInt32LE(murmur.x86.hash32(Buffer.from('größe:ä', 'utf8'), 0), 0);
    expect(field).toEqual(expected);
  });
});
