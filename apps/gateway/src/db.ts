import path from 'node:path';
import { type SqlClient, createPostgresClient, openPglite } from '@regatta/db';
import { type GatewayConfig } from './config.js';

/**
 * The gateway's database: Postgres at DATABASE_URL, else embedded PGlite in
 * `<REGATTA_DATA_DIR>/gateway` (one process only: cluster mode requires DATABASE_URL).
 */
export async function openGatewayDatabase(
  config: Pick<GatewayConfig, 'DATABASE_URL' | 'DATABASE_POOL_MAX' | 'REGATTA_DATA_DIR'>,
): Promise<SqlClient> {
  if (config.DATABASE_URL)
    return createPostgresClient({
      url: config.DATABASE_URL,
      max: config.DATABASE_POOL_MAX,
      applicationName: 'regatta-gateway',
    });
  return openPglite({ dataDir: path.join(config.REGATTA_DATA_DIR, 'gateway') });
}
