import { z } from 'zod';
import { contract } from './contract.js';

// The OpenAI chat-completions wire format, as far as Regatta needs to understand it. Objects are loose:
// fields Regatta does not know (new provider options, reasoning content, audio) pass through untouched,
// so a proxy hop never drops what a caller or a provider sent.

/** One message of a conversation. */
export const ChatMessage = z.looseObject({
  role: z.enum(['system', 'developer', 'user', 'assistant', 'tool', 'function']),
  content: z.union([z.string(), z.array(z.looseObject({ type: z.string() })), z.null()]).optional(),
  name: z.string().max(256).optional(),
  tool_call_id: z.string().optional(),
  tool_calls: z.array(z.looseObject({ id: z.string().optional(), type: z.string().optional() })).optional(),
});
export type ChatMessage = z.infer<typeof ChatMessage>;

/**
 * Regatta's per-request cache controls (the body field `cache`, or the HTTP `Cache-Control` header).
 * `enabled` opts a non-deterministic request (temperature above 0) into caching and coalescing.
 */
export const LlmCacheOptions = z.strictObject({
  enabled: z.boolean().optional(),
  /** Do not answer from the cache (the fresh answer is still stored unless `no_store`). */
  no_cache: z.boolean().optional(),
  /** Do not store this answer. */
  no_store: z.boolean().optional(),
  /** Lifetime of the stored answer in seconds (at most 30 days). */
  ttl_s: z
    .number()
    .int()
    .positive()
    .max(30 * 86_400)
    .optional(),
});
export type LlmCacheOptions = z.infer<typeof LlmCacheOptions>;

const nonNegativeInt = z.number().int().nonnegative();

/** `POST /v1/chat/completions` request body (OpenAI-compatible, plus Regatta's `cache`). */
export const ChatCompletionRequest = z.looseObject({
  model: z.string().min(1).max(256),
  messages: z.array(ChatMessage).min(1, 'messages must hold at least one message').max(10_000),
  stream: z.boolean().nullish(),
  stream_options: z.looseObject({ include_usage: z.boolean().optional() }).nullish(),
  temperature: z.number().min(0).max(2).nullish(),
  top_p: z.number().min(0).max(1).nullish(),
  n: z.number().int().min(1).max(16).nullish(),
  max_tokens: z.number().int().positive().nullish(),
  max_completion_tokens: z.number().int().positive().nullish(),
  stop: z.union([z.string(), z.array(z.string()).max(4)]).nullish(),
  seed: z.number().int().nullish(),
  presence_penalty: z.number().min(-2).max(2).nullish(),
  frequency_penalty: z.number().min(-2).max(2).nullish(),
  logit_bias: z.record(z.string(), z.number()).nullish(),
  logprobs: z.boolean().nullish(),
  top_logprobs: nonNegativeInt.max(20).nullish(),
  tools: z.array(z.looseObject({ type: z.string() })).nullish(),
  tool_choice: z.unknown().optional(),
  parallel_tool_calls: z.boolean().nullish(),
  response_format: z.looseObject({ type: z.string() }).nullish(),
  user: z.string().max(256).nullish(),
  cache: LlmCacheOptions.optional(),
});
export type ChatCompletionRequest = z.infer<typeof ChatCompletionRequest>;

/** Token usage as OpenAI reports it; `cached_tokens` is part of `prompt_tokens`, never extra. */
export const ChatUsage = z.looseObject({
  prompt_tokens: nonNegativeInt,
  completion_tokens: nonNegativeInt,
  total_tokens: nonNegativeInt.optional(),
  prompt_tokens_details: z.looseObject({ cached_tokens: nonNegativeInt.nullish() }).nullish(),
});
export type ChatUsage = z.infer<typeof ChatUsage>;

/** A non-streamed completion. */
export const ChatCompletion = z.looseObject({
  id: z.string(),
  object: z.string(),
  created: z.number(),
  model: z.string(),
  choices: z.array(z.looseObject({ index: z.number().int() })),
  usage: ChatUsage.nullish(),
});
export type ChatCompletion = z.infer<typeof ChatCompletion>;

/** One streamed chunk (`chat.completion.chunk`); kept loose, it is checked once at the provider edge. */
export const ChatCompletionChunk = z.looseObject({
  choices: z.array(z.unknown()),
});
export type ChatCompletionChunk = z.infer<typeof ChatCompletionChunk>;

/** Where an answer came from: the cache, a fresh upstream call, another caller's identical call, or no cache. */
export const LlmCacheStatus = z.enum(['HIT', 'MISS', 'COALESCED', 'BYPASS']);
export type LlmCacheStatus = z.infer<typeof LlmCacheStatus>;

/** One rate-limit window as the caller should see it (HTTP `RateLimit` and `x-ratelimit-*` headers). */
export const LlmLimitWindow = z.object({
  limit: nonNegativeInt,
  remaining: nonNegativeInt,
  reset_s: nonNegativeInt,
});
export type LlmLimitWindow = z.infer<typeof LlmLimitWindow>;

/** What the gateway turns into response headers. */
export const LlmReplyMeta = z.object({
  cache: LlmCacheStatus,
  /** The model the request was routed to (after alias resolution). */
  model: z.string(),
  /** Provider that answered (absent on a cache hit). */
  provider: z.string().optional(),
  request_id: z.string(),
  ratelimit: z.object({ requests: LlmLimitWindow.optional(), tokens: LlmLimitWindow.optional() }),
});
export type LlmReplyMeta = z.infer<typeof LlmReplyMeta>;

/** `llm.chat.v1` request: the OpenAI body plus who asks and header-level cache controls. */
export const LlmChatRequest = z.object({
  body: ChatCompletionRequest,
  /** End user the call is made for (budgets per user, monthly active users); falls back to `body.user`. */
  user: z.string().min(1).max(256).optional(),
  /** Cache controls from HTTP headers; merged over `body.cache`. */
  cache: LlmCacheOptions.optional(),
});
export type LlmChatRequest = z.infer<typeof LlmChatRequest>;

export const LlmChatReply = z.object({ meta: LlmReplyMeta, completion: ChatCompletion });
export type LlmChatReply = z.infer<typeof LlmChatReply>;

/** A frame of a streamed `llm.chat.v1`: first `meta` (sent with the first chunk), then `chunk`s. */
export const LlmChatFrame = z.discriminatedUnion('type', [
  z.object({ type: z.literal('meta'), meta: LlmReplyMeta }),
  z.object({ type: z.literal('chunk'), chunk: ChatCompletionChunk }),
]);
export type LlmChatFrame = z.infer<typeof LlmChatFrame>;

/** `GET /v1/models` (OpenAI list format). */
export const LlmModelList = z.object({
  object: z.literal('list'),
  data: z.array(
    z.object({ id: z.string(), object: z.literal('model'), created: z.number(), owned_by: z.string() }),
  ),
});
export type LlmModelList = z.infer<typeof LlmModelList>;

export const LlmCancelRequest = z.object({ request_id: z.string().min(1).max(128) });
export const LlmCancelReply = z.object({ cancelled: z.boolean() });
export const LlmClearCacheReply = z.object({ deleted: nonNegativeInt });
export type LlmClearCacheReply = z.infer<typeof LlmClearCacheReply>;

/** The llm-proxy's subjects. */
export const LLM = {
  /** A chat completion, answered whole or (with the stream header) as frames. Never retried: it costs money. */
  chat: contract({
    subject: 'llm.chat.v1',
    request: LlmChatRequest,
    reply: LlmChatReply,
    chunk: LlmChatFrame,
    idempotent: false,
  }),
  models: contract({ subject: 'llm.models.v1', request: z.object({}).strict(), reply: LlmModelList }),
  /** Stops the upstream call of a request whose caller went away; every replica hears it. */
  cancel: contract({ subject: 'llm.cancel.v1', request: LlmCancelRequest, reply: LlmCancelReply }),
  /** Drops every cached answer of the calling tenant. */
  clearCache: contract({
    subject: 'llm.cache.clear.v1',
    request: z.object({}).strict(),
    reply: LlmClearCacheReply,
  }),
} as const;

/** HTTP headers of the LLM routes. */
export const LLM_HEADERS = {
  /** `HIT`, `MISS`, `COALESCED` or `BYPASS`. */
  cache: 'x-regatta-cache',
  /** Provider that produced the answer. */
  provider: 'x-regatta-provider',
  /** End-user id for per-user budgets when the body has no `user`. */
  user: 'regatta-user',
} as const;
