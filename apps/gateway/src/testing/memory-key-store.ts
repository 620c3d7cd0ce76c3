import { RegattaError } from '@regatta/contracts';
import { type ApiKeyRecord, type ApiKeyStore, type NewApiKeyRecord } from '../auth/key-store.js';

/** API keys in memory, for unit tests; `down` makes every call fail as an unreachable database would. */
export class MemoryApiKeyStore implements ApiKeyStore {
  readonly rows = new Map<string, ApiKeyRecord & { hash: string }>();
  lookups = 0;
  down = false;

  private check(): void {
    if (this.down) throw new RegattaError('UNAVAILABLE', 'database unreachable');
  }

  insert(key: NewApiKeyRecord): Promise<ApiKeyRecord> {
    this.check();
    const row = {
      ...key,
      scopes: [...key.scopes],
      createdAt: new Date(Date.now() + this.rows.size).toISOString(),
      revokedAt: null,
    };
    this.rows.set(key.id, row);
    const { hash: _hash, ...record } = row;
    return Promise.resolve(record);
  }

  findActiveByHash(hash: string): Promise<(ApiKeyRecord & { hash: string }) | undefined> {
    this.lookups++;
    if (this.down) return Promise.reject(new RegattaError('UNAVAILABLE', 'database unreachable'));
    return Promise.resolve([...this.rows.values()].find((r) => r.hash === hash && r.revokedAt === null));
  }

  get(id: string): Promise<ApiKeyRecord | undefined> {
    this.check();
    const row = this.rows.get(id);
    return Promise.resolve(row && strip(row));
  }

  list(filter: { tenant?: string | undefined; includeRevoked?: boolean }): Promise<ApiKeyRecord[]> {
    this.check();
    return Promise.resolve(
      [...this.rows.values()]
        .filter(
          (r) =>
            (filter.tenant === undefined || r.tenant === filter.tenant) &&
            (filter.includeRevoked || !r.revokedAt),
        )
        .sort((a, b) => b.createdAt.localeCompare(a.createdAt))
        .map(strip),
    );
  }

  revoke(id: string): Promise<ApiKeyRecord | undefined> {
    this.check();
    const row = this.rows.get(id);
    if (!row) return Promise.resolve(undefined);
    row.revokedAt ??= new Date().toISOString();
    return Promise.resolve(strip(row));
  }
}

function strip(row: ApiKeyRecord & { hash: string }): ApiKeyRecord {
  const { hash: _hash, ...record } = row;
  return record;
}
