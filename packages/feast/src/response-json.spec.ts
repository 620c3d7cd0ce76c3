import { describe, expect, it } from '@jest/globals';
import { type FeatureColumn, type GetOnlineFeaturesResponse } from './reader.js';
import { FLUSH_CHARS, encodeOnlineFeaturesResponse } from './response-json.js';
import { type JsonFeatureValue } from './value.js';

/** Text that needs escaping or more than one UTF-8 byte per character, beside plain ASCII. */
const AWKWARD = [
  'plain',
  'quote " and backslash \\',
  'tab\tnewline\ncontrol\u0001',
  'naïve café',
  'emoji 🚀 (a surrogate pair)',
  '日本語',
  'lone surrogate \ud800',
  '',
];

function response(rows: number, seed: number): GetOnlineFeaturesResponse {
  const values = (c: number, r: number): JsonFeatureValue => {
    const k = (c * 31 + r * 7 + seed) % 9;
    if (k === 0) return null;
    if (k === 1) return AWKWARD[(c + r) % AWKWARD.length]!;
    if (k === 2) return (r - 50) * 1.25e-7;
    if (k === 3) return r % 2 === 0;
    if (k === 4) return [r, -r, 0.5];
    if (k === 5) return [AWKWARD[r % AWKWARD.length]!, 'x'];
    if (k === 6) return String(2n ** 62n + BigInt(r));
    if (k === 7) return [1e21 * (r + 1), -0, Number.NaN, Number.POSITIVE_INFINITY];
    return r - c;
  };
  const names = Array.from({ length: 12 }, (_, c) => (c === 0 ? 'user_id' : `view__feature_${c} ✓`));
  const results: FeatureColumn[] = names.map((_, c) => ({
    values: Array.from({ length: rows }, (_, r) => values(c, r)),
    statuses: Array.from({ length: rows }, (_, r) =>
      r % 5 === 0 ? 'NOT_FOUND' : r % 7 === 0 ? 'OUTSIDE_MAX_AGE' : 'PRESENT',
    ),
    event_timestamps: Array.from({ length: rows }, (_, r) =>
      new Date(Date.UTC(2026, 10, 27, 0, 0, r)).toISOString().replace('.000Z', 'Z'),
    ),
  }));
  return { metadata: { feature_names: names }, results };
}

describe('encodeOnlineFeaturesResponse', () => {
  it.each([0, 1, 10, 100, 1000, 2000])(
    'gives the bytes of JSON.stringify at %i rows, escapes and multi-byte text included',
    (rows) => {
      for (const seed of [0, 1, 2]) {
        const r = response(rows, seed);
        const bytes = encodeOnlineFeaturesResponse(r);
        expect(Buffer.compare(bytes, Buffer.from(JSON.stringify(r)))).toBe(0);
        expect(JSON.parse(bytes.toString('utf8'))).toEqual(JSON.parse(JSON.stringify(r)));
      }
    },
  );

  it('grows its buffer past the first 64 KiB without losing bytes', () => {
    const r = response(4000, 3);
    const expected = Buffer.from(JSON.stringify(r));
    expect(expected.length).toBeGreaterThan(1024 * 1024);
    expect(Buffer.compare(encodeOnlineFeaturesResponse(r), expected)).toBe(0);
  });

  it('keeps the response keys in their order and leaves undefined members out, as JSON.stringify does', () => {
    const base = response(1000, 4);
    const reordered = {
      results: base.results,
      skipped: undefined,
      metadata: base.metadata,
    } as unknown as GetOnlineFeaturesResponse;
    const bytes = encodeOnlineFeaturesResponse(reordered);
    expect(bytes.toString('utf8')).toBe(JSON.stringify(reordered));
    expect(bytes.toString('utf8').startsWith('{"results":[')).toBe(true);
  });

  it('writes every kind of value as JSON.stringify does, odd columns through the generic path', () => {
    const holey: unknown[] = [1];
    holey[2] = 3;
    const odd = [
      {
        values: [undefined, Number.NaN, -0, 1e-7, true, false, null, { a: [1, 'é'] }, holey, () => 1],
        statuses: [
          'PRESENT',
          'SOMETHING_NEW',
          'NOT_FOUND',
          undefined,
          'PRESENT',
          'PRESENT',
          'NULL_VALUE',
          'PRESENT',
          'PRESENT',
          'PRESENT',
        ],
        event_timestamps: [
          '2026-01-01T00:00:00Z',
          '2026-01-01T00:00:00Z',
          'x"y',
          'x"y',
          'z',
          'z',
          'z',
          'z',
          'z',
          'z',
        ],
      },
      // Another key order, an extra key, a toJSON: JSON.stringify's own rules apply.
      { statuses: ['PRESENT'], values: [1], event_timestamps: ['t'] },
      { values: [1], statuses: ['PRESENT'], event_timestamps: ['t'], extra: 'kept' },
      { values: [1], statuses: ['PRESENT'], event_timestamps: ['t'], toJSON: () => ({ replaced: true }) },
      null,
    ];
    const r = {
      metadata: { feature_names: ['a', 'b', 'c', 'd', 'e'] },
      results: odd,
    } as unknown as GetOnlineFeaturesResponse;
    expect(encodeOnlineFeaturesResponse(r).toString('utf8')).toBe(JSON.stringify(r));
  });

  it('remembers the JSON of frozen metadata only, so metadata that can change is always written anew', () => {
    const base = response(3, 5);
    const frozen = Object.freeze({ feature_names: Object.freeze([...base.metadata.feature_names]) });
    const r = { metadata: frozen as GetOnlineFeaturesResponse['metadata'], results: base.results };
    expect(encodeOnlineFeaturesResponse(r).toString('utf8')).toBe(JSON.stringify(r));
    expect(encodeOnlineFeaturesResponse(r).toString('utf8')).toBe(JSON.stringify(r));

    // A mutable metadata object, or a frozen one around a mutable array, is written as it is now.
    const open = { feature_names: [...base.metadata.feature_names] };
    const shallow = Object.freeze({ feature_names: [...base.metadata.feature_names] });
    for (const metadata of [open, shallow]) {
      const m = { metadata, results: base.results };
      expect(encodeOnlineFeaturesResponse(m).toString('utf8')).toBe(JSON.stringify(m));
      metadata.feature_names[0] = 'renamed "id"';
      expect(encodeOnlineFeaturesResponse(m).toString('utf8')).toBe(JSON.stringify(m));
      expect(encodeOnlineFeaturesResponse(m).toString('utf8')).toContain('renamed \\"id\\"');
    }
  });

  it('quotes an event time shared across columns once and still writes each column its own', () => {
    const times = [
      '2026-11-27T00:00:00Z',
      '2026-11-27T00:00:00Z',
      'a "quoted" time',
      '\ud83d',
      '2026-11-27T00:00:00Z',
    ];
    const r = {
      metadata: { feature_names: times.map((_, c) => `f${c}`) },
      results: times.map((t, c) => ({
        values: [c, `v${c}`],
        statuses: ['PRESENT', 'PRESENT'],
        event_timestamps: c === 3 ? [t, undefined] : [t, t],
      })),
    } as unknown as GetOnlineFeaturesResponse;
    expect(encodeOnlineFeaturesResponse(r).toString('utf8')).toBe(JSON.stringify(r));
  });

  it('hands text over in pieces without splitting a multi-byte character', () => {
    // Columns of 3-byte characters and surrogate pairs, long enough for several pieces.
    const column = (ch: string): FeatureColumn => ({
      values: Array.from({ length: 1200 }, (_, r) => ch.repeat(1 + (r % 13))),
      statuses: Array.from({ length: 1200 }, () => 'PRESENT' as const),
      event_timestamps: Array.from({ length: 1200 }, () => '2026-11-27T00:00:00Z'),
    });
    const r: GetOnlineFeaturesResponse = {
      metadata: { feature_names: ['x', 'y', 'z'] },
      results: [column('日'), column('🚀'), column('a')],
    };
    const expected = Buffer.from(JSON.stringify(r));
    expect(expected.length).toBeGreaterThan(3 * FLUSH_CHARS);
    expect(Buffer.compare(encodeOnlineFeaturesResponse(r), expected)).toBe(0);
  });
});
