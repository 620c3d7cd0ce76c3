import { afterAll, beforeAll, beforeEach, describe, expect, it } from '@jest/globals';
import { FEATURES, type GetFeaturesReply, type HttpErrorBody, RegattaError } from '@regatta/contracts';
import { InProcessBus, encodeJson, errorReply } from '@regatta/transport';
import { type TestGateway, startTestGateway } from '../testing/harness.js';

const REPLY: GetFeaturesReply = {
  metadata: { feature_names: ['customer_id', 'txn_count_1h'] },
  results: [
    { values: ['c1'], statuses: ['PRESENT'], event_timestamps: ['1970-01-01T00:00:00Z'] },
    { values: [3], statuses: ['OUTSIDE_MAX_AGE'], event_timestamps: ['2024-01-01T00:00:00Z'] },
  ],
};

/** A stand-in features service on the bus: records requests, answers or fails as told. */
class FakeFeatures {
  readonly requests: unknown[] = [];
  failWith: RegattaError | undefined;
  /** The reply's bytes, when a test wants other bytes than encodeJson(REPLY). */
  replyBytes: Uint8Array | undefined;

  constructor(bus: InProcessBus) {
    bus.subscribe(FEATURES.get.subject, 'features', (msg) => {
      this.requests.push(JSON.parse(new TextDecoder().decode(msg.data)));
      if (this.failWith) {
        const err = errorReply(this.failWith);
        return msg.reply(err.data, err.headers);
      }
      msg.reply(this.replyBytes ?? encodeJson(REPLY), new Map());
    });
  }
}

describe('POST /v1/features', () => {
  let gw: TestGateway;
  let features: FakeFeatures;
  let readKey: string;
  let predictKey: string;

  beforeAll(async () => {
    const bus = new InProcessBus();
    features = new FakeFeatures(bus);
    gw = await startTestGateway({ bus });
    readKey = (await gw.createKey({ scopes: ['features:read'] })).key;
    predictKey = (await gw.createKey({ scopes: ['predict'] })).key;
  });
  afterAll(() => gw?.close());
  beforeEach(() => {
    features.failWith = undefined;
    features.replyBytes = undefined;
  });

  it('sends the validated reply on as the bytes the features service sent', async () => {
    // Spacing no encoder of the gateway would produce: seen only if the bytes pass through untouched.
    const text = JSON.stringify(REPLY, null, 1);
    features.replyBytes = new TextEncoder().encode(text);
    const body = { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } };
    const res = await gw.request('/v1/features', { key: readKey, body });
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(res.text).toBe(text);
    expect(res.headers.get('x-response-time-ms')).toMatch(/^\d+(\.\d+)?$/);
  });

  it('encodes the reply again when validation changed it (unknown keys dropped)', async () => {
    features.replyBytes = encodeJson({ ...REPLY, debug: { took_ms: 3 } });
    const body = { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } };
    const res = await gw.request('/v1/features', { key: readKey, body });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(REPLY);
    expect(res.text).not.toContain('debug');
  });

  it('answers 500 without passing on a reply outside the contract', async () => {
    features.replyBytes = encodeJson({ ...REPLY, results: [{ values: ['c1'], statuses: ['FRESH'] }] });
    const body = { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } };
    const res = await gw.request('/v1/features', { key: readKey, body });
    expect(res.status).toBe(500);
    expect(res.text).not.toContain('FRESH');
  });

  it('answers with the features service reply, the body passed on as features.get.v1', async () => {
    const body = { features: ['customer_stats:txn_count_1h'], entities: { customer_id: ['c1'] } };
    const res = await gw.request('/v1/features', { key: readKey, body });
    expect(res.status).toBe(200);
    expect(res.body).toEqual(REPLY);
    expect(features.requests.at(-1)).toEqual({ ...body, full_feature_names: false });
  });

  it('needs an API key with the features:read scope', async () => {
    const body = { features: ['v:f'], entities: { id: ['1'] } };
    expect((await gw.request('/v1/features', { body })).status).toBe(401);
    const denied = await gw.request('/v1/features', { key: predictKey, body });
    expect(denied.status).toBe(403);
    expect((denied.body as HttpErrorBody).error.message).toContain('features:read');
  });

  it('refuses a body outside the contract with 400 naming the problem', async () => {
    const res = await gw.request('/v1/features', {
      key: readKey,
      body: { features: ['v:f'], entities: { id: ['1'] }, extra: true },
    });
    expect(res.status).toBe(400);
    expect((res.body as HttpErrorBody).error.message).toBe('body: unknown property "extra"');
  });

  it('maps NOT_FOUND naming an unknown view to 404', async () => {
    features.failWith = new RegattaError('NOT_FOUND', 'feature view nope not found in project demo', {
      feature_view: 'nope',
    });
    const res = await gw.request('/v1/features', {
      key: readKey,
      body: { features: ['nope:x'], entities: { id: ['1'] } },
    });
    expect(res.status).toBe(404);
    expect((res.body as HttpErrorBody).error).toMatchObject({
      code: 'NOT_FOUND',
      message: 'feature view nope not found in project demo',
    });
  });
});
