import { describe, expect, it } from '@jest/globals';
import { Ajv2020 } from 'ajv/dist/2020.js';
import { describeSchemaError, nonFinitePath } from './validation.js';

const ajv = new Ajv2020({ allErrors: false, strict: false });
const check = ajv.compile({
  type: 'object',
  additionalProperties: false,
  properties: {
    stop: {
      anyOf: [
        { type: 'string' },
        { type: 'array', items: { type: 'string' }, maxItems: 4 },
        { type: 'null' },
      ],
    },
    tool: {
      oneOf: [
        { type: 'integer' },
        { type: 'object', properties: { name: { type: 'string' } }, required: ['name'] },
      ],
    },
    nested: {
      anyOf: [
        { type: 'array', items: { anyOf: [{ type: 'number' }, { type: ['string', 'boolean'] }] } },
        { type: 'null' },
      ],
    },
    rows: { type: 'array', items: { type: 'number' } },
  },
});

function message(body: unknown): string {
  expect(check(body)).toBe(false);
  return describeSchemaError(check.errors!, 'body');
}

describe(describeSchemaError.name, () => {
  it('names the first problem outside unions as before', () => {
    expect(message({ rows: [1, 'x'] })).toBe('body.rows.1: must be number');
    expect(message({ what: 1 })).toBe('body: unknown property "what"');
  });

  it('says what is wrong inside the union branch whose type the value has', () => {
    expect(message({ stop: ['a', 'b', 'c', 'd', 'e'] })).toBe('body.stop: must NOT have more than 4 items');
    expect(message({ stop: ['a', 1] })).toBe('body.stop.1: must be string');
    expect(message({ tool: {} })).toBe('body.tool: missing required property "name"');
  });

  it('lists the types a union takes when the value has none of them', () => {
    expect(message({ stop: 5 })).toBe('body.stop: must be string, array or null');
    expect(message({ tool: 1.5 })).toBe('body.tool: must be integer or object');
  });

  it('goes into a union inside a union', () => {
    expect(message({ nested: [1, null] })).toBe('body.nested.1: must be number, string or boolean');
  });
});

describe(nonFinitePath.name, () => {
  it('finds an infinity by its path and nothing in finite bodies', () => {
    expect(nonFinitePath({ a: [1, { b: -Infinity }] })).toBe('body.a.1.b');
    expect(nonFinitePath({ a: [1, 'Infinity', null, { b: 2 }] })).toBeUndefined();
    expect(nonFinitePath(Infinity, 'query')).toBe('query');
  });
});
