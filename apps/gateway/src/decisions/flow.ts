import { readFileSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { DecisionOutcome, FlowName, RegattaError, describeIssues } from '@regatta/contracts';
import { parse as parseYaml } from 'yaml';
import { z } from 'zod';

const Comparison = z.enum(['eq', 'ne', 'gt', 'gte', 'lt', 'lte']);

/** One model input and where its value comes from. */
const InputSource = z.discriminatedUnion('from', [
  z
    .object({
      from: z.literal('context'),
      /** Context key (default: the input's name). */
      key: z.string().optional(),
      /** Used when the request leaves it out; without one the input is required. */
      default: z.number().optional(),
      min: z.number().optional(),
      max: z.number().optional(),
    })
    .strict(),
  z
    .object({
      from: z.literal('features'),
      /** `view:feature` reference in the flow's feature service. */
      ref: z.string().regex(/^[^:]+:[^:]+$/, 'feature refs are view:feature'),
      /** Used when the entity is unknown (NOT_FOUND) or the feature service is unavailable. */
      default: z.number(),
    })
    .strict(),
]);
export type InputSource = z.infer<typeof InputSource>;

/** A reason rule: `input op value`, or `input op factor × other input`. */
const ReasonRule = z
  .object({
    when: z
      .object({
        input: z.string(),
        op: Comparison,
        value: z.number().optional(),
        times: z.string().optional(),
        factor: z.number().default(1),
      })
      .strict()
      .refine((w) => (w.value === undefined) !== (w.times === undefined), {
        message: 'give exactly one of value or times',
      }),
    reason: z.string().min(1),
  })
  .strict();
export type ReasonRule = z.infer<typeof ReasonRule>;

/** A decision flow as declared in `flows/<name>.yaml`. */
export const FlowSpec = z
  .object({
    name: FlowName,
    description: z.string().default(''),
    feature_service: z.string().min(1),
    /** Join keys a request must give. */
    entities: z.array(z.string().min(1)).min(1),
    model: z
      .object({
        name: z.string().min(1),
        version: z.string().optional(),
        output: z.string().default('score'),
      })
      .strict(),
    /** Model input name -> source, in any order (the model's feature order is used). */
    inputs: z.record(z.string(), InputSource),
    /** Score thresholds; the model's own thresholds (model.json) when left out. */
    thresholds: z
      .object({ review: z.number().min(0).max(1), decline: z.number().min(0).max(1) })
      .strict()
      .optional(),
    reasons: z.array(ReasonRule).default([]),
    /** Features unavailable: serve with defaults (flagged degraded) or answer 503. */
    on_features_unavailable: z.enum(['defaults', 'fail']).default('defaults'),
    /**
     * Share of the remaining budget the feature read may use. A slow features service then still leaves time
     * to score with defaults (flagged degraded) instead of the whole decision running out of time.
     */
    features_budget_share: z.number().gt(0).max(1).default(0.5),
    explain: z
      .object({
        outcomes: z.array(DecisionOutcome).default([]),
        model: z.string().min(1),
        max_tokens: z.number().int().positive().max(1024).default(160),
        /** Share of the remaining budget the explanation may use. */
        budget_share: z.number().gt(0).max(1).default(0.5),
      })
      .strict()
      .optional(),
  })
  .strict()
  .superRefine((flow, ctx) => {
    if (flow.thresholds && flow.thresholds.review > flow.thresholds.decline) {
      ctx.addIssue({
        code: 'custom',
        message: 'thresholds.review must not exceed thresholds.decline',
        path: ['thresholds'],
      });
    }
    for (const [i, rule] of flow.reasons.entries()) {
      for (const name of [rule.when.input, rule.when.times].filter((n): n is string => n !== undefined)) {
        if (!(name in flow.inputs))
          ctx.addIssue({ code: 'custom', message: `unknown input "${name}"`, path: ['reasons', i] });
      }
    }
  });
export type FlowSpec = z.infer<typeof FlowSpec>;

/** Parses one flow file; a bad file stops the gateway at start with a message naming the problem. */
export function parseFlow(text: string, source: string): FlowSpec {
  let raw: unknown;
  try {
    raw = parseYaml(text);
  } catch (err) {
    throw new RegattaError('INVALID_ARGUMENT', `flow ${source}: not valid YAML: ${(err as Error).message}`);
  }
  const parsed = FlowSpec.safeParse(raw);
  if (!parsed.success)
    throw new RegattaError('INVALID_ARGUMENT', `flow ${source}: ${describeIssues(parsed.error)}`);
  return parsed.data;
}

/** Loads every `*.yaml`/`*.yml` flow in `dir`; names must be unique and match their file. */
export function loadFlows(dir: string): Map<string, FlowSpec> {
  const flows = new Map<string, FlowSpec>();
  for (const file of readdirSync(dir)
    .filter((f) => /\.ya?ml$/.test(f))
    .sort()) {
    const flow = parseFlow(readFileSync(path.join(dir, file), 'utf8'), file);
    if (flow.name !== file.replace(/\.ya?ml$/, '')) {
      throw new RegattaError(
        'INVALID_ARGUMENT',
        `flow ${file}: its name "${flow.name}" must match the file name`,
      );
    }
    flows.set(flow.name, flow);
  }
  return flows;
}
