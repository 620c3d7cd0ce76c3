import { expect, it } from '@jest/globals';

/** What a frontend sees of a decision (the subset the suite checks). */
interface Decision {
  decision_id: string;
  outcome: string;
  score: number;
  model: string;
  model_version: string;
  reasons: string[];
  explanation?: string;
  degraded?: string[];
  timings_ms: Record<string, number>;
}

/** One transaction of a customer and a merchant of the demo feature repo. */
export const DEMO_DECISION = {
  flow: 'fraud',
  entities: { customer_id: 'c0001', merchant_id: 'm001' },
  context: { amount: 950, hour_of_day: 3, is_online: true, country_mismatch: true, new_device: true },
  explain: true,
};

async function call(url: string, key: string | undefined, init: { method?: string; body?: unknown } = {}) {
  const res = await fetch(url, {
    method: init.method ?? 'GET',
    headers: {
      ...(key && { authorization: `Bearer ${key}` }),
      ...(init.body !== undefined && { 'content-type': 'application/json' }),
    },
    ...(init.body !== undefined && { body: JSON.stringify(init.body) }),
  });
  return { status: res.status, headers: res.headers, body: (await res.json()) as Record<string, unknown> };
}

/** Creates a key of `tenant` with `scopes` through the admin API. */
export async function createKey(
  gatewayUrl: string,
  adminKey: string,
  tenant: string,
  scopes: string[],
): Promise<string> {
  const res = await call(`${gatewayUrl}/v1/admin/keys`, adminKey, {
    method: 'POST',
    body: { tenant, scopes },
  });
  expect(res.status).toBe(201);
  return res.body.key as string;
}

/**
 * The decision checks that must hold in every mode of the fleet: a decision end to end through
 * the real services, read back for its tenant only, explained by the LLM proxy, and the fleet's
 * SLO view reflecting the traffic.
 */
export function decisionSuite(fleet: () => { gatewayUrl: string; adminKey: string }) {
  it('decides end to end: features, model, policy and explanation', async () => {
    const { gatewayUrl, adminKey } = fleet();
    const key = await createKey(gatewayUrl, adminKey, 'acme', ['decisions:write', 'decisions:read']);
    const res = await call(`${gatewayUrl}/v1/decisions`, key, { method: 'POST', body: DEMO_DECISION });
    expect(res.status).toBe(200);
    expect(Number(res.headers.get('x-response-time-ms'))).toBeGreaterThan(0);
    const decision = res.body as unknown as Decision;
    expect(['approve', 'review', 'decline']).toContain(decision.outcome);
    expect(decision.model).toBe('fraud');
    expect(decision.model_version).toBe('1');
    expect(decision.score).toBeGreaterThan(0);
    expect(decision.score).toBeLessThan(1);
    // A risky transaction from a known customer: real features (nothing defaulted), reasons given.
    expect(decision.degraded ?? []).toEqual([]);
    expect(decision.reasons).toContain('card country and request country differ');
    expect(typeof decision.explanation).toBe('string');
    expect(decision.timings_ms.total).toBeGreaterThanOrEqual(decision.timings_ms.model!);

    const own = await call(`${gatewayUrl}/v1/decisions/${decision.decision_id}`, key);
    expect(own.status).toBe(200);
    expect(own.body).toMatchObject({
      decision_id: decision.decision_id,
      outcome: decision.outcome,
      reasons: decision.reasons,
    });
  });

  it('keeps tenants apart and refuses callers without a key or scope', async () => {
    const { gatewayUrl, adminKey } = fleet();
    const acme = await createKey(gatewayUrl, adminKey, 'acme', ['decisions:write', 'decisions:read']);
    const globex = await createKey(gatewayUrl, adminKey, 'globex', ['decisions:read']);
    const made = await call(`${gatewayUrl}/v1/decisions`, acme, { method: 'POST', body: DEMO_DECISION });
    const id = made.body.decision_id as string;
    expect((await call(`${gatewayUrl}/v1/decisions/${id}`, globex)).status).toBe(404);
    expect(
      (await call(`${gatewayUrl}/v1/decisions`, undefined, { method: 'POST', body: DEMO_DECISION })).status,
    ).toBe(401);
    expect(
      (await call(`${gatewayUrl}/v1/decisions`, globex, { method: 'POST', body: DEMO_DECISION })).status,
    ).toBe(403);
  });

  it('answers bad decisions with typed 4xx errors naming the problem', async () => {
    const { gatewayUrl, adminKey } = fleet();
    const key = await createKey(gatewayUrl, adminKey, 'acme', ['decisions:write']);
    const unknownFlow = await call(`${gatewayUrl}/v1/decisions`, key, {
      method: 'POST',
      body: { ...DEMO_DECISION, flow: 'loans' },
    });
    expect([unknownFlow.status, (unknownFlow.body.error as { code: string }).code]).toEqual([
      404,
      'NOT_FOUND',
    ]);
    const noAmount = await call(`${gatewayUrl}/v1/decisions`, key, {
      method: 'POST',
      body: { ...DEMO_DECISION, context: { hour_of_day: 3 } },
    });
    expect(noAmount.status).toBe(400);
    expect((noAmount.body.error as { message: string }).message).toContain('context.amount');
  });

  it('serves the fleet SLO view with the decision traffic in it', async () => {
    const { gatewayUrl, adminKey } = fleet();
    const res = await call(`${gatewayUrl}/v1/slo`, adminKey);
    expect(res.status).toBe(200);
    const stats = res.body.stats as Record<string, unknown>;
    // Embedded, the four services share one monitor; distributed, each process answers for its own.
    expect(stats.services).toEqual(['features', 'gateway', 'inference', 'llm-proxy']);
    expect(typeof stats.api_p50_ms).toBe('number');
    expect(typeof stats.inference_p95_ms).toBe('number');
    expect(stats.success_rate).toBe(1);
  });
}
