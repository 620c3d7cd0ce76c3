import {
  BackgroundSchema,
  type DbHealth,
  type Migration,
  type SqlClient,
  quoteIdent,
  quoteTable,
  runMigrations,
} from '@regatta/db';
import { type Logger } from '@regatta/telemetry';
import { type Scope, Scope as ScopeSchema } from './scopes.js';

/** An API key as stored (never the key itself: only its hash). */
export interface ApiKeyRecord {
  id: string;
  /** First characters of the key, to tell keys apart in listings. */
  prefix: string;
  tenant: string;
  scopes: Scope[];
  name: string;
  /** Per-key sustained rate (requests/s); null = the gateway default. */
  ratePerS: number | null;
  /** Per-key burst; null = the gateway default. */
  burst: number | null;
  createdAt: string;
  revokedAt: string | null;
}

/** What is stored for a new key. */
export interface NewApiKeyRecord {
  id: string;
  hash: string;
  prefix: string;
  tenant: string;
  scopes: readonly Scope[];
  name: string;
  ratePerS: number | null;
  burst: number | null;
}

/** Where API keys live; Postgres (or embedded PGlite) in production, memory in unit tests. */
export interface ApiKeyStore {
  insert(key: NewApiKeyRecord): Promise<ApiKeyRecord>;
  /** The key with this hash unless it is revoked. */
  findActiveByHash(hash: string): Promise<(ApiKeyRecord & { hash: string }) | undefined>;
  get(id: string): Promise<ApiKeyRecord | undefined>;
  /** Keys of one tenant (or all), newest first. */
  list(filter: { tenant?: string | undefined; includeRevoked?: boolean }): Promise<ApiKeyRecord[]>;
  /** Marks a key revoked (idempotent); undefined when there is no such key. */
  revoke(id: string): Promise<ApiKeyRecord | undefined>;
}

/** The schema of the key table; `table` lets tests use a table of their own. */
export function apiKeyMigrations(table = 'gateway_api_keys'): Migration[] {
  const t = quoteTable(table);
  // An index name is never schema-qualified: it lives in its table's schema.
  const index = quoteIdent(`${table.split('.').pop()!}_tenant_idx`);
  return [
    {
      id: `001_${table}`,
      sql: `CREATE TABLE ${t} (
        id text PRIMARY KEY,
        hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        tenant text NOT NULL,
        scopes text NOT NULL,
        name text NOT NULL DEFAULT '',
        rate_per_s double precision,
        burst integer,
        created_at timestamptz NOT NULL DEFAULT now(),
        revoked_at timestamptz
      );
      CREATE INDEX ${index} ON ${t} (tenant, created_at DESC);`,
    },
  ];
}

interface Row {
  id: string;
  hash: string;
  prefix: string;
  tenant: string;
  scopes: string;
  name: string;
  rate_per_s: number | string | null;
  burst: number | string | null;
  created_at: Date | string;
  revoked_at: Date | string | null;
}

const iso = (v: Date | string): string => (v instanceof Date ? v : new Date(v)).toISOString();
const num = (v: number | string | null): number | null => (v === null ? null : Number(v));

function toRecord(row: Row): ApiKeyRecord {
  return {
    id: row.id,
    prefix: row.prefix,
    tenant: row.tenant,
    // Scopes are stored space-separated (the OAuth convention); unknown ones from a newer
    // gateway version are dropped rather than granting something this version cannot check.
    scopes: row.scopes.split(' ').filter((s): s is Scope => ScopeSchema.safeParse(s).success),
    name: row.name,
    ratePerS: num(row.rate_per_s),
    burst: num(row.burst),
    createdAt: iso(row.created_at),
    revokedAt: row.revoked_at === null ? null : iso(row.revoked_at),
  };
}

const COLUMNS = 'id, hash, prefix, tenant, scopes, name, rate_per_s, burst, created_at, revoked_at';

/** API keys in a SQL table (Postgres, or PGlite in embedded mode). */
export class SqlApiKeyStore implements ApiKeyStore {
  private readonly t: string;
  private schema: BackgroundSchema | undefined;

  constructor(
    private readonly sql: SqlClient,
    readonly table = 'gateway_api_keys',
  ) {
    this.t = quoteTable(table);
  }

  /** Creates the table (once; concurrent starters serialise on an advisory lock). */
  async migrate(): Promise<void> {
    await runMigrations(this.sql, apiKeyMigrations(this.table), { table: `${this.table}_migrations` });
  }

  /**
   * Creates the table in the background, retrying while the database is away, so the gateway starts
   * during an outage. Until the table is there every call fails fast with UNAVAILABLE saying why.
   */
  migrateInBackground(logger?: Logger): BackgroundSchema {
    this.schema ??= new BackgroundSchema(this.sql, apiKeyMigrations(this.table), {
      what: 'the API key store',
      table: `${this.table}_migrations`,
      ...(logger && { logger }),
    });
    return this.schema;
  }

  /** `ok` once the table is known to be there; `down`, saying why, while it is being created. */
  schemaHealth(): DbHealth {
    return this.schema?.health() ?? { status: 'ok' };
  }

  /** Stops creating the table in the background. */
  close(): void {
    this.schema?.close();
  }

  async insert(key: NewApiKeyRecord): Promise<ApiKeyRecord> {
    this.schema?.check();
    const { rows } = await this.sql.query<Row>(
      `INSERT INTO ${this.t} (id, hash, prefix, tenant, scopes, name, rate_per_s, burst)
       VALUES ($1, $2, $3, $4, $5, $6, $7, $8) RETURNING ${COLUMNS}`,
      [key.id, key.hash, key.prefix, key.tenant, key.scopes.join(' '), key.name, key.ratePerS, key.burst],
    );
    return toRecord(rows[0]!);
  }

  async findActiveByHash(hash: string): Promise<(ApiKeyRecord & { hash: string }) | undefined> {
    this.schema?.check();
    const { rows } = await this.sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.t} WHERE hash = $1 AND revoked_at IS NULL`,
      [hash],
    );
    const row = rows[0];
    return row ? { ...toRecord(row), hash: row.hash } : undefined;
  }

  async get(id: string): Promise<ApiKeyRecord | undefined> {
    this.schema?.check();
    const { rows } = await this.sql.query<Row>(`SELECT ${COLUMNS} FROM ${this.t} WHERE id = $1`, [id]);
    return rows[0] ? toRecord(rows[0]) : undefined;
  }

  async list(filter: { tenant?: string | undefined; includeRevoked?: boolean }): Promise<ApiKeyRecord[]> {
    this.schema?.check();
    const where: string[] = [];
    const params: unknown[] = [];
    if (filter.tenant !== undefined) {
      params.push(filter.tenant);
      where.push(`tenant = $${params.length}`);
    }
    if (!filter.includeRevoked) where.push('revoked_at IS NULL');
    const { rows } = await this.sql.query<Row>(
      `SELECT ${COLUMNS} FROM ${this.t}${where.length ? ` WHERE ${where.join(' AND ')}` : ''}
       ORDER BY created_at DESC, id LIMIT 1000`,
      params,
    );
    return rows.map(toRecord);
  }

  async revoke(id: string): Promise<ApiKeyRecord | undefined> {
    this.schema?.check();
    const { rows } = await this.sql.query<Row>(
      `UPDATE ${this.t} SET revoked_at = COALESCE(revoked_at, now()) WHERE id = $1 RETURNING ${COLUMNS}`,
      [id],
    );
    return rows[0] ? toRecord(rows[0]) : undefined;
  }
}
