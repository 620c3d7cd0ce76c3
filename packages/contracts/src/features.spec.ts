import { describe, expect, it } from '@jest/globals';
import { GetFeaturesReply, GetFeaturesRequest } from './features.js';
import { toJsonSchema } from './json-schema.js';
import { describeIssues } from './validation.js';

function problems(value: unknown): string {
  const result = GetFeaturesRequest.safeParse(value);
  if (result.success) throw new Error('expected the request to be refused');
  return describeIssues(result.error);
}

describe('GetFeaturesRequest', () => {
  it('takes refs or a feature service with entity columns, full_feature_names false unless given', () => {
    expect(
      GetFeaturesRequest.parse({ feature_service: 'fs', entities: { id: ['a', 1, true, null] } }),
    ).toEqual({
      feature_service: 'fs',
      entities: { id: ['a', 1, true, null] },
      full_feature_names: false,
    });
    expect(
      GetFeaturesRequest.parse({
        features: ['v:f'],
        entities: { id: [1], other: [2] },
        full_feature_names: true,
      }),
    ).toEqual({ features: ['v:f'], entities: { id: [1], other: [2] }, full_feature_names: true });
    // Not plain JSON (an explicit undefined), still a valid request.
    expect(
      GetFeaturesRequest.parse({ feature_service: 'fs', features: undefined, entities: { id: ['a'] } }),
    ).toMatchObject({ feature_service: 'fs', entities: { id: ['a'] }, full_feature_names: false });
  });

  it('names every problem of a bad request by its path', () => {
    expect(problems({ features: ['v:f'], feature_service: 'fs', entities: { id: [1] } })).toBe(
      'give exactly one of features or feature_service',
    );
    expect(problems({ feature_service: 'fs', entities: { a: [], b: [{}] } })).toBe(
      'entities.a: Too small: expected array to have >=1 items; entities.b.0: Invalid input',
    );
    expect(problems({ feature_service: 'fs', entities: { a: [1], b: [1, 2] } })).toBe(
      'every entity column must have the same number of rows',
    );
    expect(problems({ feature_service: 'fs', entities: {} })).toBe(
      'entities must name at least one join key',
    );
    expect(problems({ features: [''], entities: { id: [1] } })).toMatch(/^features\.0: Too small/);
    expect(problems({ feature_service: 'fs', entities: { id: [1] }, extra: 1 })).toMatch(/extra/);
    expect(problems({ feature_service: 'fs', entities: { id: Array<number>(1001).fill(1) } })).toMatch(
      /^entities\.id: Too big/,
    );
    expect(problems('fs')).toMatch(/expected object/);
  });

  it('is documented as Feast request JSON', () => {
    expect(toJsonSchema(GetFeaturesRequest)).toMatchObject({
      type: 'object',
      properties: {
        features: { type: 'array', minItems: 1, maxItems: 1000, items: { type: 'string', minLength: 1 } },
        feature_service: { type: 'string', minLength: 1 },
        entities: {
          type: 'object',
          additionalProperties: {
            type: 'array',
            minItems: 1,
            maxItems: 1000,
            items: { type: ['string', 'number', 'boolean', 'null'] },
          },
        },
        full_feature_names: { type: 'boolean', default: false },
      },
      required: ['entities'],
      additionalProperties: false,
    });
  });
});

describe('GetFeaturesReply', () => {
  const reply = {
    metadata: { feature_names: ['customer_id', 'tags'] },
    results: [
      { values: ['c1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
      { values: [['vip']], statuses: ['OUTSIDE_MAX_AGE'], event_timestamps: ['2021-12-31T23:00:00Z'] },
    ],
  };

  it('accepts Feast column-major replies', () => {
    expect(GetFeaturesReply.parse(reply)).toEqual(reply);
  });

  it('refuses columns with an unknown status, a timestamp that is no string or values that are no list', () => {
    const column = (change: Record<string, unknown>) => ({
      ...reply,
      results: [reply.results[0], { ...reply.results[1], ...change }],
    });
    for (const bad of [
      column({ statuses: ['PRESENT', 'FRESH'] }),
      column({ event_timestamps: [0] }),
      column({ values: 'vip' }),
      column({ statuses: undefined }),
      { ...reply, metadata: { feature_names: [1] } },
    ]) {
      expect(GetFeaturesReply.safeParse(bad).success).toBe(false);
    }
    const refused = GetFeaturesReply.safeParse(column({ statuses: ['FRESH'] }));
    expect(refused.success || describeIssues(refused.error)).toMatch(
      /^results\.1\.statuses\.0: Invalid option: expected one of "INVALID"\|"PRESENT"/,
    );
    // Keys the reply does not define are dropped, as the schema always did.
    expect(GetFeaturesReply.parse({ ...reply, extra: 1 })).toEqual(reply);
  });

  it('is documented as Feast reply JSON', () => {
    expect(toJsonSchema(GetFeaturesReply, 'output')).toMatchObject({
      properties: {
        results: {
          type: 'array',
          items: {
            properties: {
              values: { type: 'array', items: {} },
              statuses: {
                type: 'array',
                items: { type: 'string', enum: expect.arrayContaining(['PRESENT']) },
              },
              event_timestamps: { type: 'array', items: { type: 'string' } },
            },
            required: ['values', 'statuses', 'event_timestamps'],
          },
        },
      },
    });
  });
});
