#!/usr/bin/env node
import { mkdir, readFile, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { parseArgs } from 'node:util';
import { RegattaError } from '@regatta/contracts';
import { configureLogging } from '@regatta/telemetry';
import { loadRepoConfig } from './config.js';
import { decodeRegistry, encodeRegistry } from './registry/codec.js';
import { loadDefinitionFile } from './registry/definition.js';
import { FeatureRepo } from './repo.js';
import { toEpochMs } from './time.js';

const USAGE = `usage:
  regatta-feast materialize <repo> [<file>] [--view <name>]... [--stamp-now] [--start <time>] [--end <time>]
      Load a CSV or Parquet file of feature rows into feature view --view; without <file>, load every
      view (or each --view) from its file batch source. --stamp-now stamps rows with the current time.
  regatta-feast registry build <definition.json|.yaml|.js|.ts> <out registry.db>
      Write a Feast file registry from a declarative definition.
  regatta-feast registry show <repo>
      Print the registry of the repository's project as JSON.`;

/** Where the CLI writes; injectable for tests. */
export interface CliIo {
  out(text: string): void;
  err(text: string): void;
}

const processIo: CliIo = {
  out: (text) => process.stdout.write(`${text}\n`),
  err: (text) => process.stderr.write(`${text}\n`),
};

class UsageError extends Error {}

/** Writes a file through a temporary name and a rename, so readers never see it half-written. */
async function writeAtomically(file: string, bytes: Uint8Array): Promise<void> {
  await mkdir(path.dirname(path.resolve(file)), { recursive: true });
  const tmp = `${file}.tmp-${process.pid}`;
  await writeFile(tmp, bytes);
  await rename(tmp, file);
}

async function materialize(args: string[], io: CliIo): Promise<void> {
  const { positionals, values } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      view: { type: 'string', multiple: true },
      'stamp-now': { type: 'boolean', default: false },
      start: { type: 'string' },
      end: { type: 'string' },
    },
  });
  const [repoPath, file, ...extra] = positionals;
  if (!repoPath || extra.length > 0) throw new UsageError('materialize takes <repo> and an optional <file>');
  if (file && values.view?.length !== 1)
    throw new UsageError('materializing a file needs exactly one --view');
  const options = {
    stampNow: values['stamp-now'],
    ...(values.start !== undefined && { startMs: toEpochMs(values.start, '--start') }),
    ...(values.end !== undefined && { endMs: toEpochMs(values.end, '--end') }),
  };
  const repo = await FeatureRepo.open(repoPath, { registryPollIntervalMs: 60_000 });
  try {
    repo.registry.current();
    const summaries = file
      ? [await repo.materializer.materializeFile(path.resolve(file), values.view![0]!, options)]
      : await repo.materializer.materialize(values.view, options);
    for (const s of summaries) io.out(JSON.stringify(s));
  } finally {
    await repo.close();
  }
}

async function registry(args: string[], io: CliIo): Promise<void> {
  const [command, ...rest] = args;
  if (command === 'build') {
    const [definition, out, ...extra] = rest;
    if (!definition || !out || extra.length > 0)
      throw new UsageError('registry build takes <definition> <out>');
    const content = await loadDefinitionFile(definition);
    const bytes = encodeRegistry(content);
    await writeAtomically(out, bytes);
    io.out(
      JSON.stringify({
        registry: out,
        project: content.project,
        entities: content.entities.length,
        feature_views: content.featureViews.length,
        feature_services: content.featureServices.length,
        bytes: bytes.length,
      }),
    );
    return;
  }
  if (command === 'show') {
    const [repoPath, ...extra] = rest;
    if (!repoPath || extra.length > 0) throw new UsageError('registry show takes <repo>');
    // Reads the registry only: opening the repository would also open (and create) its online store.
    const config = await loadRepoConfig(repoPath);
    let bytes: Uint8Array;
    try {
      bytes = await readFile(config.registry.path);
    } catch {
      throw new RegattaError('INVALID_ARGUMENT', `cannot read registry ${config.registry.path}`);
    }
    io.out(JSON.stringify(decodeRegistry(bytes, config.project), null, 2));
    return;
  }
  throw new UsageError(`unknown registry command ${command ?? '(none)'}`);
}

/** Runs the CLI with `argv` (without node and script); resolves to the exit code. */
export async function runCli(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  const [command, ...args] = argv;
  try {
    if (command === 'materialize') await materialize(args, io);
    else if (command === 'registry') await registry(args, io);
    else if (command === 'help' || command === '--help' || command === '-h') io.out(USAGE);
    else throw new UsageError(`unknown command ${command ?? '(none)'}`);
    return 0;
  } catch (err) {
    if (err instanceof UsageError || (err as { code?: string }).code === 'ERR_PARSE_ARGS_UNKNOWN_OPTION') {
      io.err(`${(err as Error).message}\n${USAGE}`);
      return 2;
    }
    io.err(err instanceof RegattaError ? `${err.code}: ${err.message}` : String(err));
    return 1;
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href) {
  // Progress logs go to stderr at warn level so stdout stays machine-readable JSON.
  configureLogging({ level: process.env.LOG_LEVEL ?? 'warn', destination: process.stderr });
  process.exitCode = await runCli(process.argv.slice(2));
}
