import { RegattaError } from '@regatta/contracts';
import { counter } from '@regatta/telemetry';
import { hashApiKey, sameHash } from './api-key.js';
import { type ApiKeyRecord, type ApiKeyStore } from './key-store.js';
import { DEFAULT_TENANT, type Principal, SCOPES } from './scopes.js';

const authFailures = counter({
  name: 'gateway_auth_failures_total',
  help: 'Requests refused by API key authentication, by reason',
  labelNames: ['reason'],
});

/** Options of {@link ApiKeyAuthenticator}. */
export interface AuthenticatorOptions {
  store: ApiKeyStore;
  /** The bootstrap admin key (every scope, tenant `default`); it is never stored. */
  adminKey?: string | undefined;
  pepper?: string | undefined;
  /** How long a verified key is trusted without asking the store again. */
  cacheTtlMs: number;
  /** How long an unknown key is remembered as unknown (default min(5 s, cacheTtlMs)). */
  negativeTtlMs?: number;
  /** Most keys remembered (default 10 000); the oldest are forgotten first. */
  maxEntries?: number;
  now?: () => number;
}

interface Entry {
  principal: Principal | undefined;
  hash: string;
  at: number;
}

const BOOTSTRAP_ID = 'bootstrap';

/** The principal of a stored key. */
export function principalOf(record: ApiKeyRecord): Principal {
  return {
    keyId: record.id,
    tenant: record.tenant,
    scopes: new Set(record.scopes),
    ratePerS: record.ratePerS ?? undefined,
    burst: record.burst ?? undefined,
  };
}

/**
 * Turns an API key into the principal it stands for. Keys are looked up by their keyed hash and
 * the hash is compared in constant time; verified (and unknown) keys are remembered for a while
 * so the hot path does no I/O, and when the store is unreachable a key verified before keeps
 * working rather than turning a database outage into an API outage.
 */
export class ApiKeyAuthenticator {
  private readonly cache = new Map<string, Entry>();
  private readonly pending = new Map<string, Promise<Principal | undefined>>();
  private readonly adminHash: string | undefined;
  private readonly now: () => number;
  private readonly negativeTtlMs: number;
  private readonly maxEntries: number;

  constructor(private readonly options: AuthenticatorOptions) {
    this.adminHash = options.adminKey ? hashApiKey(options.adminKey, options.pepper) : undefined;
    this.now = options.now ?? Date.now;
    this.negativeTtlMs = options.negativeTtlMs ?? Math.min(5_000, options.cacheTtlMs);
    this.maxEntries = options.maxEntries ?? 10_000;
  }

  /** The keyed hash the store uses for `key`. */
  hash(key: string): string {
    return hashApiKey(key, this.options.pepper);
  }

  /** The principal of `key`; UNAUTHENTICATED when missing, unknown or revoked, UNAVAILABLE when it cannot be checked. */
  async authenticate(key: string | undefined): Promise<Principal> {
    if (key === undefined) {
      authFailures.inc({ reason: 'missing' });
      throw new RegattaError(
        'UNAUTHENTICATED',
        'missing API key: send `Authorization: Bearer <key>` (or `X-Api-Key: <key>`)',
      );
    }
    const hash = this.hash(key);
    if (this.adminHash !== undefined && sameHash(hash, this.adminHash)) return BOOTSTRAP;
    const principal = await this.lookup(hash);
    if (!principal) {
      authFailures.inc({ reason: 'invalid' });
      throw new RegattaError('UNAUTHENTICATED', 'invalid or revoked API key');
    }
    return principal;
  }

  /**
   * Forgets a key at once in this process (after a revocation) and returns how many cached entries it
   * dropped. Other gateway processes are told over NATS (gateway.keys.revoked.v1); any that miss the
   * message stop trusting the key within the cache TTL.
   */
  forget(keyId: string): number {
    let dropped = 0;
    for (const [hash, entry] of this.cache) {
      if (entry.principal?.keyId !== keyId) continue;
      this.cache.delete(hash);
      dropped++;
    }
    return dropped;
  }

  private async lookup(hash: string): Promise<Principal | undefined> {
    const entry = this.cache.get(hash);
    const now = this.now();
    if (entry) {
      const ttl = entry.principal ? this.options.cacheTtlMs : this.negativeTtlMs;
      if (now - entry.at < ttl) return entry.principal;
    }
    // Concurrent requests with the same uncached key share one store lookup.
    let pending = this.pending.get(hash);
    if (!pending) {
      pending = this.load(hash, entry).finally(() => this.pending.delete(hash));
      this.pending.set(hash, pending);
    }
    return pending;
  }

  private async load(hash: string, stale: Entry | undefined): Promise<Principal | undefined> {
    let record: Awaited<ReturnType<ApiKeyStore['findActiveByHash']>>;
    try {
      record = await this.options.store.findActiveByHash(hash);
    } catch {
      if (stale?.principal) return stale.principal;
      authFailures.inc({ reason: 'store_unavailable' });
      throw new RegattaError('UNAVAILABLE', 'cannot verify the API key right now', undefined, 1);
    }
    const principal = record && sameHash(record.hash, hash) ? principalOf(record) : undefined;
    this.remember(hash, principal);
    return principal;
  }

  private remember(hash: string, principal: Principal | undefined): void {
    this.cache.delete(hash);
    this.cache.set(hash, { principal, hash, at: this.now() });
    if (this.cache.size > this.maxEntries) {
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
  }
}

/** The principal of the bootstrap admin key. */
export const BOOTSTRAP: Principal = {
  keyId: BOOTSTRAP_ID,
  tenant: DEFAULT_TENANT,
  scopes: new Set(SCOPES),
};
