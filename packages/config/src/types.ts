import { existsSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { z } from 'zod';

/**
 * The repository root, which relative paths in the configuration are resolved against: the nearest
 * directory above this module holding pnpm-workspace.yaml (a service image has one too). Searched rather
 * than fixed, since a bundled service carries this module inside its own file under apps/<app>/dist.
 */
export const REPO_ROOT = nearestWorkspaceRoot(path.dirname(fileURLToPath(import.meta.url)));

function nearestWorkspaceRoot(from: string): string {
  for (let dir = from; ; dir = path.dirname(dir)) {
    if (existsSync(path.join(dir, 'pnpm-workspace.yaml'))) return dir;
    // Nothing above: where packages/config/{src,dist} sits in the repository.
    if (path.dirname(dir) === dir) return path.resolve(from, '../../..');
  }
}

function urlWithScheme(schemes: string[], what: string) {
  return z.string().refine(
    (s) => {
      try {
        return schemes.includes(new URL(s).protocol.replace(/:$/, ''));
      } catch {
        return false;
      }
    },
    { message: `must be a ${what} URL (${schemes.map((s) => `${s}://`).join(' or ')}...)` },
  );
}

/** Reusable env value types. */
export const env = {
  natsUrl: () =>
    z
      .string()
      .refine((s) => s.split(',').every((u) => /^(nats|tls|ws|wss):\/\/[^\s/]+(:\d+)?\/?$/.test(u.trim())), {
        message: 'must be one or more comma-separated nats://host:port URLs',
      }),
  redisUrl: () => urlWithScheme(['redis', 'rediss'], 'Redis'),
  postgresUrl: () => urlWithScheme(['postgres', 'postgresql'], 'Postgres'),
  httpUrl: () => urlWithScheme(['http', 'https'], 'HTTP'),
  port: (dflt: number) => z.coerce.number().int().min(0).max(65535).default(dflt),
  int: (dflt: number, min = 0, max = Number.MAX_SAFE_INTEGER) =>
    z.coerce.number().int().min(min).max(max).default(dflt),
  number: (dflt: number, min = 0) => z.coerce.number().min(min).default(dflt),
  bool: (dflt: boolean) =>
    z
      .enum(['true', 'false', '1', '0', 'yes', 'no'], { message: 'must be true or false' })
      .default(dflt ? 'true' : 'false')
      .transform((v) => v === 'true' || v === '1' || v === 'yes'),
  string: (dflt: string) => z.string().min(1).default(dflt),
  /** A file or directory; a relative path is taken from the repository root, wherever the process starts. */
  path: (dflt: string) =>
    z
      .string()
      .min(1)
      .default(dflt)
      .transform((p) => (path.isAbsolute(p) ? p : path.resolve(REPO_ROOT, p))),
  /** Like `path`, but may be left unset. */
  optionalPath: () =>
    z
      .string()
      .min(1)
      .optional()
      .transform((p) => (p === undefined || path.isAbsolute(p) ? p : path.resolve(REPO_ROOT, p))),
  optionalString: () => z.string().min(1).optional(),
  logLevel: () => z.enum(['fatal', 'error', 'warn', 'info', 'debug', 'trace', 'silent']).default('info'),
  environment: () => z.enum(['development', 'test', 'staging', 'production']).default('development'),
};
