import 'reflect-metadata';
import { describe, expect, it } from '@jest/globals';
import { Controller, Get, Post } from '@nestjs/common';
import {
  FASTIFY_ROUTE_CONFIG_METADATA,
  FASTIFY_ROUTE_SCHEMA_METADATA,
} from '@nestjs/platform-fastify/constants.js';
import { z } from 'zod';
import { Deadline, Public, Schema, Scopes, requestJsonSchema } from './route-meta.js';

const configOf = (fn: unknown) =>
  Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, fn as object) as { regatta: object };
const schemaOf = (fn: unknown) =>
  Reflect.getMetadata(FASTIFY_ROUTE_SCHEMA_METADATA, fn as object) as Record<string, object>;

describe('route decorators', () => {
  it('combine on one method instead of replacing each other', () => {
    class Routes {
      @Post('x')
      @Scopes('predict')
      @Deadline(250)
      @Schema({ body: z.object({ a: z.number() }), summary: 'x' })
      x() {}
    }
    expect(configOf(Routes.prototype.x).regatta).toEqual({
      scopes: ['predict'],
      timeoutMs: 250,
      summary: 'x',
    });
    expect(schemaOf(Routes.prototype.x).body).toMatchObject({ type: 'object', additionalProperties: false });
  });

  it('apply a class setting to every route that does not set its own', () => {
    @Controller('c')
    @Scopes('admin')
    class Routes {
      @Get('a')
      a() {}
      @Get('b')
      @Scopes('chat')
      b() {}
      helper() {}
    }
    expect(configOf(Routes.prototype.a).regatta).toEqual({ scopes: ['admin'] });
    expect(configOf(Routes.prototype.b).regatta).toEqual({ scopes: ['chat'] });
    expect(configOf(Routes.prototype.helper)).toBeUndefined();
  });

  it('mark public routes', () => {
    class Routes {
      @Get('p')
      @Public()
      p() {}
    }
    expect(configOf(Routes.prototype.p).regatta).toEqual({ public: true });
  });

  it('refuse a deadline that is not a positive integer', () => {
    expect(() => Deadline(0)).toThrow('@Deadline');
    expect(() => Deadline(1.5)).toThrow('@Deadline');
  });
});

describe(requestJsonSchema.name, () => {
  it('closes every object that does not say otherwise', () => {
    const schema = requestJsonSchema(
      z.object({
        rows: z.array(z.object({ x: z.number() })),
        either: z.union([z.object({ a: z.string() }), z.object({ b: z.string() })]),
        open: z.looseObject({ y: z.number() }),
        map: z.record(z.string(), z.object({ z: z.number() })),
      }),
    ) as Record<string, Record<string, Record<string, unknown>>>;
    const props = schema.properties!;
    expect(schema.additionalProperties).toBe(false);
    expect((props.rows!.items as Record<string, unknown>).additionalProperties).toBe(false);
    for (const branch of props.either!.anyOf as Record<string, unknown>[])
      expect(branch.additionalProperties).toBe(false);
    expect(props.open!.additionalProperties).toEqual({});
    expect((props.map!.additionalProperties as Record<string, unknown>).additionalProperties).toBe(false);
  });

  it('closes an intersection of objects as one object that takes the properties of both', () => {
    const schema = requestJsonSchema(
      z.intersection(z.object({ a: z.string() }), z.object({ b: z.string() })),
    );
    expect(schema).toMatchObject({ additionalProperties: false, required: ['a', 'b'] });
  });
});
