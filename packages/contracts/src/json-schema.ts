import { z } from 'zod';

/** JSON Schema (draft 2020-12) of a contract schema, for OpenAPI documents and Fastify/ajv validation. */
export function toJsonSchema(schema: z.ZodType, io: 'input' | 'output' = 'input'): Record<string, unknown> {
  return z.toJSONSchema(schema, { io, unrepresentable: 'any' });
}
