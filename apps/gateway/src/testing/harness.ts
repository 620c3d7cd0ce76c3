import { type Type } from '@nestjs/common';
import { type RedisHandle, connectRedis } from '@regatta/cache';
import { loadConfig } from '@regatta/config';
import { type Bus, InProcessBus } from '@regatta/transport';
import { type Scope } from '../auth/scopes.js';
import { gatewayEnv } from '../config.js';
import { type RunningGateway, createGateway } from '../service.js';
import { MemoryApiKeyStore } from './memory-key-store.js';

/** The bootstrap admin key of test gateways. */
export const TEST_ADMIN_KEY = 'rg_test_admin_key_0123456789abcdefghij';

/** A response as tests look at it. */
export interface TestResponse {
  status: number;
  headers: Headers;
  text: string;
  /** The body parsed as JSON (undefined when it is not JSON). */
  body: unknown;
}

/** Options of a request made with {@link TestGateway.request}. */
export interface TestRequest {
  method?: string;
  key?: string | undefined;
  body?: unknown;
  /** Sent as is, instead of JSON-encoding `body`. */
  raw?: string | Uint8Array;
  headers?: Record<string, string>;
}

/** A gateway on a free port over an in-process bus, with keys in memory. */
export interface TestGateway {
  readonly url: string;
  readonly gateway: RunningGateway;
  readonly store: MemoryApiKeyStore;
  readonly bus: Bus;
  request(path: string, req?: TestRequest): Promise<TestResponse>;
  /** Creates a key through the admin API and returns it. */
  createKey(spec: {
    tenant?: string;
    scopes: Scope[];
    rate_per_s?: number;
    burst?: number;
    name?: string;
  }): Promise<{ id: string; key: string }>;
  close(): Promise<void>;
}

/** Starts a gateway for a test: `env` overrides the test configuration. */
export async function startTestGateway(
  options: {
    env?: Record<string, string>;
    controllers?: Type<unknown>[];
    bus?: Bus;
    redis?: RedisHandle;
    store?: MemoryApiKeyStore;
  } = {},
): Promise<TestGateway> {
  const config = loadConfig(gatewayEnv, {
    ENVIRONMENT: 'test',
    HOST: '127.0.0.1',
    REGATTA_ADMIN_KEY: TEST_ADMIN_KEY,
    LOG_LEVEL: process.env.LOG_LEVEL ?? 'warn',
    ...options.env,
  });
  const bus = options.bus ?? new InProcessBus();
  const store = options.store ?? new MemoryApiKeyStore();
  const redis =
    options.redis ??
    connectRedis(undefined, {
      name: 'gateway-test',
      logger: { info: () => undefined, warn: () => undefined },
    });
  const gateway = await createGateway({
    bus,
    config,
    port: 0,
    keyStore: store,
    redis,
    controllers: options.controllers ?? [],
  });
  const request = async (path: string, req: TestRequest = {}): Promise<TestResponse> => {
    const headers: Record<string, string> = { ...req.headers };
    if (req.key) headers.authorization = `Bearer ${req.key}`;
    let body: string | Uint8Array | undefined = req.raw;
    if (body === undefined && req.body !== undefined) {
      body = JSON.stringify(req.body);
      headers['content-type'] ??= 'application/json';
    }
    const res = await fetch(`${gateway.url}${path}`, {
      method: req.method ?? (body === undefined ? 'GET' : 'POST'),
      headers,
      body,
    });
    const text = await res.text();
    let parsed: unknown;
    try {
      parsed = JSON.parse(text);
    } catch {
      parsed = undefined;
    }
    return { status: res.status, headers: res.headers, text, body: parsed };
  };
  return {
    url: gateway.url,
    gateway,
    store,
    bus,
    request,
    async createKey(spec) {
      const res = await request('/v1/admin/keys', { key: TEST_ADMIN_KEY, body: spec });
      if (res.status !== 201) throw new Error(`creating a key failed: ${res.status} ${res.text}`);
      return res.body as { id: string; key: string };
    },
    async close() {
      await gateway.close();
      if (!options.bus) await bus.close();
    },
  };
}
