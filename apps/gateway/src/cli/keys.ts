#!/usr/bin/env node
import { parseArgs } from 'node:util';
import { loadConfigOrExit } from '@regatta/config';
import { RegattaError } from '@regatta/contracts';
import { configureLogging } from '@regatta/telemetry';
import { NatsBus, RpcClient } from '@regatta/transport';
import { type ApiKeyView, CreateKeyRequest } from '../auth/admin-keys.schemas.js';
import { ApiKeyAdmin } from '../auth/admin-keys.service.js';
import { hashApiKey } from '../auth/api-key.js';
import { announceKeyRevocation } from '../auth/revocation.js';
import { type ApiKeyStore, SqlApiKeyStore } from '../auth/key-store.js';
import { DEFAULT_TENANT, type Principal, SCOPES } from '../auth/scopes.js';
import { gatewayEnv } from '../config.js';
import { openGatewayDatabase } from '../db.js';

export const USAGE = `Manage the gateway's API keys in its database.

Usage:
  keys create --tenant <tenant> --scopes <scope,scope> [--name <name>] [--rate <per second>] [--burst <n>]
  keys list [--tenant <tenant>] [--revoked]
  keys revoke <key id>
Options:
  --json   print JSON instead of text
Scopes: ${SCOPES.join(', ')}
Environment: DATABASE_URL (unset: the embedded database in REGATTA_DATA_DIR/gateway, which only one
process may open: stop an embedded fleet first, or use POST /v1/admin/keys), API_KEY_PEPPER (as the gateway's),
NATS_URL (revoke tells the running gateways there to forget the key at once).`;

/** The operator at the console: every scope, every tenant. */
const OPERATOR: Principal = { keyId: 'cli', tenant: DEFAULT_TENANT, scopes: new Set(SCOPES) };

/** Where the CLI writes. */
export interface CliOutput {
  out(text: string): void;
  err(text: string): void;
}

function table(keys: ApiKeyView[]): string {
  if (keys.length === 0) return 'no keys';
  const rows = keys.map((k) => [
    k.id,
    k.prefix + '…',
    k.tenant,
    k.scopes.join(','),
    k.name,
    k.revoked_at ? `revoked ${k.revoked_at}` : `created ${k.created_at}`,
  ]);
  const widths = rows[0]!.map((_, i) => Math.max(...rows.map((r) => r[i]!.length)));
  return rows
    .map((r) =>
      r
        .map((c, i) => c.padEnd(widths[i]!))
        .join('  ')
        .trimEnd(),
    )
    .join('\n');
}

/** Runs one CLI command against `store`; resolves with the process exit code. */
export async function runKeysCli(
  argv: string[],
  deps: {
    store: ApiKeyStore;
    pepper?: string | undefined;
    io: CliOutput;
    /**
     * Tells running gateways to forget a revoked key; resolves with how many gateway processes answered,
     * or undefined when they could not be reached.
     */
    announceRevocation?: (keyId: string) => Promise<number | undefined>;
  },
): Promise<number> {
  const { io } = deps;
  let parsed: ReturnType<typeof parse>;
  try {
    parsed = parse(argv);
  } catch (err) {
    io.err(`${(err as Error).message}\n\n${USAGE}`);
    return 2;
  }
  const { values, positionals } = parsed;
  const [command, ...rest] = positionals;
  const admin = new ApiKeyAdmin(deps.store, {
    hash: (key) => hashApiKey(key, deps.pepper),
    forget: () => 0,
  });
  const print = (value: unknown, text: string) => io.out(values.json ? JSON.stringify(value, null, 2) : text);
  try {
    switch (command) {
      case 'create': {
        const request = CreateKeyRequest.safeParse({
          tenant: values.tenant,
          scopes: values.scopes
            ?.split(',')
            .map((s) => s.trim())
            .filter(Boolean),
          name: values.name,
          rate_per_s: values.rate === undefined ? undefined : Number(values.rate),
          burst: values.burst === undefined ? undefined : Number(values.burst),
        });
        if (!request.success) {
          const why = request.error.issues.map(
            (i) => `--${i.path.join('.').replace('rate_per_s', 'rate')}: ${i.message}`,
          );
          io.err(`${why.join('\n')}\n\n${USAGE}`);
          return 2;
        }
        const created = await admin.create(OPERATOR, request.data);
        print(
          created,
          `${created.key}\n\nid ${created.id}, tenant ${created.tenant}, scopes ${created.scopes.join(',')}\n` +
            'The key is shown only now: store it safely.',
        );
        return 0;
      }
      case 'list': {
        const keys = await admin.list(OPERATOR, {
          tenant: values.tenant,
          includeRevoked: values.revoked ?? false,
        });
        print({ keys }, table(keys));
        return 0;
      }
      case 'revoke': {
        const id = rest[0];
        if (!id) {
          io.err(`revoke needs a key id\n\n${USAGE}`);
          return 2;
        }
        const key = await admin.revoke(OPERATOR, id);
        const heard = await deps.announceRevocation?.(key.id);
        print(
          key,
          heard === undefined
            ? `revoked ${key.id} (tenant ${key.tenant}); gateways stop accepting it within their key cache TTL`
            : `revoked ${key.id} (tenant ${key.tenant}); ${heard} gateway process(es) forgot it at once, ` +
                'any other stops accepting it within its key cache TTL',
        );
        return 0;
      }
      case undefined:
      default:
        io.err(command ? `unknown command "${command}"\n\n${USAGE}` : USAGE);
        return 2;
    }
  } catch (err) {
    io.err(`error: ${err instanceof RegattaError ? err.message : (err as Error).message}`);
    return 1;
  }
}

function parse(argv: string[]) {
  return parseArgs({
    args: argv,
    allowPositionals: true,
    strict: true,
    options: {
      tenant: { type: 'string' },
      scopes: { type: 'string' },
      name: { type: 'string' },
      rate: { type: 'string' },
      burst: { type: 'string' },
      revoked: { type: 'boolean' },
      json: { type: 'boolean' },
    },
  });
}

/** Asks the gateways on NATS to forget a revoked key; undefined when NATS cannot be reached within 2 s. */
export async function announceOverNats(url: string, keyId: string): Promise<number | undefined> {
  let bus: NatsBus | undefined;
  try {
    bus = await NatsBus.connect({ url, name: 'regatta-keys-cli', connectTimeoutMs: 2_000 });
    return await announceKeyRevocation(new RpcClient({ bus }), keyId, 500);
  } catch {
    return undefined;
  } finally {
    await bus?.close();
  }
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const config = loadConfigOrExit(gatewayEnv);
  configureLogging({ level: process.env.LOG_LEVEL ?? 'warn' });
  const io: CliOutput = {
    out: (text) => process.stdout.write(`${text}\n`),
    err: (text) => process.stderr.write(`${text}\n`),
  };
  let code = 1;
  try {
    const sql = await openGatewayDatabase(config);
    try {
      const store = new SqlApiKeyStore(sql);
      await store.migrate();
      code = await runKeysCli(process.argv.slice(2), {
        store,
        pepper: config.API_KEY_PEPPER,
        io,
        announceRevocation: (keyId) => announceOverNats(config.NATS_URL, keyId),
      });
    } finally {
      await sql.close();
    }
  } catch (err) {
    io.err(`error: ${(err as Error).message}`);
  }
  process.exit(code);
}
