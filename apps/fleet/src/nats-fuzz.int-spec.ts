import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { FEATURES, HEADERS, HEALTH, INFERENCE, LLM, WireError } from '@regatta/contracts';
import { prng } from '@regatta/testing';
import { type Headers, NatsBus, type ReplyMessage, STATUS_HEADER } from '@regatta/transport';
import { DistributedFleet } from './distributed.js';
import { DEMO_TRANSACTION } from './testing/demo.js';
import { type Json, forEachConcurrently, mutated } from './testing/json-fuzz.js';
import { fleetUrls } from './testing/urls.js';

/**
 * The services are reachable by any client of the NATS cluster, not only through the gateway, which
 * validates first. Each subject gets valid requests with one to three mutations, bytes that are no JSON,
 * and odd deadline headers, on the distributed fleet over the machine's NATS. Every request gets an
 * answer: a success, or an error reply whose code is the caller's fault (never INTERNAL), and no service
 * process dies. Replay a failure with FUZZ_SEED. (`llm.cancel.v1` is left out: it goes to every replica
 * and only the one running the request answers, so most cancels get no reply by design.)
 */

const SEED = Number(process.env.FUZZ_SEED ?? 20_261_129);
const CASES_PER_SUBJECT = Number(process.env.FUZZ_CASES ?? 150);
const MAX_PAYLOAD = 1024 * 1024;

const SEEDS: Array<{ subject: string; body: Json }> = [
  { subject: INFERENCE.predict.subject, body: { model: 'fraud', rows: [DEMO_TRANSACTION], cache: false } },
  {
    subject: INFERENCE.predict.subject,
    body: {
      model: 'fraud',
      version: '1',
      inputs: [{ name: 'features', shape: [1, 15], datatype: 'FP64', data: DEMO_TRANSACTION }],
      outputs: ['score'],
    },
  },
  { subject: INFERENCE.models.subject, body: { model: 'fraud' } },
  {
    subject: FEATURES.get.subject,
    body: { feature_service: 'fraud_features', entities: { customer_id: ['c0001'], merchant_id: ['m001'] } },
  },
  {
    subject: FEATURES.get.subject,
    body: { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c0001', 'c0002'] } },
  },
  {
    subject: LLM.chat.subject,
    body: {
      body: { model: 'mock-gpt', messages: [{ role: 'user', content: 'hi' }], max_tokens: 8 },
      user: 'u1',
    },
  },
  { subject: LLM.models.subject, body: {} },
  { subject: HEALTH.features.subject, body: {} },
];

/** Codes a service may answer a bad request with; INTERNAL (or no answer) would be its own fault. */
const CALLER_FAULTS = new Set([
  'INVALID_ARGUMENT',
  'NOT_FOUND',
  'PAYLOAD_TOO_LARGE',
  'DEADLINE_EXCEEDED',
  'RESOURCE_EXHAUSTED',
  'PERMISSION_DENIED',
  'UNAUTHENTICATED',
  'CONFLICT',
]);

describe('fuzzing the NATS subjects of the distributed fleet', () => {
  let fleet: DistributedFleet;
  let bus: NatsBus;

  beforeAll(async () => {
    fleet = await DistributedFleet.start({
      ...fleetUrls(),
      env: { LOG_LEVEL: 'error', REGATTA_ADMIN_KEY: 'rg_nats_fuzz_admin_key_0123456789abcdef' },
    });
    bus = await NatsBus.connect({ url: fleetUrls().natsUrl!, name: 'nats-fuzz' });
  }, 120_000);

  afterAll(async () => {
    await bus?.close();
    await fleet?.stop();
  });

  const decoder = new TextDecoder();
  const encoder = new TextEncoder();

  /** Sends one request; what came back, as a problem description, or undefined when it was fine. */
  async function problem(subject: string, data: Uint8Array, deadline?: string): Promise<string | undefined> {
    const headers: Headers = new Map();
    if (deadline !== undefined) headers.set(HEADERS.timeoutMs, deadline);
    let reply: ReplyMessage;
    try {
      reply = await bus.request(subject, data, headers, 10_000);
    } catch (err) {
      return `no answer: ${(err as Error).message}`;
    }
    if (reply.headers.get(STATUS_HEADER) !== 'error') return undefined;
    const parsed = WireError.safeParse(JSON.parse(decoder.decode(reply.data)));
    if (!parsed.success)
      return `an error reply that is no WireError: ${decoder.decode(reply.data).slice(0, 200)}`;
    const { code, message } = parsed.data;
    if (!CALLER_FAULTS.has(code) || message.length === 0) return `${code}: ${message}`;
    return undefined;
  }

  it("answers every mutated request with a result or an error that is the caller's fault", async () => {
    const rng = prng(SEED);
    const found: string[] = [];
    const cases: Array<{ subject: string; data: Uint8Array; deadline?: string; sent: string }> = [];
    for (const seed of SEEDS) {
      for (let i = 0; i < CASES_PER_SUBJECT; i++) {
        let text = JSON.stringify(mutated(rng, seed.body));
        const roll = rng.int(12);
        if (roll === 0) text = text.slice(0, rng.int(text.length));
        if (roll === 1)
          text = String.fromCharCode(...Array.from({ length: rng.int(64) }, () => rng.int(256)));
        const deadline =
          roll === 2 ? String(rng.pick(['abc', '-5', '0', '1e309', '', '3.5', '99999999999'])) : undefined;
        const data = encoder.encode(text);
        // NATS itself refuses a message above its max_payload (1 MiB) before any service sees it.
        if (data.length > MAX_PAYLOAD) continue;
        cases.push({ subject: seed.subject, data, deadline, sent: text.slice(0, 160) });
      }
    }
    await forEachConcurrently(cases, 8, async (c) => {
      const wrong = await problem(c.subject, c.data, c.deadline);
      if (wrong) found.push(`${c.subject} ${c.sent} -> ${wrong}`);
    });
    expect(found.slice(0, 20)).toEqual([]);
  }, 600_000);

  it('keeps every service running and answering valid requests', async () => {
    const exits = fleet.processes.map((proc) => ({ service: proc.service, exit: proc.child.exitCode }));
    expect(exits.filter((e) => e.exit !== null)).toEqual([]);
    const failing: string[] = [];
    for (const seed of SEEDS) {
      const data = encoder.encode(JSON.stringify(seed.body));
      const reply = await bus.request(seed.subject, data, new Map(), 10_000).catch((err: Error) => err);
      if (reply instanceof Error) failing.push(`${seed.subject}: ${reply.message}`);
      else if (reply.headers.get(STATUS_HEADER) === 'error')
        failing.push(`${seed.subject}: ${decoder.decode(reply.data).slice(0, 200)}`);
    }
    expect(failing).toEqual([]);
  }, 60_000);
});
