import os from 'node:os';

/** The knobs of one micro-batcher (one per model version). */
export interface BatcherOptions {
  /** Most rows one execution takes; a single request with more rows is refused (INVALID_ARGUMENT). */
  maxBatchRows: number;
  /**
   * Longest a queued request waits for company while a worker is idle, from the oldest queued request.
   * 0 runs as soon as a worker is free, which beat any fixed window below saturation.
   */
  maxWaitMs: number;
  /** Queued (not yet running) rows above which new requests are refused at once with OVERLOADED. */
  maxQueueRows: number;
  /** Deadline, relative to arrival, for requests that bring none; 0 = none. */
  defaultTimeoutMs: number;
  /** Recent executions the cost model t = a + b·rows is fitted over. */
  costWindow: number;
  /** Executions observed before the cost model is trusted to shed requests. */
  costMinSamples: number;
  /** Whether requests that cannot meet their deadline are refused early (DEADLINE_EXCEEDED, reason 'shed'). */
  shedding: boolean;
}

/** Defaults of every batcher knob; see README.md for why each was chosen. */
export const DEFAULT_BATCHER_OPTIONS: Readonly<BatcherOptions> = Object.freeze({
  maxBatchRows: 256,
  maxWaitMs: 0,
  maxQueueRows: 4096,
  defaultTimeoutMs: 0,
  costWindow: 64,
  costMinSamples: 8,
  shedding: true,
});

/** Fills unspecified knobs from {@link DEFAULT_BATCHER_OPTIONS} and rejects nonsensical values. */
export function resolveBatcherOptions(overrides: Partial<BatcherOptions> = {}): BatcherOptions {
  const options: BatcherOptions = { ...DEFAULT_BATCHER_OPTIONS };
  for (const [key, value] of Object.entries(overrides) as [keyof BatcherOptions, unknown][]) {
    if (value !== undefined) (options as unknown as Record<string, unknown>)[key] = value;
  }
  const positiveInts: (keyof BatcherOptions)[] = [
    'maxBatchRows',
    'maxQueueRows',
    'costWindow',
    'costMinSamples',
  ];
  for (const key of positiveInts) {
    const v = options[key];
    if (typeof v !== 'number' || !Number.isInteger(v) || v < 1) {
      throw new Error(`batcher option ${key} must be a positive integer, got ${String(v)}`);
    }
  }
  for (const key of ['maxWaitMs', 'defaultTimeoutMs'] as const) {
    const v = options[key];
    if (typeof v !== 'number' || !Number.isFinite(v) || v < 0) {
      throw new Error(
        `batcher option ${key} must be a non-negative number of milliseconds, got ${String(v)}`,
      );
    }
  }
  if (options.maxQueueRows < options.maxBatchRows) {
    throw new Error(
      `batcher option maxQueueRows (${options.maxQueueRows}) is below maxBatchRows (${options.maxBatchRows})`,
    );
  }
  if (options.costMinSamples < 2) throw new Error('batcher option costMinSamples must be at least 2');
  if (options.costWindow < options.costMinSamples) {
    throw new Error(
      `batcher option costWindow (${options.costWindow}) is below costMinSamples (${options.costMinSamples})`,
    );
  }
  return options;
}

/** Workers by default: one per core, leaving one core to the main thread (NATS I/O and batching). */
export function defaultWorkerCount(): number {
  return Math.max(1, os.availableParallelism() - 1);
}
