#!/usr/bin/env node
// Writes the demo's feature rows: data/customer_stats.csv (1,000 customers c0001..) and data/merchant_risk.csv
// (200 merchants m001..). Deterministic: the same seed and --as-of give byte-identical files.
//
//   node generate-data.mjs [--as-of 2026-01-01T00:00:00Z | now] [--seed 42]
//
// Event timestamps fall in the hour before --as-of. The views have TTLs (customer_stats 2 days, merchant_risk
// 7 days): rows older than that are served with status OUTSIDE_MAX_AGE. Materialize with --stamp-now (or the
// features service's stamp-now option) to serve the sample data as fresh.
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { parseArgs } from 'node:util';

const { values } = parseArgs({
  options: {
    'as-of': { type: 'string', default: '2026-01-01T00:00:00Z' },
    seed: { type: 'string', default: '42' },
  },
});
const asOf = values['as-of'] === 'now' ? Date.now() : Date.parse(values['as-of']);
if (Number.isNaN(asOf)) throw new Error(`--as-of ${values['as-of']} is not a timestamp`);

// mulberry32: small, fast, and the same sequence on every platform.
let state = Number(values.seed) >>> 0;
const random = () => {
  state = (state + 0x6d2b79f5) >>> 0;
  let t = state;
  t = Math.imul(t ^ (t >>> 15), t | 1);
  t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
  return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
};
const normal = () => Math.sqrt(-2 * Math.log(1 - random())) * Math.cos(2 * Math.PI * random());
const poisson = (mean) => {
  let k = 0;
  for (let p = random(), limit = Math.exp(-mean); p > limit; p *= random()) k++;
  return k;
};
const round = (x, digits) => Number(x.toFixed(digits));
const stamp = () => {
  const event = asOf - 1000 * Math.floor(random() * 3600);
  const created = event + 1000 * (1 + Math.floor(random() * 60));
  return [
    new Date(event).toISOString().replace('.000Z', 'Z'),
    new Date(created).toISOString().replace('.000Z', 'Z'),
  ];
};

const customers = [
  'customer_id,txn_count_1h,txn_count_24h,avg_amount_30d,amount_std_30d,account_age_days,chargeback_count_90d,distinct_merchants_24h,event_timestamp,created',
];
for (let i = 1; i <= 1000; i++) {
  // About 4% of customers behave like compromised cards: bursts of transactions across many merchants.
  const risky = random() < 0.04;
  const txn24h = poisson(risky ? 25 : 4);
  const txn1h = Math.min(txn24h, poisson(risky ? 6 : 0.3));
  const avg = round(Math.exp(3.8 + 0.7 * normal()), 2);
  const std = round(avg * (0.25 + random() * (risky ? 1.5 : 0.6)), 2);
  const age = risky && random() < 0.5 ? 1 + Math.floor(random() * 30) : 30 + Math.floor(random() * 3600);
  const chargebacks = risky ? poisson(1.2) : random() < 0.03 ? 1 : 0;
  const merchants = Math.min(txn24h, risky ? 3 + poisson(8) : poisson(2));
  customers.push(
    [`c${String(i).padStart(4, '0')}`, txn1h, txn24h, avg, std, age, chargebacks, merchants, ...stamp()].join(
      ',',
    ),
  );
}

const merchants = [
  'merchant_id,merchant_fraud_rate_90d,merchant_avg_amount,merchant_category_risk,event_timestamp,created',
];
// Category risk by merchant category (groceries ... electronics, gift cards, crypto).
const CATEGORY_RISK = [0.05, 0.1, 0.15, 0.3, 0.55, 0.8, 0.9];
for (let i = 1; i <= 200; i++) {
  const categoryRisk = CATEGORY_RISK[Math.floor(random() * CATEGORY_RISK.length)];
  const fraudRate = round(
    Math.min(0.2, Math.max(0, 0.002 + categoryRisk * 0.03 + 0.01 * normal() ** 2 * categoryRisk)),
    5,
  );
  const avgAmount = round(Math.exp(3.5 + categoryRisk + 0.5 * normal()), 2);
  merchants.push(
    [`m${String(i).padStart(3, '0')}`, fraudRate, avgAmount, categoryRisk, ...stamp()].join(','),
  );
}

const dir = path.join(path.dirname(new URL(import.meta.url).pathname), 'data');
mkdirSync(dir, { recursive: true });
writeFileSync(path.join(dir, 'customer_stats.csv'), `${customers.join('\n')}\n`);
writeFileSync(path.join(dir, 'merchant_risk.csv'), `${merchants.join('\n')}\n`);
process.stdout.write(
  `wrote ${customers.length - 1} customers and ${merchants.length - 1} merchants to ${dir}\n`,
);
