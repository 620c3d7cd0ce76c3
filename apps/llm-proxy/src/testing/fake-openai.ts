import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { type AddressInfo } from 'node:net';

/** A body the fake received. */
export type FakeRequestBody = Record<string, unknown> & {
  stream?: boolean;
  messages?: { content?: unknown }[];
};

/**
 * An OpenAI-compatible HTTP server for tests: answers `POST /v1/chat/completions` with a reply that
 * echoes the last message, whole or streamed, and counts calls, aborted calls and calls in flight.
 * `failWith` makes the next calls answer with those statuses, `latencyMs`/`chunkDelayMs` slow it down,
 * `hold()` keeps every answer back until released.
 */
export class FakeOpenAi {
  calls = 0;
  aborted = 0;
  inFlight = 0;
  latencyMs = 0;
  chunkDelayMs = 0;
  chunks = 3;
  sendUsage = true;
  /** End streams before `[DONE]` (a provider that dies mid-answer). */
  truncate = false;
  /** Statuses answered (in order) before calls succeed again. */
  failWith: number[] = [];
  retryAfterS: number | undefined;
  readonly bodies: FakeRequestBody[] = [];
  private gate: Promise<void> | undefined;

  private constructor(private readonly server: Server) {}

  /** Holds every answer (calls are still counted on arrival) until the returned function is called. */
  hold(): () => void {
    let release!: () => void;
    this.gate = new Promise<void>((resolve) => (release = resolve));
    return () => {
      this.gate = undefined;
      release();
    };
  }

  static async start(): Promise<FakeOpenAi> {
    const holder: { fake?: FakeOpenAi } = {};
    const server = createServer((req, res) => void holder.fake!.handle(req, res));
    const fake = new FakeOpenAi(server);
    holder.fake = fake;
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    return fake;
  }

  /** Base URL as a provider configuration takes it. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/v1`;
  }

  close(): Promise<void> {
    this.server.closeAllConnections();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    let raw = '';
    for await (const piece of req) raw += String(piece);
    if (req.method !== 'POST' || !req.url?.endsWith('/chat/completions')) {
      res.writeHead(404).end('{"error":{"message":"no such route"}}');
      return;
    }
    const body = JSON.parse(raw) as FakeRequestBody;
    this.calls++;
    this.bodies.push(body);
    const status = this.failWith.shift();
    if (status !== undefined) {
      const headers: Record<string, string> = { 'content-type': 'application/json' };
      if (this.retryAfterS !== undefined) headers['retry-after'] = String(this.retryAfterS);
      res.writeHead(status, headers).end(JSON.stringify({ error: { message: `fake failure ${status}` } }));
      return;
    }
    this.inFlight++;
    let finished = false;
    res.on('close', () => {
      this.inFlight--;
      if (!finished) this.aborted++;
    });
    if (this.gate) await this.gate;
    await sleep(this.latencyMs);
    const last = body.messages?.[body.messages.length - 1]?.content;
    const text = `echo: ${typeof last === 'string' ? last : JSON.stringify(last)}`;
    const usage = {
      prompt_tokens: 10,
      completion_tokens: 5,
      total_tokens: 15,
      prompt_tokens_details: { cached_tokens: 4 },
    };
    const id = `chatcmpl-fake-${this.calls}`;
    const model = String(body.model);
    if (!body.stream) {
      finished = true;
      res.writeHead(200, { 'content-type': 'application/json' }).end(
        JSON.stringify({
          id,
          object: 'chat.completion',
          created: 1_700_000_000,
          model,
          choices: [{ index: 0, message: { role: 'assistant', content: text }, finish_reason: 'stop' }],
          ...(this.sendUsage && { usage }),
        }),
      );
      return;
    }
    const withUsage =
      this.sendUsage && (body.stream_options as { include_usage?: boolean } | undefined)?.include_usage;
    res.writeHead(200, { 'content-type': 'text/event-stream' });
    const base = {
      id,
      object: 'chat.completion.chunk',
      created: 1_700_000_000,
      model,
      ...(withUsage && { usage: null }),
    };
    const send = (data: unknown) => res.write(`data: ${JSON.stringify(data)}\n\n`);
    send({
      ...base,
      choices: [{ index: 0, delta: { role: 'assistant', content: '' }, finish_reason: null }],
    });
    const words = text.split(' ');
    const per = Math.ceil(words.length / this.chunks);
    for (let i = 0; i < words.length; i += per) {
      if (res.destroyed) return;
      await sleep(this.chunkDelayMs);
      const piece = (i > 0 ? ' ' : '') + words.slice(i, i + per).join(' ');
      send({ ...base, choices: [{ index: 0, delta: { content: piece }, finish_reason: null }] });
    }
    if (this.truncate) {
      res.destroy();
      return;
    }
    send({ ...base, choices: [{ index: 0, delta: {}, finish_reason: 'stop' }] });
    if (withUsage) send({ ...base, choices: [], usage });
    finished = true;
    res.end('data: [DONE]\n\n');
  }
}

function sleep(ms: number): Promise<void> {
  return ms > 0 ? new Promise((resolve) => setTimeout(resolve, ms)) : Promise.resolve();
}
