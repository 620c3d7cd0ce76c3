import { Prng, sigmoid } from './prng.js';

/** The fraud model's input features, in the column order the model expects. */
export const FRAUD_FEATURES = [
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
] as const;

/** One feature name of the fraud model. */
export type FraudFeature = (typeof FRAUD_FEATURES)[number];

/** Merchant categories: share of merchants, category risk in [0, 1], and mean of log(ticket size). */
export const MERCHANT_CATEGORIES = [
  { name: 'grocery', share: 0.25, risk: 0.05, logAmount: 3.3 },
  { name: 'restaurant', share: 0.2, risk: 0.1, logAmount: 3.4 },
  { name: 'fuel', share: 0.1, risk: 0.15, logAmount: 3.7 },
  { name: 'retail', share: 0.2, risk: 0.3, logAmount: 4.0 },
  { name: 'electronics', share: 0.08, risk: 0.6, logAmount: 5.2 },
  { name: 'travel', share: 0.07, risk: 0.55, logAmount: 5.6 },
  { name: 'digital_goods', share: 0.05, risk: 0.8, logAmount: 3.0 },
  { name: 'gift_cards', share: 0.03, risk: 0.9, logAmount: 4.2 },
  { name: 'crypto', share: 0.02, risk: 1.0, logAmount: 5.0 },
] as const;

/** Sizes of the synthetic world. */
export interface FraudDatasetOptions {
  seed: number;
  customers: number;
  merchants: number;
  transactions: number;
}

/** Default world: large enough for a stable AUC, small enough to train in a few seconds. */
export const DEFAULT_DATASET_OPTIONS: FraudDatasetOptions = {
  seed: 20240611,
  customers: 5000,
  merchants: 800,
  transactions: 60000,
};

/** A generated dataset: row-major features (`rows × FRAUD_FEATURES.length`) and 0/1 labels. */
export interface FraudDataset {
  features: Float64Array;
  labels: Uint8Array;
  rows: number;
  cols: number;
  /** Share of fraudulent transactions. */
  fraudRate: number;
  /** Share of transactions made while the account was compromised (latent, not a feature). */
  compromisedRate: number;
}

interface Customer {
  ageDays: number;
  typicalAmount: number;
  spread: number;
  dailyRate: number;
  onlineShare: number;
  riskiness: number;
  chargebacks90d: number;
}

interface Merchant {
  categoryRisk: number;
  latentRisk: number;
  fraudRate90d: number;
  avgAmount: number;
}

/**
 * Generates transactions from the process documented in models/fraud/MODEL_CARD.md:
 * customers and merchants with latent traits, a hidden "account compromised" state that shifts the
 * observable features, and fraud drawn from a logistic latent model with Gaussian noise. Because the
 * compromised state is hidden and the noise is irreducible, no model can reach AUC 1.
 */
export function generateFraudDataset(options: FraudDatasetOptions = DEFAULT_DATASET_OPTIONS): FraudDataset {
  const rng = new Prng(options.seed);
  const customers = Array.from({ length: options.customers }, () => makeCustomer(rng));
  const merchants = Array.from({ length: options.merchants }, () => makeMerchant(rng));
  // Fraudsters steer towards risky merchants: pick merchants with weight exp(2.5 · category risk).
  const riskyCumulative: number[] = [];
  let total = 0;
  for (const m of merchants) {
    total += Math.exp(2.5 * m.categoryRisk);
    riskyCumulative.push(total);
  }

  const cols = FRAUD_FEATURES.length;
  const features = new Float64Array(options.transactions * cols);
  const labels = new Uint8Array(options.transactions);
  let frauds = 0;
  let compromisedCount = 0;

  for (let i = 0; i < options.transactions; i++) {
    const c = customers[rng.int(customers.length)]!;
    const compromised = rng.bernoulli(sigmoid(-3.8 + 0.5 * c.riskiness + (c.ageDays < 30 ? 1.0 : 0)));
    const m = compromised
      ? merchants[rng.pickCumulative(riskyCumulative)]!
      : merchants[rng.int(merchants.length)]!;

    let logAmount = 0.5 * Math.log(c.typicalAmount) + 0.5 * Math.log(m.avgAmount) + rng.normal(0, c.spread);
    if (compromised) logAmount += rng.normal(0.8, 0.6);
    const amount = Math.max(1, Math.round(Math.exp(logAmount) * 100) / 100);

    const hour =
      compromised && rng.bernoulli(0.55) ? wrapHour(rng.normal(3, 2.5)) : wrapHour(rng.normal(14, 4));
    const digital = m.categoryRisk >= 0.8;
    const online = compromised ? rng.bernoulli(0.75) : rng.bernoulli(digital ? 0.9 : c.onlineShare);
    const countryMismatch = rng.bernoulli(compromised ? 0.3 : 0.02 + (online ? 0.03 : 0));
    const newDevice = online
      ? rng.bernoulli(compromised ? 0.55 : 0.04)
      : rng.bernoulli(compromised ? 0.05 : 0.005);
    const count1h = rng.poisson(c.dailyRate / 16) + (compromised ? rng.poisson(2) : 0);
    const count24h = count1h + rng.poisson(c.dailyRate);
    const distinct = Math.min(
      count24h + 1,
      1 + rng.poisson(0.5 * count24h) + (compromised ? rng.poisson(1.5) : 0),
    );
    const avg30 = c.typicalAmount * Math.exp(rng.normal(0, 0.1));
    const std30 = c.typicalAmount * c.spread * Math.exp(rng.normal(0, 0.15));

    const logit =
      -6.5 +
      8.0 * (compromised ? 1 : 0) +
      0.35 * Math.log(amount / avg30) +
      0.9 * m.categoryRisk +
      0.5 * m.latentRisk +
      0.45 * c.chargebacks90d +
      0.3 * c.riskiness +
      rng.normal(0, 1.0);
    const fraud = rng.bernoulli(sigmoid(logit));

    const row: Record<FraudFeature, number> = {
      amount,
      hour_of_day: hour,
      is_online: online ? 1 : 0,
      country_mismatch: countryMismatch ? 1 : 0,
      new_device: newDevice ? 1 : 0,
      txn_count_1h: count1h,
      txn_count_24h: count24h,
      avg_amount_30d: round2(avg30),
      amount_std_30d: round2(std30),
      account_age_days: c.ageDays,
      chargeback_count_90d: c.chargebacks90d,
      distinct_merchants_24h: distinct,
      merchant_fraud_rate_90d: m.fraudRate90d,
      merchant_avg_amount: round2(m.avgAmount),
      merchant_category_risk: m.categoryRisk,
    };
    for (let j = 0; j < cols; j++) features[i * cols + j] = row[FRAUD_FEATURES[j]!];
    labels[i] = fraud ? 1 : 0;
    if (fraud) frauds += 1;
    if (compromised) compromisedCount += 1;
  }

  return {
    features,
    labels,
    rows: options.transactions,
    cols,
    fraudRate: frauds / options.transactions,
    compromisedRate: compromisedCount / options.transactions,
  };
}

function makeCustomer(rng: Prng): Customer {
  const isNew = rng.bernoulli(0.08);
  const ageDays = isNew ? rng.int(30) : Math.min(3650, Math.floor(30 + rng.exponential(900)));
  const riskiness = rng.normal(0, 1);
  return {
    ageDays,
    typicalAmount: rng.logNormal(3.5, 0.7),
    spread: rng.between(0.25, 0.9),
    dailyRate: rng.logNormal(0.3, 0.6),
    onlineShare: rng.between(0.1, 0.8),
    riskiness,
    chargebacks90d: rng.poisson(0.04 * Math.exp(0.8 * riskiness)),
  };
}

const CATEGORY_CUMULATIVE = MERCHANT_CATEGORIES.reduce<number[]>((acc, c) => {
  acc.push((acc[acc.length - 1] ?? 0) + c.share);
  return acc;
}, []);

function makeMerchant(rng: Prng): Merchant {
  const category = MERCHANT_CATEGORIES[rng.pickCumulative(CATEGORY_CUMULATIVE)]!;
  const latentRisk = rng.normal(0, 0.6);
  const trueRate = Math.min(0.5, 0.002 * Math.exp(3 * category.risk + latentRisk));
  // The observed 90-day rate is a count over the merchant's volume, so small merchants report noisy rates.
  const volume = Math.max(20, Math.round(rng.logNormal(6, 1)));
  const fraudRate90d = rng.poisson(trueRate * volume) / volume;
  return {
    categoryRisk: category.risk,
    latentRisk,
    fraudRate90d: Math.round(fraudRate90d * 1e6) / 1e6,
    avgAmount: Math.exp(category.logAmount + rng.normal(0, 0.3)),
  };
}

function wrapHour(h: number): number {
  const r = Math.round(h) % 24;
  return r < 0 ? r + 24 : r;
}

function round2(x: number): number {
  return Math.round(x * 100) / 100;
}
