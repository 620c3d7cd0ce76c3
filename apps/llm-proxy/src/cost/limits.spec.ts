import { describe, expect, it } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';
import { MemoryLimitStore, NANOS_PER_USD, toNanos, worstCaseUsd } from './limits.js';
import { costUsd, tokenCounts } from './price-table.js';

const price = { input: 1, cached_input: 0.5, output: 2, max_output_tokens: 1_000 };
const body = { model: 'm', messages: [{ role: 'user' as const, content: 'hello' }] };
const now = Date.UTC(2025, 5, 15);

describe(worstCaseUsd.name, () => {
  it('bounds prompt tokens by the bytes of the messages and output by the request, the model or the default', () => {
    const promptBytes = Buffer.byteLength(JSON.stringify(body.messages)) + 2; // tools: []
    expect(worstCaseUsd({ ...body, max_tokens: 10 }, price, 99)).toBeCloseTo(
      (promptBytes * 1 + 10 * 2) / 1e6,
      12,
    );
    expect(worstCaseUsd(body, price, 99)).toBeCloseTo((promptBytes + 1_000 * 2) / 1e6, 12);
    expect(worstCaseUsd(body, { input: 1, output: 2 }, 99)).toBeCloseTo((promptBytes + 99 * 2) / 1e6, 12);
    expect(worstCaseUsd({ ...body, max_tokens: 10, n: 3 }, price, 99)).toBeCloseTo(
      (promptBytes + 30 * 2) / 1e6,
      12,
    );
  });
});

describe(costUsd.name, () => {
  it('prices cached prompt tokens at the cached rate instead of, not on top of, the full rate', () => {
    const tokens = tokenCounts({
      prompt_tokens: 1_000,
      completion_tokens: 100,
      prompt_tokens_details: { cached_tokens: 400 },
    });
    expect(tokens).toEqual({ prompt: 1_000, cachedPrompt: 400, completion: 100 });
    expect(costUsd(price, tokens)).toBeCloseTo((600 * 1 + 400 * 0.5 + 100 * 2) / 1e6, 12);
  });
});

describe(toNanos.name, () => {
  it('rounds reservations up so they never undercount, without counting floating-point noise', () => {
    expect(toNanos(1.0000000001, 'up')).toBe(1_000_000_001);
    expect(toNanos(0.3000000005, 'up')).toBe(300_000_001);
    expect(toNanos(0.1 + 0.2, 'up')).toBe(300_000_000);
    expect(toNanos(0.3)).toBe(300_000_000);
  });
});

describe(MemoryLimitStore.name, () => {
  describe('reserve/commit', () => {
    it('refunds the unused part of a reservation and counts the actual spend', async () => {
      const store = new MemoryLimitStore();
      const policy = { budgetUsd: 1, rpm: 0, tpm: 0 };
      const r = await store.reserve('t', 'u', toNanos(0.6), policy, now);
      expect(store.spentNanos('t', undefined, now)).toBe(0.6 * NANOS_PER_USD);
      await expect(store.reserve('t', 'u', toNanos(0.5), policy, now)).rejects.toMatchObject({
        code: 'RESOURCE_EXHAUSTED',
      });
      await store.commit(r, toNanos(0.1));
      expect(store.spentNanos('t', undefined, now)).toBe(0.1 * NANOS_PER_USD);
      expect(store.spentNanos('t', 'u', now)).toBe(0.1 * NANOS_PER_USD);
      await store.reserve('t', 'u', toNanos(0.5), policy, now);
      expect((await store.monthStats('t', now)).costUsd).toBeCloseTo(0.1, 12);
    });

    it('lets at most as many concurrent reservations through as the budget holds', async () => {
      const store = new MemoryLimitStore();
      const results = await Promise.allSettled(
        Array.from({ length: 100 }, () =>
          store.reserve('t', undefined, toNanos(0.1), { budgetUsd: 1, rpm: 0, tpm: 0 }, now),
        ),
      );
      expect(results.filter((r) => r.status === 'fulfilled')).toHaveLength(10);
    });

    it('enforces the per-user budget separately from the tenant budget, naming which one ran out', async () => {
      const store = new MemoryLimitStore();
      const policy = { budgetUsd: 10, userBudgetUsd: 1, rpm: 0, tpm: 0 };
      await store.reserve('t', 'alice', toNanos(1), policy, now);
      const refused = await store
        .reserve('t', 'alice', toNanos(0.01), policy, now)
        .catch((e: RegattaError) => e);
      expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', details: { budget: 'user' } });
      await expect(store.reserve('t', 'bob', toNanos(1), policy, now)).resolves.toMatchObject({
        user: 'bob',
      });
    });

    it('starts every calendar month with a fresh budget', async () => {
      const store = new MemoryLimitStore();
      const policy = { budgetUsd: 1, rpm: 0, tpm: 0 };
      await store.reserve('t', undefined, toNanos(1), policy, now);
      await expect(store.reserve('t', undefined, 1, policy, now)).rejects.toBeInstanceOf(RegattaError);
      await expect(store.reserve('t', undefined, 1, policy, Date.UTC(2025, 6, 1))).resolves.toBeDefined();
    });
  });

  describe('admit', () => {
    it('counts requests per minute and refuses past the limit with the seconds to the next window', async () => {
      const store = new MemoryLimitStore();
      const policy = { rpm: 2, tpm: 0 };
      expect((await store.admit('t', policy, now)).requests).toEqual({ limit: 2, remaining: 1, reset_s: 60 });
      await store.admit('t', policy, now);
      const refused = await store.admit('t', policy, now + 15_000).catch((e: RegattaError) => e);
      expect(refused).toMatchObject({ code: 'RESOURCE_EXHAUSTED', retryAfterS: 45 });
      await expect(store.admit('t', policy, now + 60_000)).resolves.toBeDefined();
    });

    it('refuses once the tokens of the current minute reach the TPM limit', async () => {
      const store = new MemoryLimitStore();
      const policy = { rpm: 0, tpm: 100 };
      await store.addTokens('t', 100, now);
      await expect(store.admit('t', policy, now)).rejects.toMatchObject({ details: { limit: 'tpm' } });
    });
  });

  describe('monthStats', () => {
    it('counts each active user once per month', async () => {
      const store = new MemoryLimitStore();
      for (const u of ['a', 'b', 'a', 'c', 'b']) await store.recordUser('t', u, now);
      expect((await store.monthStats('t', now)).users).toBe(3);
    });
  });
});
