import { RegattaError } from '@regatta/contracts';
import { type ApiKeyView, type CreateKeyRequest, type CreatedKey } from './admin-keys.schemas.js';
import { keyPrefix, newApiKey } from './api-key.js';
import { type ApiKeyAuthenticator } from './authenticator.js';
import { type ApiKeyRecord, type ApiKeyStore } from './key-store.js';
import { type Principal, type Scope } from './scopes.js';

/** A stored key as the API shows it. */
export function viewOf(record: ApiKeyRecord): ApiKeyView {
  return {
    id: record.id,
    prefix: record.prefix,
    tenant: record.tenant,
    scopes: record.scopes,
    name: record.name,
    rate_per_s: record.ratePerS,
    burst: record.burst,
    created_at: record.createdAt,
    revoked_at: record.revokedAt,
  };
}

/**
 * Managing API keys, for the admin routes and the CLI. An `admin` key manages its own tenant's
 * keys and can only grant scopes it holds itself; `admin:all` reaches every tenant. A key of
 * another tenant is NOT_FOUND to a caller without `admin:all`, exactly like a missing one.
 */
export class ApiKeyAdmin {
  constructor(
    private readonly store: ApiKeyStore,
    private readonly authenticator: Pick<ApiKeyAuthenticator, 'hash' | 'forget'>,
    /** Tells the other gateway processes to forget a revoked key now; must not throw. */
    private readonly announceRevocation: (keyId: string) => Promise<void> = () => Promise.resolve(),
  ) {}

  async create(actor: Principal, req: CreateKeyRequest): Promise<CreatedKey> {
    const tenant = req.tenant ?? actor.tenant;
    if (tenant !== actor.tenant && !actor.scopes.has('admin:all'))
      throw new RegattaError(
        'PERMISSION_DENIED',
        `creating keys for tenant "${tenant}" needs the scope admin:all`,
      );
    const ungrantable = req.scopes.filter((s) => !actor.scopes.has(s));
    if (ungrantable.length > 0)
      throw new RegattaError(
        'PERMISSION_DENIED',
        `cannot grant scopes this key does not hold: ${ungrantable.join(', ')}`,
      );
    const { id, key } = newApiKey();
    const record = await this.store.insert({
      id,
      hash: this.authenticator.hash(key),
      prefix: keyPrefix(key),
      tenant,
      scopes: [...new Set<Scope>(req.scopes)],
      name: req.name ?? '',
      ratePerS: req.rate_per_s ?? null,
      burst: req.burst ?? null,
    });
    return { ...viewOf(record), key };
  }

  async list(
    actor: Principal,
    query: { tenant?: string | undefined; includeRevoked?: boolean },
  ): Promise<ApiKeyView[]> {
    const all = actor.scopes.has('admin:all');
    if (query.tenant !== undefined && query.tenant !== actor.tenant && !all)
      throw new RegattaError(
        'PERMISSION_DENIED',
        `listing keys of tenant "${query.tenant}" needs the scope admin:all`,
      );
    const tenant = query.tenant ?? (all ? undefined : actor.tenant);
    const records = await this.store.list({ tenant, includeRevoked: query.includeRevoked ?? false });
    return records.map(viewOf);
  }

  async get(actor: Principal, id: string): Promise<ApiKeyView> {
    return viewOf(await this.visible(actor, id));
  }

  /**
   * Revokes a key. This process stops accepting it at once and the other gateway processes as soon as they
   * hear the announcement; one that misses it follows within API_KEY_CACHE_TTL_MS.
   */
  async revoke(actor: Principal, id: string): Promise<ApiKeyView> {
    await this.visible(actor, id);
    const record = await this.store.revoke(id);
    if (!record) throw new RegattaError('NOT_FOUND', `no API key ${id}`);
    this.authenticator.forget(id);
    await this.announceRevocation(id);
    return viewOf(record);
  }

  private async visible(actor: Principal, id: string): Promise<ApiKeyRecord> {
    const record = await this.store.get(id);
    if (!record || (record.tenant !== actor.tenant && !actor.scopes.has('admin:all')))
      throw new RegattaError('NOT_FOUND', `no API key ${id}`);
    return record;
  }
}
