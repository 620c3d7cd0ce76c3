import { randomUUID } from 'node:crypto';
import {
  type ChatCompletion,
  type ChatCompletionChunk,
  type ChatCompletionRequest,
  ChatUsage,
  type LlmCacheStatus,
  type LlmChatFrame,
  type LlmChatReply,
  type LlmChatRequest,
  type LlmModelList,
  type LlmReplyMeta,
  RegattaError,
} from '@regatta/contracts';
import { createLogger } from '@regatta/telemetry';
import { type AnswerStore, type CachedAnswer } from './cache/answer-store.js';
import { type CacheMode, cacheKey, normalizeRequest } from './cache/cache-key.js';
import { type CallPublisher, type RedisRendezvous } from './cache/rendezvous.js';
import { type CallSpend, SharedCall } from './cache/shared-call.js';
import {
  type LimitPolicy,
  type LimitStore,
  type RateWindows,
  type Reservation,
  monthOf,
  toNanos,
  worstCaseUsd,
} from './cost/limits.js';
import { type PriceTable, costUsd, priceOf, tokenCounts } from './cost/price-table.js';
import { type TokenEstimator } from './cost/token-estimator.js';
import { type UsageRow } from './ledger/ledger.js';
import {
  llmCacheRequests,
  llmCacheTokensSaved,
  llmCircuitState,
  llmCost,
  llmCostAvoided,
  llmCostPerMau,
  llmDuration,
  llmMonthlyActiveUsers,
  llmRefused,
  llmRequests,
  llmTokens,
} from './metrics.js';
import { type JsonObject, UpstreamError } from './providers/provider.js';
import { type Router } from './routing/router.js';
import { type RouteTarget, type RoutingTable, resolveModel } from './routing/routing-config.js';

const log = createLogger('llm-proxy');

/** Where ledger rows go (the Postgres ledger, or a test double). */
export interface LedgerSink {
  record(row: UsageRow): void;
}

/** Settings of the chat service, from the validated config. */
export interface ChatSettings {
  cacheTtlS: number;
  maxEntryBytes: number;
  defaultMaxOutputTokens: number;
  /** Longest an LLM call may take, whatever the caller's deadline. */
  maxTimeoutMs: number;
  defaultPolicy: LimitPolicy;
  tenantPolicies: Readonly<Record<string, Partial<LimitPolicy>>>;
}

/** Collaborators of the chat service. */
export interface ChatDeps {
  table: RoutingTable;
  prices: PriceTable;
  router: Router;
  store: AnswerStore;
  /** Cross-replica coalescing; absent without Redis (coalescing then stays within the process). */
  rendezvous?: RedisRendezvous | undefined;
  limits: LimitStore;
  ledger: LedgerSink;
  estimator: TokenEstimator;
  settings: ChatSettings;
  now?: () => number;
}

/** Who asks, and until when. */
export interface ChatCaller {
  tenant: string;
  requestId: string;
  /** Absolute deadline, epoch ms. */
  deadline: number;
}

interface Prepared {
  caller: ChatCaller;
  body: ChatCompletionRequest;
  model: string;
  user: string | undefined;
  mode: CacheMode;
  /** Set when the request may be cached and coalesced. */
  key: string | undefined;
  read: boolean;
  write: boolean;
  ttlS: number;
  policy: LimitPolicy;
  ratelimit: RateWindows;
  started: number;
  /**
   * Set once the request waits on a call (not for cache hits, which answer at once): aborted by
   * `cancel()` or when the deadline passes, and released by `done()`.
   */
  abort: AbortController | undefined;
  deadlineTimer: NodeJS.Timeout | undefined;
}

type Source =
  | { status: 'HIT'; answer: CachedAnswer }
  | { status: Exclude<LlmCacheStatus, 'HIT'>; call: SharedCall; leader: boolean };

const DEFAULT_TENANT = 'default';

/**
 * The proxy's request path: limits, exact cache, coalescing of identical calls, routing to providers,
 * and — after the answer is on its way — usage, cost, budget settlement, cache storage and the ledger.
 */
export class ChatService {
  private readonly inflight = new Map<string, SharedCall>();
  /** Requests in progress on this replica, by request id (what `cancel()` can reach). */
  private readonly running = new Map<string, Prepared>();
  private readonly background = new Set<Promise<void>>();
  private readonly tenants = new Set<string>();
  private readonly policies = new Map<string, LimitPolicy>();
  private readonly now: () => number;

  constructor(private readonly deps: ChatDeps) {
    this.now = deps.now ?? Date.now;
  }

  /** The caller of a message: tenant from the request scope (or `default`), request id, deadline. */
  static caller(tenant: string | undefined, requestId: string | undefined, deadline: number): ChatCaller {
    return { tenant: tenant || DEFAULT_TENANT, requestId: requestId || randomUUID(), deadline };
  }

  /** A whole (non-streamed) completion. */
  async complete(request: LlmChatRequest, caller: ChatCaller): Promise<LlmChatReply> {
    const p = await this.prepare(request, caller, 'json');
    let outcome = 'ok';
    let source: Source | undefined;
    try {
      source = await this.obtain(p);
      const completion =
        source.status === 'HIT' ? source.answer.items[0] : (await source.call.whole(this.signal(p)))[0];
      if (!completion) throw new RegattaError('INTERNAL', 'provider answer was empty');
      this.settleReader(p, source);
      return { meta: this.meta(p, source), completion: completion as ChatCompletion };
    } catch (err) {
      outcome = this.failure(p, err, source);
      throw this.asError(p, err);
    } finally {
      this.done(p, source?.status ?? 'BYPASS', outcome);
    }
  }

  /** A streamed completion: a `meta` frame with the first chunk, then every chunk. */
  async *stream(request: LlmChatRequest, caller: ChatCaller): AsyncGenerator<LlmChatFrame> {
    const p = await this.prepare(request, caller, 'sse');
    const wantsUsage = p.body.stream_options?.include_usage === true;
    let outcome = 'ok';
    let source: Source | undefined;
    try {
      source = await this.obtain(p);
      const items = source.status === 'HIT' ? source.answer.items : source.call.read(this.signal(p));
      let first = true;
      for await (const item of items) {
        const chunk = forCaller(item, wantsUsage);
        if (!chunk) continue;
        if (first) {
          first = false;
          yield { type: 'meta', meta: this.meta(p, source) };
        }
        yield { type: 'chunk', chunk: chunk as ChatCompletionChunk };
      }
      this.settleReader(p, source);
    } catch (err) {
      outcome = this.failure(p, err, source);
      throw this.asError(p, err);
    } finally {
      this.done(p, source?.status ?? 'BYPASS', outcome);
    }
  }

  /** Stops the request `requestId` if this replica runs it; its upstream call stops once nobody else reads it. */
  cancel(requestId: string): boolean {
    const p = this.running.get(requestId);
    if (!p) return false;
    this.signal(p);
    p.abort!.abort();
    return true;
  }

  /** Every routed model and alias with at least one configured provider, in OpenAI's list format. */
  models(): LlmModelList {
    const { table } = this.deps;
    const usable = (model: string) =>
      (table.models.get(model) ?? []).some((t) => table.providers.get(t.provider)?.type !== 'unconfigured');
    const data: LlmModelList['data'] = [];
    for (const model of [...table.models.keys()].sort()) {
      if (!usable(model)) continue;
      const owners = [...new Set(table.models.get(model)!.map((t) => t.provider))].join(',');
      data.push({ id: model, object: 'model', created: 0, owned_by: owners });
    }
    for (const [alias, model] of [...table.aliases].sort()) {
      if (usable(model)) data.push({ id: alias, object: 'model', created: 0, owned_by: `alias:${model}` });
    }
    return { object: 'list', data };
  }

  /** Drops every cached answer of `tenant`. */
  clearCache(tenant: string | undefined): Promise<number> {
    return this.deps.store.clear(tenant || DEFAULT_TENANT);
  }

  /** Refreshes the per-tenant active-user and cost-per-user gauges and the circuit gauges. */
  async refreshGauges(): Promise<void> {
    const now = this.now();
    for (const tenant of this.tenants) {
      const stats = await this.deps.limits.monthStats(tenant, now);
      llmMonthlyActiveUsers.set({ tenant }, stats.users);
      if (stats.users > 0) llmCostPerMau.set({ tenant }, stats.costUsd / stats.users);
    }
    const value = { closed: 0, 'half-open': 1, open: 2 } as const;
    for (const [provider, state] of Object.entries(this.deps.router.circuits()))
      llmCircuitState.set({ provider }, value[state]);
  }

  /** Waits for background settlement (usage, budgets, cache writes, ledger rows) to finish. */
  async drain(): Promise<void> {
    while (this.background.size > 0) await Promise.all([...this.background]);
  }

  private async prepare(request: LlmChatRequest, caller: ChatCaller, mode: CacheMode): Promise<Prepared> {
    const started = this.now();
    caller = { ...caller, deadline: Math.min(caller.deadline, started + this.deps.settings.maxTimeoutMs) };
    const body = request.body;
    const model = resolveModel(this.deps.table, body.model);
    const user = request.user ?? body.user ?? undefined;
    const options = { ...body.cache, ...request.cache };
    // Only deterministic requests are cached unless the caller opts in (explicitly, or by giving a TTL).
    const eligible =
      options.enabled !== false &&
      (body.temperature === 0 || options.enabled === true || options.ttl_s !== undefined);
    const policy = this.policy(caller.tenant);
    this.tenants.add(caller.tenant);
    let ratelimit: RateWindows;
    try {
      ratelimit = await this.deps.limits.admit(caller.tenant, policy, started);
    } catch (err) {
      if (err instanceof RegattaError)
        llmRefused.inc({ reason: err.details?.limit === 'tpm' ? 'tpm' : 'rpm' });
      throw err;
    }
    if (user !== undefined) this.track(this.deps.limits.recordUser(caller.tenant, user, started));
    const p: Prepared = {
      caller,
      body,
      model,
      user,
      mode,
      key: eligible ? cacheKey(caller.tenant, mode, normalizeRequest(model, body)) : undefined,
      read: eligible && options.no_cache !== true,
      write: eligible && options.no_store !== true,
      ttlS: options.ttl_s ?? this.deps.settings.cacheTtlS,
      policy,
      ratelimit,
      started,
      abort: undefined,
      deadlineTimer: undefined,
    };
    this.running.set(caller.requestId, p);
    return p;
  }

  /**
   * The abort signal of a request that waits on a call, made on first use: a controller and one plain
   * timer, cleared by `done()`. (`AbortSignal.timeout` + `AbortSignal.any` per request cost tens of
   * microseconds and leave a weakly held timer behind for the whole deadline, minutes for LLM calls.)
   */
  private signal(p: Prepared): AbortSignal {
    if (!p.abort) {
      const abort = new AbortController();
      p.abort = abort;
      p.deadlineTimer = setTimeout(() => abort.abort(), Math.max(1, p.caller.deadline - this.now()));
      p.deadlineTimer.unref();
    }
    return p.abort.signal;
  }

  private policy(tenant: string): LimitPolicy {
    let policy = this.policies.get(tenant);
    if (!policy) {
      const override = this.deps.settings.tenantPolicies[tenant] ?? {};
      policy = { ...this.deps.settings.defaultPolicy, ...override };
      this.policies.set(tenant, policy);
    }
    return policy;
  }

  /** Finds the answer: cache, a call in flight (here or on another replica), or a new upstream call. */
  private async obtain(p: Prepared, retried = false): Promise<Source> {
    if (p.key && p.read) {
      const answer = await this.deps.store.get(p.key);
      if (answer && answer.mode === p.mode) return { status: 'HIT', answer };
    }
    if (!p.key || !p.read) {
      // Not coalesced: a non-deterministic answer is the caller's own; `no_cache` asks for a fresh one.
      const call = new SharedCall();
      await this.lead(p, call, undefined);
      return { status: p.key ? 'MISS' : 'BYPASS', call, leader: true };
    }
    const existing = this.inflight.get(p.key);
    if (existing) return this.follow(p, existing, retried);
    const call = new SharedCall();
    const key = p.key;
    this.inflight.set(key, call);
    void call.settled().then(() => {
      if (this.inflight.get(key) === call) this.inflight.delete(key);
    });
    const role = this.deps.rendezvous ? await this.deps.rendezvous.acquire(key) : { role: 'alone' as const };
    if (role.role === 'follower') {
      this.track(this.deps.rendezvous!.follow(key, role.callId, call));
      return this.follow(p, call, retried);
    }
    const publisher = role.role === 'leader' ? role.publisher : undefined;
    // Another replica may have finished and cached this answer between our lookup and our lease.
    if (publisher) {
      const answer = await this.deps.store.get(key);
      if (answer && answer.mode === p.mode) {
        for (const item of answer.items) publisher.push(item);
        publisher.finish({ provider: answer.provider, usage: answer.usage });
        for (const item of answer.items) call.push(item);
        call.finish({ provider: answer.provider, usage: answer.usage });
        void publisher.release();
        return { status: 'HIT', answer };
      }
    }
    await this.lead(p, call, publisher);
    return { status: 'MISS', call, leader: true };
  }

  /** Joins a call in flight; if it failed for reasons of its starter (its budget), tries once on its own. */
  private async follow(p: Prepared, call: SharedCall, retried: boolean): Promise<Source> {
    if (!retried) {
      // Wait only as long as needed to see whether the starter was refused before calling upstream.
      await call.started();
      const failure = call.error;
      if (failure && !failure.shared) return this.obtain(p, true);
    }
    return { status: 'COALESCED', call, leader: false };
  }

  /** Reserves the worst case against budgets and starts the upstream call into `call`. */
  private async lead(p: Prepared, call: SharedCall, publisher: CallPublisher | undefined): Promise<void> {
    const price = priceOf(this.deps.prices, p.model);
    let reservation: Reservation;
    try {
      const budgeted =
        p.policy.budgetUsd !== undefined || (p.user !== undefined && p.policy.userBudgetUsd !== undefined);
      // Without a budget there is nothing to check before the call (a round trip to Redis on every
      // miss): the cost is still added to the month's spend when it is committed.
      reservation = budgeted
        ? await this.deps.limits.reserve(
            p.caller.tenant,
            p.user,
            toNanos(worstCaseUsd(p.body, price, this.deps.settings.defaultMaxOutputTokens), 'up'),
            p.policy,
            this.now(),
          )
        : { tenant: p.caller.tenant, user: p.user, month: monthOf(this.now()), nanos: 0 };
    } catch (err) {
      const error = RegattaError.from(err);
      if (error.details?.budget)
        llmRefused.inc({ reason: error.details.budget === 'user' ? 'user_budget' : 'tenant_budget' });
      call.fail(error, false);
      publisher?.fail(error, false);
      void publisher?.release();
      throw error;
    }
    this.track(this.runUpstream(p, call, reservation, publisher));
    if (p.mode === 'json') return;
    // A stream's meta frame goes out with its first chunk; errors before it are plain errors.
    await call.started();
    if (call.error && call.items.length === 0) throw call.error.error;
  }

  private upstreamBody(p: Prepared, target: RouteTarget): JsonObject {
    const { cache: _cache, ...body } = p.body;
    const out: JsonObject = { ...body, model: target.upstreamModel };
    if (p.mode === 'sse') {
      out.stream = true;
      // Always ask for usage, so streamed calls are never recorded at $0; stripped for callers who did not ask.
      out.stream_options = { ...(p.body.stream_options ?? {}), include_usage: true };
    } else delete out.stream_options;
    if (p.mode === 'json') delete out.stream;
    return out;
  }

  private async runUpstream(
    p: Prepared,
    call: SharedCall,
    reservation: Reservation,
    publisher: CallPublisher | undefined,
  ): Promise<void> {
    try {
      await this.callUpstream(p, call, reservation, publisher);
    } finally {
      // Whatever went wrong while settling, readers waiting for the starter's spend must not wait forever.
      call.settleSpend({ provider: '', costUsd: 0, usageEstimated: false });
    }
  }

  private async callUpstream(
    p: Prepared,
    call: SharedCall,
    reservation: Reservation,
    publisher: CallPublisher | undefined,
  ): Promise<void> {
    const { router } = this.deps;
    const signal = call.abort.signal;
    let provider = '';
    let usage: ChatUsage | undefined;
    const push = (item: JsonObject) => {
      call.push(item);
      publisher?.push(item);
      const parsed = item.usage ? ChatUsage.safeParse(item.usage) : undefined;
      if (parsed?.success) usage = parsed.data;
    };
    try {
      if (p.mode === 'json') {
        const routed = await router.call(p.model, p.caller.deadline, signal, (prov, target) =>
          prov.complete({ body: this.upstreamBody(p, target), deadline: p.caller.deadline, signal }),
        );
        provider = routed.provider;
        push(routed.value);
      } else {
        const routed = await router.call(p.model, p.caller.deadline, signal, async (prov, target) => {
          const iterator = prov
            .stream({ body: this.upstreamBody(p, target), deadline: p.caller.deadline, signal })
            [Symbol.asyncIterator]();
          // The first chunk is part of the attempt: a stream that fails before it can still fall back.
          return { iterator, first: await iterator.next() };
        });
        provider = routed.provider;
        let next = routed.value.first;
        try {
          while (!next.done) {
            push(next.value);
            next = await routed.value.iterator.next();
          }
        } catch (err) {
          if (err instanceof UpstreamError && err.advice.breaker) router.reportStreamFailure(provider);
          throw err instanceof UpstreamError ? err.error : err;
        }
      }
    } catch (err) {
      const error = signal.aborted
        ? new RegattaError('UNAVAILABLE', 'request cancelled by its caller')
        : err instanceof UpstreamError
          ? err.error
          : RegattaError.from(err);
      call.fail(error);
      publisher?.fail(error, true);
      // A cut stream may still be billed by the provider for what it produced: estimate it.
      const partial = call.items.length > 0 ? await this.estimate(p, call.items, undefined) : undefined;
      const cost = partial ? costUsd(priceOf(this.deps.prices, p.model), tokenCounts(partial)) : 0;
      await this.deps.limits.commit(reservation, toNanos(cost));
      if (provider && partial) this.countSpend(p, provider, partial, true, cost);
      call.settleSpend({ provider, costUsd: cost, usage: partial, usageEstimated: true });
      await publisher?.release();
      return;
    }
    const outcome = { provider, usage };
    call.finish(outcome);
    publisher?.finish(outcome);
    const estimated = usage === undefined;
    const finalUsage = usage ?? (await this.estimate(p, call.items, undefined));
    const cost = costUsd(priceOf(this.deps.prices, p.model), tokenCounts(finalUsage));
    call.settleSpend({ provider, costUsd: cost, usage: finalUsage, usageEstimated: estimated });
    await this.deps.limits.commit(reservation, toNanos(cost));
    await this.deps.limits.addTokens(
      p.caller.tenant,
      finalUsage.prompt_tokens + finalUsage.completion_tokens,
      this.now(),
    );
    this.countSpend(p, provider, finalUsage, estimated, cost);
    if (p.key && p.write) {
      const answer: CachedAnswer = {
        mode: p.mode,
        items: call.items,
        model: p.model,
        provider,
        usage: finalUsage,
        usageEstimated: estimated,
        costUsd: cost,
        storedAt: this.now(),
      };
      const text = JSON.stringify(answer);
      if (Buffer.byteLength(text) <= this.deps.settings.maxEntryBytes)
        await this.deps.store.set(p.key, answer, p.ttlS, text);
    }
    await publisher?.release();
  }

  private countSpend(
    p: Prepared,
    provider: string,
    usage: ChatUsage,
    estimated: boolean,
    cost: number,
  ): void {
    const tokens = tokenCounts(usage);
    const source = estimated ? 'estimated' : 'provider';
    const labels = { tenant: p.caller.tenant, model: p.model };
    llmTokens.inc({ ...labels, kind: 'prompt', source }, tokens.prompt);
    llmTokens.inc({ ...labels, kind: 'cached_prompt', source }, tokens.cachedPrompt);
    llmTokens.inc({ ...labels, kind: 'completion', source }, tokens.completion);
    llmCost.inc({ ...labels, provider }, cost);
  }

  /** Estimated usage from the text of the request and the answer items (off the request path). */
  private async estimate(p: Prepared, items: JsonObject[], _hint: undefined): Promise<ChatUsage> {
    const messages = p.body.messages.map((m) => textOf(m.content));
    const completion = items.map((item) => answerText(item)).join('');
    const estimate = await this.deps.estimator.estimate({ messages, completion });
    return {
      prompt_tokens: estimate.prompt,
      completion_tokens: estimate.completion,
      total_tokens: estimate.prompt + estimate.completion,
    };
  }

  private meta(p: Prepared, source: Source): LlmReplyMeta {
    const meta: LlmReplyMeta = {
      cache: source.status,
      model: p.model,
      request_id: p.caller.requestId,
      ratelimit: p.ratelimit,
    };
    const provider = source.status === 'HIT' ? undefined : source.call.outcome?.provider;
    if (provider) meta.provider = provider;
    return meta;
  }

  /** Records a delivered answer in the ledger once its usage is known (off the request path). */
  private settleReader(p: Prepared, source: Source): void {
    const latency = this.now() - p.started;
    llmCacheRequests.inc({ result: source.status.toLowerCase() });
    if (source.status === 'HIT' && source.answer.usage) {
      // The common hit: everything is known, so the row is recorded now, without a promise per request.
      const price = priceOf(this.deps.prices, p.model);
      const usage = source.answer.usage;
      this.saved(p, usage, costUsd(price, tokenCounts(usage)), this.row(p, 'HIT', 'ok', latency));
      return;
    }
    this.track(
      (async () => {
        const price = priceOf(this.deps.prices, p.model);
        const base = this.row(p, source.status, 'ok', latency);
        if (source.status === 'HIT') {
          const usage = source.answer.usage ?? (await this.estimate(p, source.answer.items, undefined));
          this.saved(p, usage, costUsd(price, tokenCounts(usage)), base);
          return;
        }
        await source.call.settled();
        // The starter's own row is written when its cost is known; followers record what they avoided.
        if (source.status === 'COALESCED') {
          const usage = source.call.outcome?.usage ?? (await this.estimate(p, source.call.items, undefined));
          base.provider = source.call.outcome?.provider ?? null;
          this.saved(p, usage, costUsd(price, tokenCounts(usage)), base);
          return;
        }
        this.deps.ledger.record(withSpend(base, await source.call.spend()));
      })(),
    );
  }

  private saved(p: Prepared, usage: ChatUsage, avoided: number, base: UsageRow): void {
    const tokens = tokenCounts(usage);
    llmCacheTokensSaved.inc({ kind: 'prompt' }, tokens.prompt);
    llmCacheTokensSaved.inc({ kind: 'completion' }, tokens.completion);
    llmCostAvoided.inc({ tenant: p.caller.tenant }, avoided);
    this.deps.ledger.record({
      ...base,
      prompt_tokens: tokens.prompt,
      completion_tokens: tokens.completion,
      cached_tokens: tokens.cachedPrompt,
      cost_avoided_usd: avoided,
    });
  }

  private row(p: Prepared, status: LlmCacheStatus, outcome: string, latency: number): UsageRow {
    return {
      request_id: p.caller.requestId,
      tenant: p.caller.tenant,
      user_id: p.user ?? null,
      model: p.model,
      provider: null,
      prompt_tokens: 0,
      completion_tokens: 0,
      cached_tokens: 0,
      cost_usd: 0,
      cache_status: status,
      cost_avoided_usd: 0,
      latency_ms: latency,
      usage_estimated: false,
      stream: p.mode === 'sse',
      outcome,
      price_version: this.deps.prices.version,
      created_at: new Date(p.started).toISOString(),
    };
  }

  /** Records a failed request (refused, upstream error, cancelled) in the ledger; returns its outcome label. */
  private failure(p: Prepared, err: unknown, source: Source | undefined): string {
    const cancelled = p.abort?.signal.aborted === true && !this.deadlinePassed(p);
    const outcome = cancelled ? 'cancelled' : this.asError(p, err).code;
    const row = this.row(p, source?.status ?? 'BYPASS', outcome, this.now() - p.started);
    if (source && source.status !== 'HIT' && source.leader) {
      // The starter pays for what a cut stream produced; its spend is known once the call has settled.
      const call = source.call;
      this.track(call.spend().then((spend) => this.deps.ledger.record(withSpend(row, spend))));
    } else this.deps.ledger.record(row);
    return outcome;
  }

  private deadlinePassed(p: Prepared): boolean {
    return this.now() >= p.caller.deadline - 1;
  }

  private asError(p: Prepared, err: unknown): RegattaError {
    if (this.deadlinePassed(p) && !(err instanceof RegattaError && err.code === 'RESOURCE_EXHAUSTED'))
      return new RegattaError('DEADLINE_EXCEEDED', `LLM call did not finish before the request's deadline`);
    if (err instanceof UpstreamError) return err.error;
    return RegattaError.from(err);
  }

  private done(p: Prepared, status: LlmCacheStatus, outcome: string): void {
    if (this.running.get(p.caller.requestId) === p) this.running.delete(p.caller.requestId);
    clearTimeout(p.deadlineTimer);
    const labels = { model: p.model, cache: status, stream: String(p.mode === 'sse') };
    llmRequests.inc({ ...labels, outcome });
    llmDuration.observe(labels, (this.now() - p.started) / 1000);
  }

  private track(work: Promise<unknown>): void {
    const tracked = work.then(
      () => undefined,
      (err: unknown) =>
        log.error({ err: err instanceof Error ? err.message : String(err) }, 'LLM settlement failed'),
    );
    this.background.add(tracked);
    void tracked.finally(() => this.background.delete(tracked));
  }
}

/** A ledger row with the starter's spend filled in. */
function withSpend(row: UsageRow, spend: CallSpend): UsageRow {
  const tokens = spend.usage ? tokenCounts(spend.usage) : { prompt: 0, cachedPrompt: 0, completion: 0 };
  return {
    ...row,
    provider: spend.provider || null,
    prompt_tokens: tokens.prompt,
    completion_tokens: tokens.completion,
    cached_tokens: tokens.cachedPrompt,
    cost_usd: spend.costUsd,
    usage_estimated: spend.usageEstimated,
  };
}

/** A chunk as the caller asked for it: without usage unless `stream_options.include_usage` was set. */
export function forCaller(chunk: JsonObject, wantsUsage: boolean): JsonObject | undefined {
  if (wantsUsage || !('usage' in chunk)) return chunk;
  if (Array.isArray(chunk.choices) && chunk.choices.length === 0) return undefined;
  const { usage: _usage, ...rest } = chunk;
  return rest;
}

function textOf(content: unknown): string {
  if (typeof content === 'string') return content;
  if (Array.isArray(content))
    return content
      .map((part: { text?: unknown }) => (typeof part.text === 'string' ? part.text : ''))
      .join('');
  return '';
}

/** The text an answer item carries: message or delta content and tool-call arguments of every choice. */
function answerText(item: JsonObject): string {
  const choices = Array.isArray(item.choices) ? (item.choices as JsonObject[]) : [];
  let text = '';
  for (const choice of choices) {
    const part = (choice.message ?? choice.delta) as JsonObject | undefined;
    if (!part) continue;
    text += textOf(part.content);
    for (const call of (part.tool_calls as { function?: { arguments?: unknown } }[] | undefined) ?? [])
      if (typeof call.function?.arguments === 'string') text += call.function.arguments;
  }
  return text;
}
