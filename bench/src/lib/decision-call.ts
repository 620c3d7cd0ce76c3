import { type Dispatcher, request } from 'undici';

/** One `POST /v1/decisions` with an API key: the HTTP status and the body as text. */
export async function postDecision(
  gatewayUrl: string,
  key: string,
  body: string,
  dispatcher: Dispatcher,
): Promise<{ status: number; text: string }> {
  const res = await request(`${gatewayUrl}/v1/decisions`, {
    dispatcher,
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body,
  });
  return { status: res.statusCode, text: await res.body.text() };
}

/** `count` fraud decisions that vary customer, merchant and amount: a realistic mix of feature reads and model runs. */
export function decisionBodies(count: number): string[] {
  return Array.from({ length: count }, (_, i) =>
    JSON.stringify({
      flow: 'fraud',
      entities: {
        customer_id: `c${String((i % 1000) + 1).padStart(4, '0')}`,
        merchant_id: `m${String((i % 200) + 1).padStart(3, '0')}`,
      },
      context: {
        amount: 5 + ((i * 37) % 900),
        hour_of_day: i % 24,
        is_online: i % 3 === 0,
        country_mismatch: i % 17 === 0,
        new_device: i % 11 === 0,
      },
      explain: false,
    }),
  );
}
