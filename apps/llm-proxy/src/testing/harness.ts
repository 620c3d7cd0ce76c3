import { afterAll } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { loadConfig } from '@regatta/config';
import { type Bus, InProcessBus, RpcClient } from '@regatta/transport';
import { type UsageRow } from '../ledger/ledger.js';
import { type LlmProxyConfig, llmProxyEnv } from '../config.js';
import { type LlmProxyOverrides, type RunningLlmProxy, createLlmProxyService } from '../service.js';

/** A routing table with one OpenAI-compatible provider `fake` at `url` serving `gpt-4o-mini`, plus the mock. */
export function fakeRouting(url: string, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    version: 'test',
    providers: {
      fake: { type: 'openai', base_url: url },
      mock: { type: 'mock', latency_ms: 5, chunk_delay_ms: 1, completion_tokens: 12, chunks: 4, usage: true },
    },
    models: { 'gpt-4o-mini': [{ provider: 'fake' }], 'mock-gpt': [{ provider: 'mock' }] },
    aliases: { mini: 'gpt-4o-mini' },
    ...extra,
  };
}

/** Temporary directories made by the current test file, removed after its tests. */
const temporary: string[] = [];
afterAll(() => {
  for (const dir of temporary.splice(0)) rmSync(dir, { recursive: true, force: true });
});

/** A temporary directory that is removed after the current test file's tests. */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(path.join(tmpdir(), prefix));
  temporary.push(dir);
  return dir;
}

/** Writes `routing` to a temporary file and returns its path. */
export function routingFile(routing: Record<string, unknown>): string {
  const dir = tempDir('llm-routing-');
  const file = path.join(dir, 'routing.json');
  writeFileSync(file, JSON.stringify(routing));
  return file;
}

/** The proxy's config for a test: quiet logs, the given routing, heuristic token estimates. */
export function testConfig(
  routing: Record<string, unknown>,
  env: Record<string, string> = {},
): LlmProxyConfig {
  return loadConfig(llmProxyEnv, {
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ENVIRONMENT: 'test',
    METRICS_PORT: '0',
    LLM_ROUTING_FILE: routingFile(routing),
    LLM_TOKEN_ESTIMATOR: 'heuristic',
    LLM_RETRY_BASE_MS: '5',
    ...env,
  });
}

/** Ledger rows collected in memory. */
export class MemoryLedger {
  readonly rows: UsageRow[] = [];
  record(row: UsageRow): void {
    this.rows.push(row);
  }
}

/** An llm-proxy on an in-process bus with a client to call it. */
export interface TestProxy {
  bus: Bus;
  client: RpcClient;
  proxy: RunningLlmProxy;
  close(): Promise<void>;
}

/** Starts the proxy service for a test (ledger in memory unless `overrides` says otherwise). */
export async function startTestProxy(
  config: LlmProxyConfig,
  overrides: LlmProxyOverrides = {},
  bus: Bus = new InProcessBus(),
): Promise<TestProxy> {
  const proxy = await createLlmProxyService({
    bus,
    config,
    overrides: { ledger: new MemoryLedger(), ...overrides },
  });
  const client = new RpcClient({ bus, defaultTimeoutMs: 10_000 });
  return {
    bus,
    client,
    proxy,
    close: async () => {
      await proxy.close();
      await bus.close();
    },
  };
}
