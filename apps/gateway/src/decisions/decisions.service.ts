import { createHash, randomUUID } from 'node:crypto';
import {
  type Contract,
  type DecisionReply,
  DecisionRequest,
  FEATURES,
  type GetFeaturesReply,
  INFERENCE,
  LLM,
  type ModelInfo,
  RegattaError,
  parseOrThrow,
  type ReplyOf,
  type RequestOf,
  type StoredDecision,
} from '@regatta/contracts';
import { counter, createLogger, histogram } from '@regatta/telemetry';
import { type RequestOptions, remainingMs } from '@regatta/transport';
import { type DecisionCostMeter } from './cost.js';
import { type DecisionLog } from './decision-log.js';
import { type FlowSpec } from './flow.js';
import {
  type Thresholds,
  assembleInputs,
  featureRequest,
  modelRow,
  outcomeOf,
  reasonsFor,
} from './policy.js';

/** How the decisions service calls other services (the gateway's Downstream: breakers + retries). */
/** A call's timeout as a share of the request's remaining budget (none outside a request). */
function budgetShare(share: number): RequestOptions {
  const budget = remainingMs() * share;
  return Number.isFinite(budget) ? { timeoutMs: Math.max(1, Math.floor(budget)) } : {};
}

export interface ServiceCaller {
  request<C extends Contract>(c: C, data: RequestOf<C>, opts?: RequestOptions): Promise<ReplyOf<C>>;
}

const decisions = counter({
  name: 'decisions_total',
  help: 'Decisions made, by flow and outcome',
  labelNames: ['flow', 'outcome'],
});
const degradedDecisions = counter({
  name: 'decisions_degraded_total',
  help: 'Decisions served in a degraded way, by flow and part (features, explanation)',
  labelNames: ['flow', 'part'],
});
const stageDuration = histogram({
  name: 'decision_stage_duration_seconds',
  help: 'Time of each stage of a decision, by flow and stage',
  labelNames: ['flow', 'stage'],
});

/** Features fall back to defaults on these; anything else (bad request, unknown names) is the caller's or config's error. */
const FALLBACK_CODES = new Set(['UNAVAILABLE', 'OVERLOADED', 'DEADLINE_EXCEEDED', 'RESOURCE_EXHAUSTED']);

interface ModelMeta {
  version: string;
  features: string[];
  thresholds?: Thresholds;
  fetchedAt: number;
}

/**
 * Makes decisions: features -> model -> policy (-> explanation), each stage a call to its
 * service within the request's deadline; logs every decision.
 */
export class DecisionsService {
  private readonly log = createLogger('gateway');
  private readonly models = new Map<string, ModelMeta>();

  constructor(
    private readonly flows: ReadonlyMap<string, FlowSpec>,
    private readonly services: ServiceCaller,
    private readonly decisionLog: DecisionLog,
    private readonly cost?: DecisionCostMeter,
    private readonly modelMetaTtlMs = 30_000,
  ) {}

  flowNames(): string[] {
    return [...this.flows.keys()];
  }

  async decide(tenant: string, input: DecisionRequest): Promise<DecisionReply> {
    const started = performance.now();
    const body = parseOrThrow(DecisionRequest, input, 'decision request');
    const flow = this.flows.get(body.flow);
    if (!flow)
      throw new RegattaError('NOT_FOUND', `no flow "${body.flow}" (flows: ${this.flowNames().join(', ')})`);
    const degraded: string[] = [];

    // Validate everything the request controls before any downstream call.
    const request = featureRequest(flow, body.entities);
    assembleInputs(flow, body.context, null);

    let t = performance.now();
    const [features, meta] = await Promise.all([
      this.features(flow, request, degraded),
      this.modelMeta(flow),
    ]);
    const featuresMs = performance.now() - t;
    const inputs = assembleInputs(flow, body.context, features);
    if (
      features &&
      inputs.defaulted.length > 0 &&
      inputs.defaulted.length === Object.values(flow.inputs).filter((s) => s.from === 'features').length
    ) {
      degraded.push('features: entities unknown to the feature store, defaults used');
    }
    if (inputs.stale.length > 0) degraded.push(`features: older than their TTL: ${inputs.stale.join(', ')}`);

    t = performance.now();
    const prediction = await this.services.request(INFERENCE.predict, {
      model: flow.model.name,
      version: meta.version,
      rows: [modelRow(meta.features, inputs.values)],
    });
    const modelMs = performance.now() - t;
    const score = prediction.outputs[flow.model.output]?.[0]?.[0];
    if (score === undefined || !Number.isFinite(score)) {
      throw new RegattaError('INTERNAL', `model ${flow.model.name} gave no "${flow.model.output}" output`);
    }

    t = performance.now();
    const thresholds = flow.thresholds ?? meta.thresholds;
    if (!thresholds)
      throw new RegattaError(
        'INTERNAL',
        `flow ${flow.name}: no thresholds in the flow or model ${flow.model.name}`,
      );
    const outcome = outcomeOf(score, thresholds);
    const reasons = reasonsFor(flow, outcome, score, thresholds, inputs.values);
    const policyMs = performance.now() - t;

    let explanation: string | undefined;
    let explanationMs: number | undefined;
    const wantExplanation = body.explain ?? flow.explain?.outcomes.includes(outcome) ?? false;
    if (wantExplanation && flow.explain) {
      t = performance.now();
      explanation = await this.explain(flow, outcome, score, reasons, degraded);
      explanationMs = performance.now() - t;
    } else if (body.explain && !flow.explain) {
      degraded.push(`explanation: flow ${flow.name} has no explanation model`);
    }

    const decisionId = randomUUID();
    const createdAt = new Date().toISOString();
    const totalMs = performance.now() - started;
    const inputsHash = createHash('sha256')
      .update(JSON.stringify([flow.name, body.entities, body.context, prediction.model, prediction.version]))
      .digest('hex');
    this.decisionLog.record({
      decision_id: decisionId,
      tenant,
      flow: flow.name,
      outcome,
      score,
      model: prediction.model,
      model_version: prediction.version,
      reasons: JSON.stringify(reasons),
      explanation: explanation ?? null,
      degraded: JSON.stringify(degraded),
      inputs_hash: inputsHash,
      latency_ms: totalMs,
      created_at: createdAt,
    });

    decisions.inc({ flow: flow.name, outcome });
    this.cost?.onDecision();
    for (const [stage, ms] of [
      ['features', featuresMs],
      ['model', modelMs],
      ['policy', policyMs],
      ['explanation', explanationMs],
    ] as const) {
      if (ms !== undefined) stageDuration.observe({ flow: flow.name, stage }, ms / 1000);
    }
    const round = (ms: number) => Math.round(ms * 1000) / 1000;
    return {
      decision_id: decisionId,
      flow: flow.name,
      outcome,
      score,
      model: prediction.model,
      model_version: prediction.version,
      reasons,
      ...(explanation !== undefined && { explanation }),
      ...(degraded.length > 0 && { degraded }),
      timings_ms: {
        features: round(featuresMs),
        model: round(modelMs),
        policy: round(policyMs),
        ...(explanationMs !== undefined && { explanation: round(explanationMs) }),
        total: round(performance.now() - started),
      },
      created_at: createdAt,
    };
  }

  /** A decision of `tenant` from the decision log. */
  get(tenant: string, decisionId: string): Promise<StoredDecision> {
    return this.decisionLog.get(tenant, decisionId);
  }

  private async features(
    flow: FlowSpec,
    request: ReturnType<typeof featureRequest>,
    degraded: string[],
  ): Promise<GetFeaturesReply | null> {
    try {
      return await this.services.request(FEATURES.get, request, budgetShare(flow.features_budget_share));
    } catch (err) {
      const e = RegattaError.from(err);
      if (flow.on_features_unavailable === 'fail' || !FALLBACK_CODES.has(e.code)) {
        if (FALLBACK_CODES.has(e.code))
          throw new RegattaError('UNAVAILABLE', `features unavailable for flow ${flow.name}: ${e.message}`);
        throw e;
      }
      degraded.push(`features: defaults used (${e.code})`);
      degradedDecisions.inc({ flow: flow.name, part: 'features' });
      this.log.warn({ flow: flow.name, code: e.code }, 'features unavailable: deciding with defaults');
      return null;
    }
  }

  /** Feature order and thresholds of the flow's model, cached for a short while. */
  private async modelMeta(flow: FlowSpec): Promise<ModelMeta> {
    const key = `${flow.model.name}@${flow.model.version ?? ''}`;
    const cached = this.models.get(key);
    if (cached && Date.now() - cached.fetchedAt < this.modelMetaTtlMs) return cached;
    const reply = await this.services.request(INFERENCE.models, { model: flow.model.name });
    const model: ModelInfo | undefined = reply.models.find((m) => m.name === flow.model.name);
    const wanted = flow.model.version ?? model?.default_version;
    const version = model?.versions.find((v) => v.version === wanted);
    const features = version?.inputs[0]?.features;
    if (!model || !version || !features) {
      throw new RegattaError(
        'UNAVAILABLE',
        `model ${flow.model.name}${flow.model.version ? ` version ${flow.model.version}` : ''} is not loaded`,
      );
    }
    const t = version.thresholds;
    const meta: ModelMeta = {
      version: version.version,
      features,
      ...(t &&
        typeof t.review === 'number' &&
        typeof t.decline === 'number' && { thresholds: { review: t.review, decline: t.decline } }),
      fetchedAt: Date.now(),
    };
    this.models.set(key, meta);
    return meta;
  }

  private async explain(
    flow: FlowSpec,
    outcome: string,
    score: number,
    reasons: string[],
    degraded: string[],
  ): Promise<string | undefined> {
    const explain = flow.explain!;
    try {
      const reply = await this.services.request(
        LLM.chat,
        {
          body: {
            model: explain.model,
            temperature: 0,
            max_tokens: explain.max_tokens,
            messages: [
              {
                role: 'system',
                content: `You explain ${flow.name} decisions to an operations analyst in two sentences, plainly, without speculation.`,
              },
              {
                role: 'user',
                content: `Outcome: ${outcome} (score ${score.toFixed(3)}). Reasons: ${reasons.join('; ')}.`,
              },
            ],
          },
        },
        budgetShare(explain.budget_share),
      );
      const content = (reply.completion.choices[0]?.message as { content?: unknown } | undefined)?.content;
      if (typeof content === 'string' && content.length > 0) return content;
      degraded.push('explanation: empty answer from the LLM');
    } catch (err) {
      degraded.push(`explanation: unavailable (${RegattaError.from(err).code})`);
    }
    degradedDecisions.inc({ flow: flow.name, part: 'explanation' });
    return undefined;
  }
}
