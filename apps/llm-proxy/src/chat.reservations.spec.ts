import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { MemoryAnswerStore } from './cache/answer-store.js';
import { ChatService } from './chat.service.js';
import { type LimitPolicy, MemoryLimitStore } from './cost/limits.js';
import { loadPriceTable } from './cost/price-table.js';
import { HeuristicEstimator } from './cost/token-estimator.js';
import { OpenAiHttpProvider } from './providers/openai-http.js';
import { Router } from './routing/router.js';
import { buildRoutingTable } from './routing/routing-config.js';
import { FakeOpenAi } from './testing/fake-openai.js';
import { MemoryLedger, fakeRouting, testConfig } from './testing/harness.js';

let fake: FakeOpenAi;

beforeAll(async () => {
  fake = await FakeOpenAi.start();
});
afterAll(async () => {
  await fake.close();
});

describe(`${ChatService.name} budget reservations`, () => {
  /** The in-process limit store, counting the reservations asked of it. */
  class CountingLimits extends MemoryLimitStore {
    reservations = 0;
    override reserve(...args: Parameters<MemoryLimitStore['reserve']>) {
      this.reservations++;
      return super.reserve(...args);
    }
  }

  async function spendOf(policy: Partial<LimitPolicy>, user?: string) {
    const config = testConfig(fakeRouting(fake.url));
    const prices = loadPriceTable(config.LLM_PRICE_FILE);
    const table = buildRoutingTable(fakeRouting(fake.url), prices);
    const provider = new OpenAiHttpProvider({ name: 'fake', baseUrl: fake.url, connections: 1 });
    const limits = new CountingLimits();
    const chat = new ChatService({
      table,
      prices,
      router: new Router({
        table,
        providers: new Map([['fake', provider]]),
        retries: 0,
        retryBaseMs: 5,
        breaker: { failureThreshold: 5, cooldownMs: 1_000 },
      }),
      store: new MemoryAnswerStore(10),
      limits,
      ledger: new MemoryLedger(),
      estimator: new HeuristicEstimator(),
      settings: {
        cacheTtlS: 60,
        maxEntryBytes: 1_000_000,
        defaultMaxOutputTokens: 4_096,
        maxTimeoutMs: 10_000,
        defaultPolicy: { rpm: 0, tpm: 0, ...policy },
        tenantPolicies: {},
      },
    });
    const caller = ChatService.caller('acme', undefined, Date.now() + 5_000);
    const body = { model: 'gpt-4o-mini', messages: [{ role: 'user' as const, content: 'how much' }] };
    await chat.complete({ body, ...(user && { user }) }, caller);
    await chat.drain();
    await provider.close();
    return { reservations: limits.reservations, spent: limits.spentNanos('acme', undefined, Date.now()) };
  }

  it('asks the limit store for a reservation only when a budget applies, and counts the spend either way', async () => {
    const unlimited = await spendOf({});
    const userWithoutBudget = await spendOf({}, 'ann');
    const budgeted = await spendOf({ budgetUsd: 10 });
    const userBudget = await spendOf({ userBudgetUsd: 1 }, 'ann');
    expect([unlimited, userWithoutBudget, budgeted, userBudget].map((r) => r.reservations)).toEqual([
      0, 0, 1, 1,
    ]);
    // The committed cost of the same answer, whether or not it was reserved first.
    expect(unlimited.spent).toBeGreaterThan(0);
    expect(new Set([unlimited, userWithoutBudget, budgeted, userBudget].map((r) => r.spent)).size).toBe(1);
  });
});
