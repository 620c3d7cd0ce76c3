import { z } from 'zod';

/**
 * What an API key may do. `admin` manages the keys of the key's own tenant; `admin:all` manages
 * the keys of every tenant (the bootstrap key has it).
 */
export const SCOPES = [
  'decisions:write',
  'decisions:read',
  'predict',
  'features:read',
  'chat',
  'admin',
  'admin:all',
] as const;
export const Scope = z.enum(SCOPES);
export type Scope = z.infer<typeof Scope>;

/** A tenant id: lower-case letters, digits, `-` and `_`, starting with a letter or digit. */
export const TenantId = z
  .string()
  .regex(/^[a-z0-9][a-z0-9_-]{0,62}$/, 'a tenant is 1-63 lower-case letters, digits, - or _');

/** The tenant of the bootstrap admin key and of keys created without one. */
export const DEFAULT_TENANT = 'default';

/** Who is calling: the API key that authenticated the request. */
export interface Principal {
  /** Public id of the key (`key_…`), or `bootstrap` for REGATTA_ADMIN_KEY. */
  readonly keyId: string;
  readonly tenant: string;
  readonly scopes: ReadonlySet<Scope>;
  /** Per-key rate limit, when the key overrides the gateway's default. */
  readonly ratePerS?: number | undefined;
  readonly burst?: number | undefined;
}

/** True when `principal` holds every scope in `required`. */
export function hasScopes(principal: Principal, required: readonly Scope[]): boolean {
  return required.every((s) => principal.scopes.has(s));
}
