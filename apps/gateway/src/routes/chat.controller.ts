import { Body, Controller, Delete, Get, Inject, Post, Req, Res } from '@nestjs/common';
import {
  ChatCompletionRequest,
  LLM,
  LLM_HEADERS,
  type LlmCacheOptions,
  type LlmChatFrame,
  type LlmChatRequest,
  LlmClearCacheReply,
  LlmModelList,
  type LlmReplyMeta,
  RegattaError,
} from '@regatta/contracts';
import { RpcClient } from '@regatta/transport';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { Caller, Deadline, Schema, Scopes, sendEventStream } from '../edge/index.js';

/** Budget of an LLM call (`X-Request-Timeout-Ms` may lower it): answers take seconds, long ones minutes. */
const LLM_DEADLINE_MS = 300_000;
const tags = ['llm'];

/** OpenAI-compatible LLM routes, answered by the llm-proxy over NATS; the API key's tenant pays. */
@Controller('v1')
@Scopes('chat')
export class ChatController {
  constructor(@Inject(RpcClient) private readonly client: RpcClient) {}

  /** `POST /v1/chat/completions`: a completion, or server-sent events with `stream: true`. */
  @Post('chat/completions')
  @Deadline(LLM_DEADLINE_MS)
  @Schema({ body: ChatCompletionRequest, status: 200, summary: 'Chat completion (OpenAI-compatible)', tags })
  async chat(
    @Body() body: ChatCompletionRequest,
    @Caller() caller: Caller,
    @Req() req: FastifyRequest,
    @Res() reply: FastifyReply,
  ): Promise<FastifyReply> {
    const request = chatRequest(body, req);
    if (!body.stream) {
      const answer = await this.client.request(LLM.chat, request);
      setMetaHeaders(reply, answer.meta);
      return reply.status(200).type('application/json').send(answer.completion);
    }
    const frames = this.client.stream(LLM.chat, request, { signal: caller.signal });
    // The proxy sends its meta frame with the first chunk, so failures before it stay HTTP errors.
    const first = await frames.next();
    if (first.done || (first.value as LlmChatFrame).type !== 'meta')
      throw new RegattaError('INTERNAL', 'the LLM stream did not start with its meta frame');
    setMetaHeaders(reply, (first.value as LlmChatFrame & { type: 'meta' }).meta);
    const client = this.client;
    const gone = new Promise<'gone'>((resolve) => {
      if (caller.signal.aborted) resolve('gone');
      caller.signal.addEventListener('abort', () => resolve('gone'), { once: true });
    });
    async function* chunks(): AsyncGenerator<unknown> {
      let finished = false;
      try {
        for (;;) {
          // A client that went away must not leave this loop waiting for the next frame.
          const next = await Promise.race([frames.next(), gone]);
          if (next === 'gone') break;
          if (next.done) {
            finished = true;
            break;
          }
          const frame = next.value as LlmChatFrame;
          if (frame.type === 'chunk') yield frame.chunk;
        }
      } finally {
        if (!finished) {
          // The proxy stops the upstream call unless other callers wait for the same answer.
          void frames.return(undefined);
          client
            .request(LLM.cancel, { request_id: caller.requestId }, { timeoutMs: 1_000 })
            .catch(() => undefined);
        }
      }
    }
    return sendEventStream(req, reply, chunks());
  }

  /** `GET /v1/models`: the routable models and aliases (OpenAI list format). */
  @Get('models')
  @Schema({ reply: LlmModelList, summary: 'Models this gateway routes (OpenAI-compatible)', tags })
  models(): Promise<LlmModelList> {
    return this.client.request(LLM.models, {});
  }

  /** `DELETE /v1/llm/cache`: drops every cached answer of the caller's tenant. */
  @Delete('llm/cache')
  @Schema({ reply: LlmClearCacheReply, summary: "Clear the tenant's LLM answer cache", tags })
  clearCache(): Promise<LlmClearCacheReply> {
    return this.client.request(LLM.clearCache, {}, { timeoutMs: 10_000 });
  }
}

function chatRequest(body: ChatCompletionRequest, req: FastifyRequest): LlmChatRequest {
  const request: LlmChatRequest = { body };
  const user = req.headers[LLM_HEADERS.user];
  if (typeof user === 'string' && user !== '') request.user = user;
  const cache = cacheControl(req.headers['cache-control']);
  if (cache) request.cache = cache;
  return request;
}

/** `Cache-Control` as cache options: `no-cache`, `no-store`, and `max-age=N` (which also opts in to caching). */
export function cacheControl(value: string | undefined): LlmCacheOptions | undefined {
  if (!value) return undefined;
  const options: LlmCacheOptions = {};
  for (const directive of value
    .toLowerCase()
    .split(',')
    .map((d) => d.trim())) {
    if (directive === 'no-cache') options.no_cache = true;
    else if (directive === 'no-store') options.no_store = true;
    else if (directive.startsWith('max-age=')) {
      const seconds = Number(directive.slice('max-age='.length));
      if (Number.isInteger(seconds) && seconds > 0) options.ttl_s = Math.min(seconds, 30 * 86_400);
    }
  }
  return Object.keys(options).length > 0 ? options : undefined;
}

/** Cache status, provider and rate-limit headers (IETF `RateLimit`/`RateLimit-Policy` and OpenAI's `x-ratelimit-*`). */
function setMetaHeaders(reply: FastifyReply, meta: LlmReplyMeta): void {
  void reply.header(LLM_HEADERS.cache, meta.cache);
  if (meta.provider) void reply.header(LLM_HEADERS.provider, meta.provider);
  const policies: string[] = [];
  const states: string[] = [];
  for (const [name, window] of Object.entries(meta.ratelimit)) {
    if (!window) continue;
    policies.push(`"llm-${name}";q=${window.limit};w=60`);
    states.push(`"llm-${name}";r=${window.remaining};t=${window.reset_s}`);
    void reply.header(`x-ratelimit-limit-${name}`, String(window.limit));
    void reply.header(`x-ratelimit-remaining-${name}`, String(window.remaining));
    void reply.header(`x-ratelimit-reset-${name}`, `${window.reset_s}s`);
  }
  // The gateway's per-key limit may have set these already: structured-field lists combine by joining.
  const join = (name: string, values: string[]) => {
    if (values.length === 0) return;
    const existing = reply.getHeader(name);
    const parts = [typeof existing === 'string' ? existing : undefined, ...values].filter(Boolean);
    void reply.header(name, parts.join(', '));
  };
  join('ratelimit-policy', policies);
  join('ratelimit', states);
}
