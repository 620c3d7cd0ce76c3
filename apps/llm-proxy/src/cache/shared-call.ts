import { type ChatUsage, RegattaError } from '@regatta/contracts';
import { type JsonObject } from '../providers/provider.js';

/** How a finished call went; usage is absent when the provider reported none (each reader estimates it). */
export interface CallOutcome {
  provider: string;
  usage?: ChatUsage | undefined;
}

/** What the starter of a call was charged, known after the answer (usage may have to be estimated). */
export interface CallSpend {
  provider: string;
  costUsd: number;
  usage?: ChatUsage | undefined;
  usageEstimated: boolean;
}

/**
 * One upstream call shared by every identical request that arrives while it runs. Items (the whole
 * completion, or each streamed chunk) are kept in order, so a request joining late still reads the
 * answer from its first chunk. The upstream call is aborted when the last reader leaves before the end.
 */
export class SharedCall {
  readonly items: JsonObject[] = [];
  readonly abort = new AbortController();
  private state: 'running' | 'done' | 'failed' = 'running';
  private failure: RegattaError | undefined;
  /** False when the failure belongs to the request that started the call (e.g. its budget), not to the answer. */
  private failureShared = true;
  private result: CallOutcome | undefined;
  private readers = 0;
  private wake: (() => void)[] = [];
  private readonly settledPromise: Promise<void>;
  private resolveSettled!: () => void;
  private readonly startedPromise: Promise<void>;
  private resolveStarted!: () => void;
  private readonly spendPromise: Promise<CallSpend>;
  /** Resolves the starter's spend; called once its cost is settled. */
  settleSpend!: (spend: CallSpend) => void;

  constructor() {
    this.settledPromise = new Promise((resolve) => (this.resolveSettled = resolve));
    this.startedPromise = new Promise((resolve) => (this.resolveStarted = resolve));
    this.spendPromise = new Promise((resolve) => (this.settleSpend = resolve));
  }

  /** Resolves at the first item, or when the call ends without one; does not count as a reader. */
  started(): Promise<void> {
    return this.startedPromise;
  }

  /** What the starter was charged (cross-replica followers never see this: they record what they avoided). */
  spend(): Promise<CallSpend> {
    return this.spendPromise;
  }

  get running(): boolean {
    return this.state === 'running';
  }

  /** The outcome once done. */
  get outcome(): CallOutcome | undefined {
    return this.result;
  }

  /** Resolves when the call is done or failed. */
  settled(): Promise<void> {
    return this.settledPromise;
  }

  push(item: JsonObject): void {
    if (this.state !== 'running') return;
    this.items.push(item);
    this.notify();
    this.resolveStarted();
  }

  finish(outcome: CallOutcome): void {
    if (this.state !== 'running') return;
    this.state = 'done';
    this.result = outcome;
    this.notify();
    this.resolveSettled();
    this.resolveStarted();
  }

  /** Fails the call; `shared: false` tells followers to retry on their own instead of failing too. */
  fail(error: RegattaError, shared = true): void {
    if (this.state !== 'running') return;
    this.state = 'failed';
    this.failure = error;
    this.failureShared = shared;
    this.notify();
    this.resolveSettled();
    this.resolveStarted();
  }

  /** The failure, and whether followers share it. */
  get error(): { error: RegattaError; shared: boolean } | undefined {
    return this.failure ? { error: this.failure, shared: this.failureShared } : undefined;
  }

  /**
   * Reads every item from the first, waiting for more until the call ends; throws the call's failure.
   * Stopping early (break, or `signal`) releases this reader; the last reader to leave aborts the call.
   */
  async *read(signal?: AbortSignal): AsyncGenerator<JsonObject> {
    this.readers++;
    let released = false;
    const release = () => {
      if (released) return;
      released = true;
      if (--this.readers === 0 && this.state === 'running') this.abort.abort();
    };
    const onAbort = () => {
      release();
      this.notify();
    };
    signal?.addEventListener('abort', onAbort, { once: true });
    try {
      let index = 0;
      for (;;) {
        if (signal?.aborted) throw new RegattaError('UNAVAILABLE', 'request cancelled by its caller');
        if (index < this.items.length) {
          yield this.items[index++]!;
          continue;
        }
        if (this.state === 'done') return;
        if (this.state === 'failed') throw this.failure!;
        await new Promise<void>((resolve) => this.wake.push(resolve));
      }
    } finally {
      signal?.removeEventListener('abort', onAbort);
      release();
    }
  }

  /** Counts a reader that waits for the whole answer (not streamed). */
  async whole(signal?: AbortSignal): Promise<JsonObject[]> {
    const items: JsonObject[] = [];
    for await (const item of this.read(signal)) items.push(item);
    return items;
  }

  private notify(): void {
    const wake = this.wake;
    this.wake = [];
    for (const w of wake) w();
  }
}
