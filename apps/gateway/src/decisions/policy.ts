import { type DecisionOutcome, type GetFeaturesReply, RegattaError } from '@regatta/contracts';
import { type FlowSpec, type ReasonRule } from './flow.js';

export interface Thresholds {
  review: number;
  decline: number;
}

/** The model inputs of one decision, by name, and which came from defaults. */
export interface AssembledInputs {
  values: Record<string, number>;
  /** Feature inputs that fell back to their default (unknown entity or service unavailable). */
  defaulted: string[];
  /** Feature inputs older than their view's TTL (served, but stale). */
  stale: string[];
}

/** Turns request context values into numbers: booleans count as 0/1; numeric strings are refused. */
function contextNumber(name: string, value: number | boolean | string | undefined): number | undefined {
  if (value === undefined) return undefined;
  if (typeof value === 'boolean') return value ? 1 : 0;
  if (typeof value === 'number' && Number.isFinite(value)) return value;
  throw new RegattaError(
    'INVALID_ARGUMENT',
    `context.${name} must be a number or a boolean, got ${JSON.stringify(value)}`,
  );
}

/** The feature service request of a flow for one set of entities. */
export function featureRequest(flow: FlowSpec, entities: Record<string, string | number>) {
  const missing = flow.entities.filter((k) => entities[k] === undefined);
  if (missing.length > 0) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `flow ${flow.name} needs entities ${missing.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  const unknown = Object.keys(entities).filter((k) => !flow.entities.includes(k));
  if (unknown.length > 0) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `flow ${flow.name} takes entities ${flow.entities.join(', ')}; not ${unknown.join(', ')}`,
    );
  }
  return {
    feature_service: flow.feature_service,
    entities: Object.fromEntries(flow.entities.map((k) => [k, [entities[k]!]])),
    full_feature_names: true,
  };
}

/**
 * The model inputs of one decision from the request context and the feature reply (null when
 * the feature service was unavailable and the flow falls back to defaults).
 */
export function assembleInputs(
  flow: FlowSpec,
  context: Record<string, number | boolean | string>,
  features: GetFeaturesReply | null,
): AssembledInputs {
  const columns = new Map<string, number>();
  features?.metadata.feature_names.forEach((name, i) => columns.set(name, i));
  const values: Record<string, number> = {};
  const defaulted: string[] = [];
  const stale: string[] = [];
  const unknownContext = Object.keys(context).filter(
    (k) => !Object.entries(flow.inputs).some(([name, s]) => s.from === 'context' && (s.key ?? name) === k),
  );
  if (unknownContext.length > 0) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `flow ${flow.name} does not take context ${unknownContext.map((k) => `"${k}"`).join(', ')}`,
    );
  }
  for (const [name, source] of Object.entries(flow.inputs)) {
    if (source.from === 'context') {
      const key = source.key ?? name;
      const value = contextNumber(key, context[key]) ?? source.default;
      if (value === undefined)
        throw new RegattaError('INVALID_ARGUMENT', `flow ${flow.name} needs context.${key}`);
      if (
        (source.min !== undefined && value < source.min) ||
        (source.max !== undefined && value > source.max)
      ) {
        throw new RegattaError(
          'INVALID_ARGUMENT',
          `context.${key} must be within [${source.min ?? '-inf'}, ${source.max ?? 'inf'}], got ${value}`,
        );
      }
      values[name] = value;
      continue;
    }
    // Full feature names are `view__feature`.
    const column = columns.get(source.ref.replace(':', '__'));
    const result = column === undefined ? undefined : features?.results[column];
    const status = result?.statuses[0];
    const raw = result?.values[0];
    if (status !== 'PRESENT' && status !== 'OUTSIDE_MAX_AGE') {
      values[name] = source.default;
      defaulted.push(name);
    } else if (typeof raw === 'number' && Number.isFinite(raw)) {
      values[name] = raw;
      if (status === 'OUTSIDE_MAX_AGE') stale.push(name);
    } else if (typeof raw === 'string' && /^-?\d+$/.test(raw)) {
      values[name] = Number(raw); // int64 beyond 2^53 arrives as a string
    } else {
      values[name] = source.default;
      defaulted.push(name);
    }
  }
  return { values, defaulted, stale };
}

/** The model's input row in its feature order. */
export function modelRow(featureOrder: readonly string[], values: Record<string, number>): number[] {
  return featureOrder.map((name) => {
    const v = values[name];
    if (v === undefined) throw new RegattaError('INTERNAL', `flow does not provide model input "${name}"`);
    return v;
  });
}

/** Outcome of a score: decline at or above `decline`, review at or above `review`, else approve. */
export function outcomeOf(score: number, thresholds: Thresholds): DecisionOutcome {
  if (score >= thresholds.decline) return 'decline';
  if (score >= thresholds.review) return 'review';
  return 'approve';
}

function holds(rule: ReasonRule, values: Record<string, number>): boolean {
  const left = values[rule.when.input];
  const right =
    rule.when.times !== undefined
      ? (values[rule.when.times] ?? Number.NaN) * rule.when.factor
      : rule.when.value!;
  if (left === undefined || Number.isNaN(right)) return false;
  switch (rule.when.op) {
    case 'eq':
      return left === right;
    case 'ne':
      return left !== right;
    case 'gt':
      return left > right;
    case 'gte':
      return left >= right;
    case 'lt':
      return left < right;
    case 'lte':
      return left <= right;
  }
}

/** Human reasons for a decision: the score against its threshold, then every flow rule that holds. */
export function reasonsFor(
  flow: FlowSpec,
  outcome: DecisionOutcome,
  score: number,
  thresholds: Thresholds,
  values: Record<string, number>,
): string[] {
  const head =
    outcome === 'decline'
      ? `score ${score.toFixed(3)} is at or above the decline threshold ${thresholds.decline}`
      : outcome === 'review'
        ? `score ${score.toFixed(3)} is at or above the review threshold ${thresholds.review}`
        : `score ${score.toFixed(3)} is below the review threshold ${thresholds.review}`;
  return [head, ...flow.reasons.filter((r) => holds(r, values)).map((r) => r.reason)];
}
