import { readFileSync } from 'node:fs';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from '@jest/globals';
import { type GetFeaturesReply, RegattaError } from '@regatta/contracts';
import { parseFlow } from './flow.js';
import { assembleInputs, featureRequest, modelRow, outcomeOf, reasonsFor } from './policy.js';

const flowsDir = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../flows');
const fraud = parseFlow(readFileSync(path.join(flowsDir, 'fraud.yaml'), 'utf8'), 'fraud.yaml');

function reply(values: Record<string, [unknown, string]>): GetFeaturesReply {
  const names = Object.keys(values);
  return {
    metadata: { feature_names: names },
    results: names.map((n) => ({
      values: [values[n]![0]],
      statuses: [values[n]![1] as 'PRESENT'],
      event_timestamps: ['2026-11-27T00:00:00Z'],
    })),
  };
}

describe('fraud flow', () => {
  it('feeds every input of the fraud model', () => {
    const model = [
      'amount',
      'hour_of_day',
      'is_online',
      'country_mismatch',
      'new_device',
      'txn_count_1h',
      'txn_count_24h',
      'avg_amount_30d',
      'amount_std_30d',
      'account_age_days',
      'chargeback_count_90d',
      'distinct_merchants_24h',
      'merchant_fraud_rate_90d',
      'merchant_avg_amount',
      'merchant_category_risk',
    ];
    expect(Object.keys(fraud.inputs).sort()).toEqual([...model].sort());
  });
});

describe(featureRequest.name, () => {
  it('asks for the flow feature service with column-major entities', () => {
    expect(featureRequest(fraud, { customer_id: 'c1', merchant_id: 'm1' })).toEqual({
      feature_service: 'fraud_features',
      entities: { customer_id: ['c1'], merchant_id: ['m1'] },
      full_feature_names: true,
    });
  });

  it('names missing and unknown entities', () => {
    expect(() => featureRequest(fraud, { customer_id: 'c1' })).toThrow(/needs entities "merchant_id"/);
    expect(() => featureRequest(fraud, { customer_id: 'c1', merchant_id: 'm', device_id: 'd' })).toThrow(
      /not device_id/,
    );
  });
});

describe(assembleInputs.name, () => {
  it('takes features, context and defaults, and says which were defaulted or stale', () => {
    const features = reply({
      customer_stats__txn_count_1h: [7, 'PRESENT'],
      customer_stats__avg_amount_30d: [40, 'OUTSIDE_MAX_AGE'],
      customer_stats__account_age_days: [null, 'NOT_FOUND'],
    });
    const inputs = assembleInputs(fraud, { amount: 500, is_online: true }, features);
    expect(inputs.values).toMatchObject({
      amount: 500,
      is_online: 1,
      hour_of_day: 12,
      txn_count_1h: 7,
      avg_amount_30d: 40,
      account_age_days: 0,
    });
    expect(inputs.stale).toEqual(['avg_amount_30d']);
    expect(inputs.defaulted).toContain('account_age_days');
    expect(inputs.defaulted).not.toContain('txn_count_1h');
  });

  it('uses every feature default when the feature service is unavailable', () => {
    const inputs = assembleInputs(fraud, { amount: 10 }, null);
    expect(inputs.values.merchant_fraud_rate_90d).toBe(0.01);
    expect(inputs.defaulted).toHaveLength(10);
  });

  it('rejects bad context with INVALID_ARGUMENT naming the key', () => {
    const bad = (context: Record<string, number | boolean | string>) => {
      try {
        assembleInputs(fraud, context, null);
      } catch (err) {
        return [(err as RegattaError).code, (err as RegattaError).message];
      }
      return undefined;
    };
    expect(bad({})).toEqual(['INVALID_ARGUMENT', 'flow fraud needs context.amount']);
    expect(bad({ amount: 'ten' })).toEqual([
      'INVALID_ARGUMENT',
      'context.amount must be a number or a boolean, got "ten"',
    ]);
    expect(bad({ amount: 5, hour_of_day: 25 })).toEqual([
      'INVALID_ARGUMENT',
      'context.hour_of_day must be within [0, 23], got 25',
    ]);
    expect(bad({ amount: 5, colour: 1 })?.[1]).toContain('"colour"');
  });
});

describe(modelRow.name, () => {
  it('orders values as the model wants them', () => {
    expect(modelRow(['b', 'a'], { a: 1, b: 2 })).toEqual([2, 1]);
  });
});

describe(outcomeOf.name, () => {
  it('declines at or above decline, reviews at or above review, approves below', () => {
    const t = { review: 0.1, decline: 0.7 };
    expect([outcomeOf(0.7, t), outcomeOf(0.69, t), outcomeOf(0.1, t), outcomeOf(0.099, t)]).toEqual([
      'decline',
      'review',
      'review',
      'approve',
    ]);
  });
});

describe(reasonsFor.name, () => {
  it('states the score against its threshold and every rule that holds', () => {
    const values = {
      ...assembleInputs(fraud, { amount: 400, country_mismatch: 1 }, null).values,
      avg_amount_30d: 100,
    };
    const reasons = reasonsFor(fraud, 'review', 0.2, { review: 0.08, decline: 0.69 }, values);
    expect(reasons[0]).toBe('score 0.200 is at or above the review threshold 0.08');
    expect(reasons).toContain("amount is more than 3x the customer's 30-day average");
    expect(reasons).toContain('card country and request country differ');
    expect(reasons).not.toContain('payment from a device not seen before');
  });
});

describe(parseFlow.name, () => {
  it('refuses a flow whose rule names an unknown input', () => {
    const text = readFileSync(path.join(flowsDir, 'fraud.yaml'), 'utf8').replace(
      'input: new_device',
      'input: new_devise',
    );
    expect(() => parseFlow(text, 'fraud.yaml')).toThrow(/unknown input "new_devise"/);
  });

  it('refuses review above decline', () => {
    const text = `${readFileSync(path.join(flowsDir, 'fraud.yaml'), 'utf8')}\nthresholds: { review: 0.9, decline: 0.5 }\n`;
    expect(() => parseFlow(text, 'fraud.yaml')).toThrow(/review must not exceed/);
  });
});
