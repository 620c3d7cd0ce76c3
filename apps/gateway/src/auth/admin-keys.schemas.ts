import { z } from 'zod';
import { SCOPES, Scope, TenantId } from './scopes.js';

/** POST /v1/admin/keys */
export const CreateKeyRequest = z.object({
  /** Tenant of the new key; default the caller's. Another tenant needs `admin:all`. */
  tenant: TenantId.optional(),
  scopes: z.array(Scope).min(1).max(SCOPES.length),
  name: z.string().max(100).default(''),
  rate_per_s: z.number().positive().max(1_000_000).optional(),
  burst: z.number().int().min(1).max(1_000_000).optional(),
});
export type CreateKeyRequest = z.infer<typeof CreateKeyRequest>;

/** An API key as listed (never the key itself). */
export const ApiKeyView = z.object({
  id: z.string(),
  prefix: z.string(),
  tenant: z.string(),
  scopes: z.array(Scope),
  name: z.string(),
  rate_per_s: z.number().nullable(),
  burst: z.number().int().nullable(),
  created_at: z.string(),
  revoked_at: z.string().nullable(),
});
export type ApiKeyView = z.infer<typeof ApiKeyView>;

/** The reply of POST /v1/admin/keys: the only time the key itself is shown. */
export const CreatedKey = ApiKeyView.extend({ key: z.string() });
export type CreatedKey = z.infer<typeof CreatedKey>;

export const KeyList = z.object({ keys: z.array(ApiKeyView) });
export type KeyList = z.infer<typeof KeyList>;

/** GET /v1/admin/keys query. */
export const ListKeysQuery = z.object({
  /** Another tenant's keys need `admin:all`; without it, the caller's tenant. */
  tenant: TenantId.optional(),
  include_revoked: z.boolean().default(false),
});
export type ListKeysQuery = z.infer<typeof ListKeysQuery>;

export const KeyIdParams = z.object({ id: z.string().min(1).max(64) });
