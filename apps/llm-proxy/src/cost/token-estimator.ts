import { createRequire } from 'node:module';
import { Worker } from 'node:worker_threads';
import { createLogger } from '@regatta/telemetry';

const log = createLogger('llm-proxy');

/** Texts whose tokens are estimated when a provider reported no usage. */
export interface EstimateInput {
  /** Every message's text, in order. */
  messages: string[];
  /** The answer's text (content and tool-call arguments of every choice). */
  completion: string;
}

/** Token counts estimated from text. */
export interface TokenEstimate {
  prompt: number;
  completion: number;
}

/** Counts tokens of text; used only after the answer was sent, never on the request path. */
export interface TokenEstimator {
  estimate(input: EstimateInput): Promise<TokenEstimate>;
  close(): Promise<void>;
}

// Chat formats add a few tokens of framing per message (role and separators).
const PER_MESSAGE_TOKENS = 4;

/** About four bytes of English text per token: cheap, and good to a few tens of percent. */
export class HeuristicEstimator implements TokenEstimator {
  estimate(input: EstimateInput): Promise<TokenEstimate> {
    const count = (text: string) => Math.ceil(Buffer.byteLength(text) / 4);
    return Promise.resolve({
      prompt: input.messages.reduce((sum, m) => sum + count(m) + PER_MESSAGE_TOKENS, 0),
      completion: count(input.completion),
    });
  }

  close(): Promise<void> {
    return Promise.resolve();
  }
}

// Runs in a worker thread: loading the BPE ranks takes about a second and much memory, which would stall
// every request of the process if done on its event loop.
const WORKER_SOURCE = `
const { parentPort, workerData } = require('node:worker_threads');
const { Tiktoken } = require(workerData.lite);
const ranks = require(workerData.ranks);
const enc = new Tiktoken(ranks.default || ranks);
parentPort.on('message', ({ id, messages, completion }) => {
  let prompt = 0;
  for (const m of messages) prompt += enc.encode(m).length + ${PER_MESSAGE_TOKENS};
  parentPort.postMessage({ id, prompt, completion: enc.encode(completion).length });
});`;

/** Exact o200k_base token counts (the encoding of current OpenAI models) from a worker thread started on first use. */
export class TiktokenEstimator implements TokenEstimator {
  private worker: Worker | undefined;
  /** Set once the worker failed: later estimates use the heuristic instead of restarting it each time. */
  private broken = false;
  private nextId = 0;
  private readonly pending = new Map<number, (estimate: TokenEstimate | undefined) => void>();
  private readonly fallback = new HeuristicEstimator();

  async estimate(input: EstimateInput): Promise<TokenEstimate> {
    const worker = this.start();
    if (!worker) return this.fallback.estimate(input);
    const id = this.nextId++;
    const result = await new Promise<TokenEstimate | undefined>((resolve) => {
      this.pending.set(id, resolve);
      worker.postMessage({ id, messages: input.messages, completion: input.completion });
    });
    return result ?? this.fallback.estimate(input);
  }

  private start(): Worker | undefined {
    if (this.worker) return this.worker;
    if (this.broken) return undefined;
    try {
      const require = createRequire(import.meta.url);
      const worker = new Worker(WORKER_SOURCE, {
        eval: true,
        workerData: {
          lite: require.resolve('js-tiktoken/lite'),
          ranks: require.resolve('js-tiktoken/ranks/o200k_base'),
        },
      });
      worker.unref();
      worker.on('message', (msg: { id: number; prompt: number; completion: number }) => {
        this.pending.get(msg.id)?.({ prompt: msg.prompt, completion: msg.completion });
        this.pending.delete(msg.id);
      });
      worker.on('error', (err) => {
        log.warn({ err: err.message }, 'token estimator worker failed; estimating by text length');
        this.broken = true;
        this.failAll();
      });
      worker.on('exit', () => {
        this.worker = undefined;
        this.failAll();
      });
      this.worker = worker;
      return worker;
    } catch (err) {
      log.warn(
        { err: (err as Error).message },
        'cannot start token estimator worker; estimating by text length',
      );
      this.broken = true;
      return undefined;
    }
  }

  private failAll(): void {
    for (const resolve of this.pending.values()) resolve(undefined);
    this.pending.clear();
  }

  async close(): Promise<void> {
    const worker = this.worker;
    this.worker = undefined;
    this.failAll();
    if (worker) await worker.terminate();
  }
}
