import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { RegattaError } from '@regatta/contracts';
import { parseAllDocuments } from 'yaml';

/** The repository root (this file lives in packages/deploy-tests/src or dist). */
export const REPO_ROOT = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../..');

/** Absolute path of a repository-relative path. */
export function repoPath(...parts: string[]): string {
  return path.join(REPO_ROOT, ...parts);
}

/** Text of a repository file; NOT_FOUND names the file when it is missing. */
export function readRepoFile(relative: string): string {
  const absolute = repoPath(relative);
  if (!existsSync(absolute)) throw new RegattaError('NOT_FOUND', `${relative} does not exist`);
  return readFileSync(absolute, 'utf8');
}

/** A parsed YAML mapping. */
export type YamlMap = Record<string, unknown>;

/**
 * Every document of a YAML stream, with `<<` merge keys applied (docker compose uses them);
 * a syntax error is INVALID_ARGUMENT naming the source.
 */
export function parseYamlDocuments(text: string, source: string): YamlMap[] {
  const docs = parseAllDocuments(text, { merge: true, prettyErrors: true });
  const out: YamlMap[] = [];
  for (const doc of docs) {
    const problem = doc.errors[0];
    if (problem) throw new RegattaError('INVALID_ARGUMENT', `${source}: ${problem.message}`);
    const value: unknown = doc.toJS({ maxAliasCount: 1000 });
    if (value === null || value === undefined) continue;
    if (!isMap(value)) throw new RegattaError('INVALID_ARGUMENT', `${source}: a document is not a mapping`);
    out.push(value);
  }
  return out;
}

/** The single YAML mapping in `text`. */
export function parseYaml(text: string, source: string): YamlMap {
  const docs = parseYamlDocuments(text, source);
  if (docs.length !== 1 || !docs[0]) {
    throw new RegattaError('INVALID_ARGUMENT', `${source}: expected one YAML document, found ${docs.length}`);
  }
  return docs[0];
}

/** A YAML scalar as text (numbers and booleans as written); '' for anything else. */
export function scalarText(value: unknown): string {
  return typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    ? String(value)
    : '';
}

/** Whether `value` is a plain mapping (not an array or null). */
export function isMap(value: unknown): value is YamlMap {
  return typeof value === 'object' && value !== null && !Array.isArray(value);
}
