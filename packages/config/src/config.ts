import { type z } from 'zod';
import { REPO_ROOT } from './types.js';

/** A documented environment variable: its schema carries the default, `doc` says what it is for. */
export interface EnvVar<S extends z.ZodType = z.ZodType> {
  schema: S;
  doc: string;
  /** Shown in the docs table instead of the schema's default (e.g. "cores - 1"). */
  defaultDoc?: string;
}

export type EnvSpec = Record<string, EnvVar>;
export type ConfigOf<E extends EnvSpec> = { [K in keyof E]: z.infer<E[K]['schema']> };

/** Raised when the environment does not satisfy an app's spec; the message names every bad variable. */
export class ConfigError extends Error {
  override readonly name = 'ConfigError';
  constructor(readonly problems: { variable: string; message: string }[]) {
    super(`invalid configuration:\n${problems.map((p) => `  ${p.variable}: ${p.message}`).join('\n')}`);
  }
}

/** Declares an env spec (keeps literal keys for inference). */
export function defineEnv<E extends EnvSpec>(spec: E): E {
  return spec;
}

/** Validates `env` against `spec` once; throws ConfigError naming every variable that is wrong. */
export function loadConfig<E extends EnvSpec>(spec: E, env: NodeJS.ProcessEnv = process.env): ConfigOf<E> {
  const out: Record<string, unknown> = {};
  const problems: { variable: string; message: string }[] = [];
  for (const [name, v] of Object.entries(spec)) {
    const raw = env[name];
    const result = v.schema.safeParse(raw === '' ? undefined : raw);
    if (result.success) out[name] = result.data;
    else {
      const message = result.error.issues.map((i) => i.message).join('; ');
      problems.push({
        variable: name,
        message: raw === undefined ? `required: ${message}` : `${message} (got "${raw}")`,
      });
    }
  }
  if (problems.length > 0) throw new ConfigError(problems);
  return out as ConfigOf<E>;
}

/** Like loadConfig, but a bad configuration stops the process with a message naming the variables. */
export function loadConfigOrExit<E extends EnvSpec>(
  spec: E,
  env: NodeJS.ProcessEnv = process.env,
): ConfigOf<E> {
  try {
    return loadConfig(spec, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      process.stderr.write(`${err.message}\n`);
      process.exit(78); // EX_CONFIG
    }
    throw err;
  }
}

/** Rows for the configuration table in the docs: variable, default, description. */
export function describeEnv(spec: EnvSpec): { variable: string; default: string; doc: string }[] {
  return Object.entries(spec).map(([variable, v]) => {
    const parsed = v.schema.safeParse(undefined);
    // Path defaults are shown as written (relative to the repository root), not as this machine resolves them.
    const shown = typeof parsed.data === 'string' ? parsed.data.replace(`${REPO_ROOT}/`, '') : parsed.data;
    const dflt =
      v.defaultDoc ??
      (parsed.success ? (shown === undefined ? '(unset)' : JSON.stringify(shown)) : '(required)');
    return { variable, default: dflt, doc: v.doc };
  });
}
