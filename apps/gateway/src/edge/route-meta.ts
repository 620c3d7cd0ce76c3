import 'reflect-metadata';
import { PATH_METADATA } from '@nestjs/common/constants.js';
import {
  FASTIFY_ROUTE_CONFIG_METADATA,
  FASTIFY_ROUTE_SCHEMA_METADATA,
} from '@nestjs/platform-fastify/constants.js';
import { toJsonSchema } from '@regatta/contracts';
import { type FastifySchema } from 'fastify';
import { type z } from 'zod';
import { type Scope } from '../auth/scopes.js';

/** How the gateway's edge treats one route; set with the decorators below, read by the edge hooks. */
export interface RouteEdge {
  /** No API key needed (rate limits then do not apply either). */
  public?: boolean;
  /** Operational route (/health, /metrics...): public, never shed, no deadline. */
  system?: boolean;
  /** Scopes the caller's key must hold, all of them. */
  scopes?: Scope[];
  /** Budget of the route in ms; `X-Request-Timeout-Ms` may lower it, never raise it. */
  timeoutMs?: number;
  summary?: string;
  tags?: string[];
  /** JSON Schema of the success reply, for the OpenAPI document. */
  reply?: Record<string, unknown>;
  /** Status of the success reply in the OpenAPI document (default: 201 for POST, else 200). */
  status?: number;
  /** The route answers with a server-sent event stream. */
  stream?: boolean;
}

declare module 'fastify' {
  interface FastifyContextConfig {
    regatta?: RouteEdge;
  }
}

type RouteConfig = { regatta?: RouteEdge } & Record<string, unknown>;

// Nest copies every metadata key of a route method onto the handler it gives Fastify, and the
// Fastify adapter turns these two keys into the route's `config` and `schema`. Merging (rather
// than Nest's RouteConfig/RouteSchema, which replace) lets several decorators share them.
function patchEdge(handler: object, patch: RouteEdge, overwrite: boolean): void {
  const config = (Reflect.getMetadata(FASTIFY_ROUTE_CONFIG_METADATA, handler) ?? {}) as RouteConfig;
  const current = config.regatta ?? {};
  const regatta = overwrite ? { ...current, ...patch } : { ...patch, ...current };
  Reflect.defineMetadata(FASTIFY_ROUTE_CONFIG_METADATA, { ...config, regatta }, handler);
}

function patchSchema(handler: object, patch: FastifySchema): void {
  const schema = (Reflect.getMetadata(FASTIFY_ROUTE_SCHEMA_METADATA, handler) ?? {}) as FastifySchema;
  Reflect.defineMetadata(FASTIFY_ROUTE_SCHEMA_METADATA, { ...schema, ...patch }, handler);
}

/** A decorator that sets `patch` on one route method, or on every route of a controller that does not set it itself. */
function edgeDecorator(patch: RouteEdge): MethodDecorator & ClassDecorator {
  return ((target: object, _key?: string | symbol, descriptor?: PropertyDescriptor) => {
    if (descriptor?.value !== undefined) {
      patchEdge(descriptor.value as object, patch, true);
      return descriptor;
    }
    // Class decorators run after method decorators, so a method's own setting wins.
    const proto = (target as { prototype: Record<string, unknown> }).prototype;
    for (const name of Object.getOwnPropertyNames(proto)) {
      const method = proto[name];
      if (
        name !== 'constructor' &&
        typeof method === 'function' &&
        Reflect.hasMetadata(PATH_METADATA, method)
      )
        patchEdge(method, patch, false);
    }
    return undefined;
  }) as MethodDecorator & ClassDecorator;
}

/** The route (or every route of the controller) needs no API key. */
export const Public = (): MethodDecorator & ClassDecorator => edgeDecorator({ public: true });

/** An operational route: public, never shed, not rate limited, no deadline. */
export const SystemRoute = (): MethodDecorator & ClassDecorator => edgeDecorator({ system: true });

/** The caller's API key must hold every one of `scopes` (else 403). */
export const Scopes = (...scopes: Scope[]): MethodDecorator & ClassDecorator => edgeDecorator({ scopes });

/** The route's budget in ms (default ROUTE_TIMEOUT_MS); past it the caller gets 504 DEADLINE_EXCEEDED. */
export const Deadline = (ms: number): MethodDecorator & ClassDecorator => {
  if (!Number.isInteger(ms) || ms <= 0) throw new Error(`@Deadline needs a positive integer, got ${ms}`);
  return edgeDecorator({ timeoutMs: ms });
};

/** What {@link Schema} takes: zod schemas from the contracts, and words for the OpenAPI document. */
export interface RouteSchemaSpec {
  body?: z.ZodType;
  query?: z.ZodType;
  params?: z.ZodType;
  /** The success reply, documented (replies are not validated on the way out). */
  reply?: z.ZodType;
  status?: number;
  summary?: string;
  tags?: string[];
  stream?: boolean;
}

const cache = new WeakMap<z.ZodType, Record<string, unknown>>();

/**
 * JSON Schema of a contract schema for request validation: every object that does not say
 * otherwise rejects unknown properties, so a typo in a field name is an error, not a silently
 * ignored field.
 */
export function requestJsonSchema(schema: z.ZodType): Record<string, unknown> {
  let json = cache.get(schema);
  if (!json) {
    json = closeObjects(toJsonSchema(schema, 'input'));
    cache.set(schema, json);
  }
  return json;
}

/** JSON Schema of a reply, for documentation. */
export function replyJsonSchema(schema: z.ZodType): Record<string, unknown> {
  return toJsonSchema(schema, 'output');
}

const NESTED = ['items', 'not', 'contains', 'propertyNames', 'if', 'then', 'else'] as const;
const LISTS = ['anyOf', 'oneOf', 'prefixItems'] as const;

function closeObjects(node: unknown): Record<string, unknown> {
  if (typeof node !== 'object' || node === null || Array.isArray(node))
    return node as Record<string, unknown>;
  const out: Record<string, unknown> = { ...(node as Record<string, unknown>) };
  if (out.properties !== undefined && out.additionalProperties === undefined)
    out.additionalProperties = false;
  if (typeof out.properties === 'object' && out.properties !== null) {
    out.properties = Object.fromEntries(
      Object.entries(out.properties as Record<string, unknown>).map(([k, v]) => [k, closeObjects(v)]),
    );
  }
  for (const key of ['$defs', 'definitions'] as const) {
    if (typeof out[key] === 'object' && out[key] !== null)
      out[key] = Object.fromEntries(
        Object.entries(out[key] as Record<string, unknown>).map(([k, v]) => [k, closeObjects(v)]),
      );
  }
  for (const key of NESTED) if (out[key] !== undefined) out[key] = closeObjects(out[key]);
  for (const key of LISTS) if (Array.isArray(out[key])) out[key] = (out[key] as unknown[]).map(closeObjects);
  if (typeof out.additionalProperties === 'object')
    out.additionalProperties = closeObjects(out.additionalProperties);
  // allOf branches are left open: each closed branch would reject the properties of the others.
  return out;
}

/**
 * Validates the route's body, query string and path parameters against contract schemas (400
 * with the first problem, unknown properties included) and documents the route in /openapi.json.
 */
export function Schema(spec: RouteSchemaSpec): MethodDecorator {
  return (_target, _key, descriptor) => {
    const handler = descriptor.value as object;
    const schema: FastifySchema = {};
    if (spec.body) schema.body = requestJsonSchema(spec.body);
    if (spec.query) schema.querystring = requestJsonSchema(spec.query);
    if (spec.params) schema.params = requestJsonSchema(spec.params);
    patchSchema(handler, schema);
    patchEdge(
      handler,
      {
        ...(spec.reply && { reply: replyJsonSchema(spec.reply) }),
        ...(spec.status !== undefined && { status: spec.status }),
        ...(spec.summary !== undefined && { summary: spec.summary }),
        ...(spec.tags && { tags: spec.tags }),
        ...(spec.stream !== undefined && { stream: spec.stream }),
      },
      true,
    );
    return descriptor;
  };
}
