import { z } from 'zod';

export const DecisionOutcome = z.enum(['approve', 'review', 'decline']);
export type DecisionOutcome = z.infer<typeof DecisionOutcome>;

export const FlowName = z
  .string()
  .regex(/^[a-z][a-z0-9_-]{0,63}$/, 'flow names are lower-case letters, digits, _ and -');

const EntityId = z.union([z.string().min(1).max(256), z.number().int()]);
const ContextValue = z.union([z.number(), z.boolean(), z.string().max(256)]);

/** `POST /v1/decisions`: one decision for one set of entities in a declared flow. */
export const DecisionRequest = z
  .object({
    flow: FlowName,
    /** Join-key values, e.g. `{customer_id: "c0001", merchant_id: "m001"}`. */
    entities: z.record(z.string().min(1).max(64), EntityId),
    /** Request-time inputs, e.g. `{amount: 120.5, hour_of_day: 3}`; booleans count as 0/1. */
    context: z.record(z.string().min(1).max(64), ContextValue).default({}),
    /** Ask for (true) or suppress (false) the explanation; the flow decides when unset. */
    explain: z.boolean().optional(),
  })
  .strict();
export type DecisionRequest = z.input<typeof DecisionRequest>;

export const DecisionTimings = z.object({
  features: z.number(),
  model: z.number(),
  policy: z.number(),
  explanation: z.number().optional(),
  total: z.number(),
});

/** A decision as returned by `POST /v1/decisions`. */
export const DecisionReply = z.object({
  decision_id: z.string(),
  flow: z.string(),
  outcome: DecisionOutcome,
  score: z.number(),
  model: z.string(),
  model_version: z.string(),
  reasons: z.array(z.string()),
  explanation: z.string().optional(),
  /** What was served in a degraded way, e.g. `features: defaults used (UNAVAILABLE)`. */
  degraded: z.array(z.string()).optional(),
  timings_ms: DecisionTimings,
  created_at: z.string(),
});
export type DecisionReply = z.infer<typeof DecisionReply>;

/** A decision as read back from the decision log by `GET /v1/decisions/{id}`. */
export const StoredDecision = z.object({
  decision_id: z.string(),
  flow: z.string(),
  outcome: DecisionOutcome,
  score: z.number(),
  model: z.string(),
  model_version: z.string(),
  reasons: z.array(z.string()),
  explanation: z.string().nullable(),
  degraded: z.array(z.string()),
  /** sha256 of the flow, entities, context and model version the decision was made from. */
  inputs_hash: z.string(),
  latency_ms: z.number(),
  created_at: z.string(),
});
export type StoredDecision = z.infer<typeof StoredDecision>;
