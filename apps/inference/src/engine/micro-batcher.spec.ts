import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals';
import { RegattaError } from '@regatta/contracts';

import type { BatchExecutor, BatchJob, BatchResult, RowOutputs } from './micro-batcher.js';
import { MicroBatcher } from './micro-batcher.js';
import { DEFAULT_BATCHER_OPTIONS, type BatcherOptions } from './options.js';

interface Call {
  job: BatchJob;
  /** The batch rows as the executor received them (copied: the batcher hands over ownership). */
  values: number[];
  resolve: (result: BatchResult) => void;
  reject: (err: unknown) => void;
}

/**
 * A hand-driven executor: batches stay running until the test completes or fails them. Its one
 * output, `echo`, returns each row unchanged, so every caller can check it got its own rows back.
 */
class FakeExecutor implements BatchExecutor {
  readonly calls: Call[] = [];
  private readonly running: Call[] = [];
  private readonly listeners: (() => void)[] = [];
  /** When set, execute() throws this synchronously instead of starting. */
  throwOnExecute: Error | undefined;

  constructor(public slots = 1) {}

  idleSlots(): number {
    return this.slots - this.running.length;
  }

  onIdle(listener: () => void): () => void {
    this.listeners.push(listener);
    return () => this.listeners.splice(this.listeners.indexOf(listener), 1);
  }

  execute(job: BatchJob): Promise<BatchResult> {
    if (this.idleSlots() <= 0) throw new Error('execute() called with no idle slot');
    if (this.throwOnExecute) throw this.throwOnExecute;
    return new Promise<BatchResult>((resolve, reject) => {
      const call: Call = { job, values: Array.from(job.data), resolve, reject };
      this.calls.push(call);
      this.running.push(call);
    });
  }

  /** Rows per executed batch, in order. */
  batchSizes(): number[] {
    return this.calls.map((c) => c.job.rows);
  }

  /** Number of batches still running. */
  get inFlight(): number {
    return this.running.length;
  }

  /** Finishes the oldest running batch with the echo output, then frees its slot. */
  complete(computeSeconds = 0.001): void {
    const call = this.take();
    call.resolve({
      computeSeconds,
      outputs: [{ name: 'echo', cols: call.job.cols, data: Float32Array.from(call.values) }],
    });
    this.freed();
  }

  /** Finishes the oldest running batch with an output of the wrong length. */
  completeTruncated(): void {
    const call = this.take();
    call.resolve({
      computeSeconds: 0,
      outputs: [{ name: 'echo', cols: call.job.cols, data: new Float32Array(1) }],
    });
    this.freed();
  }

  /** Fails the oldest running batch. */
  fail(err: unknown): void {
    this.take().reject(err);
    this.freed();
  }

  private take(): Call {
    const call = this.running.shift();
    if (!call) throw new Error('no batch is running');
    return call;
  }

  private freed(): void {
    for (const l of this.listeners.slice()) l();
  }
}

/** Float32Array of `rows` rows of `cols` values, row r filled with `base + r`. */
function rowsOf(rows: number, cols: number, base: number): Float32Array {
  const data = new Float32Array(rows * cols);
  for (let r = 0; r < rows; r++) data.fill(base + r, r * cols, (r + 1) * cols);
  return data;
}

interface Outcome {
  status: 'pending' | 'resolved' | 'rejected';
  value?: RowOutputs;
  error?: RegattaError;
  settlements: number;
}

/** Follows a promise without letting its rejection go unhandled. */
function track(promise: Promise<RowOutputs>): Outcome {
  const outcome: Outcome = { status: 'pending', settlements: 0 };
  promise.then(
    (value) => {
      outcome.status = 'resolved';
      outcome.value = value;
      outcome.settlements += 1;
    },
    (error: RegattaError) => {
      outcome.status = 'rejected';
      outcome.error = error;
      outcome.settlements += 1;
    },
  );
  return outcome;
}

const COLS = 3;
const clock = { now: () => Date.now(), wallNow: () => Date.now() };

function batcher(executor: FakeExecutor, options: Partial<BatcherOptions> = {}): MicroBatcher {
  return new MicroBatcher(
    'm:1',
    COLS,
    executor,
    { maxBatchRows: 8, maxQueueRows: 64, ...options },
    undefined,
    clock,
  );
}

/** Lets promise callbacks run (fake timers do not block microtasks). */
const flush = () => jest.advanceTimersByTimeAsync(0);

describe(MicroBatcher.name, () => {
  beforeEach(() => {
    jest.useFakeTimers({ now: 1_000_000 });
  });
  afterEach(() => {
    jest.useRealTimers();
  });

  describe('submit', () => {
    it('runs a request at once when a worker is idle', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      const out = track(b.submit(rowsOf(2, COLS, 10), 2));
      expect(exec.batchSizes()).toEqual([2]);
      exec.complete();
      await flush();
      expect(out.status).toBe('resolved');
      expect(out.value).toEqual({
        echo: [
          [10, 10, 10],
          [11, 11, 11],
        ],
      });
    });

    it('accumulates requests while workers are busy and batches them by rows, not requests', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxBatchRows: 5 });
      const first = track(b.submit(rowsOf(1, COLS, 0), 1));
      const a = track(b.submit(rowsOf(2, COLS, 100), 2));
      const c = track(b.submit(rowsOf(3, COLS, 200), 3));
      const d = track(b.submit(rowsOf(2, COLS, 300), 2));
      expect(exec.batchSizes()).toEqual([1]);

      exec.complete();
      await flush();
      // 2 + 3 rows fill the 5-row batch; the next 2-row request waits for the one after.
      expect(exec.batchSizes()).toEqual([1, 5]);
      exec.complete();
      await flush();
      expect(exec.batchSizes()).toEqual([1, 5, 2]);
      exec.complete();
      await flush();

      expect(first.value).toEqual({ echo: [[0, 0, 0]] });
      expect(a.value).toEqual({
        echo: [
          [100, 100, 100],
          [101, 101, 101],
        ],
      });
      expect(c.value).toEqual({
        echo: [
          [200, 200, 200],
          [201, 201, 201],
          [202, 202, 202],
        ],
      });
      expect(d.value).toEqual({
        echo: [
          [300, 300, 300],
          [301, 301, 301],
        ],
      });
      expect(b.stats()).toMatchObject({ executions: 3, rows: 8, queuedRequests: 0, queuedRows: 0 });
    });

    it('uses every idle worker before queueing', () => {
      const exec = new FakeExecutor(3);
      const b = batcher(exec);
      for (let i = 0; i < 4; i++) track(b.submit(rowsOf(1, COLS, i), 1));
      expect(exec.batchSizes()).toEqual([1, 1, 1]);
      expect(b.stats().queuedRequests).toBe(1);
    });

    it('refuses a request with more rows than maxBatchRows', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxBatchRows: 4 });
      const err = await b.submit(rowsOf(5, COLS, 0), 5).catch((e: unknown) => e);
      expect(err).toMatchObject({ code: 'INVALID_ARGUMENT' });
      expect((err as RegattaError).message).toContain('at most 4');
      expect(exec.calls).toHaveLength(0);
      expect(b.stats().rejections.too_large).toBe(1);
    });

    it('waits up to maxWaitMs from the oldest request for company when a worker is idle', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxWaitMs: 5 });
      track(b.submit(rowsOf(1, COLS, 0), 1));
      await jest.advanceTimersByTimeAsync(3);
      track(b.submit(rowsOf(2, COLS, 1), 2));
      expect(exec.calls).toHaveLength(0);
      await jest.advanceTimersByTimeAsync(2);
      expect(exec.batchSizes()).toEqual([3]);
    });

    it('does not wait once the queued rows fill a batch', () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxWaitMs: 1000, maxBatchRows: 4 });
      track(b.submit(rowsOf(2, COLS, 0), 2));
      expect(exec.calls).toHaveLength(0);
      track(b.submit(rowsOf(2, COLS, 0), 2));
      expect(exec.batchSizes()).toEqual([4]);
    });

    it('refuses at once with OVERLOADED when the queue is full, and accepts again once it drains', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxBatchRows: 4, maxQueueRows: 4 });
      track(b.submit(rowsOf(1, COLS, 0), 1)); // running
      const queued = track(b.submit(rowsOf(4, COLS, 1), 4)); // fills the queue
      const refused = track(b.submit(rowsOf(1, COLS, 2), 1));
      await flush();
      expect(refused.status).toBe('rejected');
      expect(refused.error).toBeInstanceOf(RegattaError);
      expect(refused.error).toMatchObject({ code: 'OVERLOADED' });
      expect(refused.error!.retryAfterS).toBeGreaterThanOrEqual(1);

      exec.complete();
      await flush();
      const later = track(b.submit(rowsOf(1, COLS, 3), 1));
      exec.complete();
      exec.complete();
      await flush();
      expect(queued.status).toBe('resolved');
      expect(later.status).toBe('resolved');
      expect(b.stats().rejections.overloaded).toBe(1);
    });

    it('resolves a large batch 32 requests per turn of the event loop, each exactly once, in order', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxBatchRows: 100, maxQueueRows: 200 });
      const first = track(b.submit(rowsOf(1, COLS, 0), 1));
      const order: number[] = [];
      const many = Array.from({ length: 70 }, (_, i) => {
        const promise = b.submit(rowsOf(1, COLS, i + 1), 1);
        void promise.then(() => order.push(i));
        return track(promise);
      });
      exec.complete();
      await flush();
      expect(first.status).toBe('resolved');
      expect(exec.batchSizes()).toEqual([1, 70]);

      exec.complete();
      // Only microtasks have run: the batch's own turn resolved the first 32, later turns the rest.
      for (let i = 0; i < 5; i++) await Promise.resolve();
      expect(many.filter((o) => o.status === 'resolved')).toHaveLength(32);
      for (let turn = 0; turn < 3; turn++) await jest.advanceTimersByTimeAsync(1);
      expect(order).toEqual(Array.from({ length: 70 }, (_, i) => i));
      for (const [i, o] of many.entries()) {
        expect(o.settlements).toBe(1);
        expect(o.value).toEqual({ echo: [[i + 1, i + 1, i + 1]] });
      }
    });
  });

  describe('deadlines', () => {
    it('drops a request whose deadline passes while queued, without running it', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      const running = track(b.submit(rowsOf(1, COLS, 0), 1));
      const queued = track(b.submit(rowsOf(1, COLS, 1), 1, { deadlineMs: Date.now() + 10 }));
      await jest.advanceTimersByTimeAsync(10);
      expect(queued.status).toBe('rejected');
      expect(queued.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'expired' } });

      exec.complete();
      await flush();
      expect(running.status).toBe('resolved');
      expect(exec.calls).toHaveLength(1);
      expect(b.stats()).toMatchObject({ queuedRequests: 0, queuedRows: 0 });
    });

    it('refuses a request whose deadline has already passed', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      await expect(b.submit(rowsOf(1, COLS, 0), 1, { deadlineMs: Date.now() })).rejects.toMatchObject({
        code: 'DEADLINE_EXCEEDED',
      });
      expect(exec.calls).toHaveLength(0);
    });

    it('fails a running request at its deadline and never delivers the late result', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      const late = track(b.submit(rowsOf(1, COLS, 0), 1, { deadlineMs: Date.now() + 5 }));
      const onTime = track(b.submit(rowsOf(1, COLS, 1), 1));
      exec.complete();
      await flush();
      const lateAgain = track(b.submit(rowsOf(1, COLS, 2), 1, { deadlineMs: Date.now() + 5 }));
      const batchmate = track(b.submit(rowsOf(1, COLS, 3), 1));
      exec.complete(); // the second batch: onTime alone
      await flush();
      expect(exec.batchSizes()).toEqual([1, 1, 2]);

      await jest.advanceTimersByTimeAsync(5);
      expect(lateAgain.status).toBe('rejected');
      expect(lateAgain.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'late' } });
      exec.complete(); // the result for lateAgain arrives after its deadline
      await flush();

      expect(late.status).toBe('resolved');
      expect(onTime.status).toBe('resolved');
      expect(lateAgain.status).toBe('rejected');
      expect(lateAgain.settlements).toBe(1);
      expect(batchmate.value).toEqual({ echo: [[3, 3, 3]] });
      expect(b.stats().rejections.late).toBe(1);
    });

    it('keeps a request whose deadline is further away than a timer can reach', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const far = track(b.submit(rowsOf(1, COLS, 1), 1, { deadlineMs: Date.now() + 30 * 86_400_000 }));
      await jest.advanceTimersByTimeAsync(10);
      expect(far.status).toBe('pending');
      exec.complete();
      await flush();
      exec.complete();
      await flush();
      expect(far.status).toBe('resolved');
    });

    it('applies defaultTimeoutMs to requests that bring no deadline', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { defaultTimeoutMs: 20 });
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const queued = track(b.submit(rowsOf(1, COLS, 1), 1));
      await jest.advanceTimersByTimeAsync(20);
      expect(queued.error).toMatchObject({ code: 'DEADLINE_EXCEEDED' });
    });
  });

  describe('cost-model shedding', () => {
    /** Runs batches that each take 10 ms so the cost model learns t ≈ 10 ms. */
    async function trained(exec: FakeExecutor, b: MicroBatcher): Promise<void> {
      for (const rows of [1, 2, 4, 1]) {
        track(b.submit(rowsOf(rows, COLS, 0), rows));
        await jest.advanceTimersByTimeAsync(10);
        exec.complete();
        await flush();
      }
      expect(b.stats().costModel).toMatchObject({ ready: true });
      expect(b.stats().costModel.fixedSeconds).toBeCloseTo(0.01, 5);
      expect(b.stats().costModel.perRowSeconds).toBeCloseTo(0, 5);
    }

    it('sheds a new request that cannot finish before its deadline, and keeps one that can', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { costMinSamples: 4 });
      await trained(exec, b);
      track(b.submit(rowsOf(1, COLS, 0), 1)); // busy for ~10 ms
      const hopeless = track(b.submit(rowsOf(1, COLS, 1), 1, { deadlineMs: Date.now() + 15 }));
      const feasible = track(b.submit(rowsOf(1, COLS, 2), 1, { deadlineMs: Date.now() + 50 }));
      await flush();
      expect(hopeless.status).toBe('rejected');
      expect(hopeless.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'shed' } });

      await jest.advanceTimersByTimeAsync(10);
      exec.complete();
      await flush();
      exec.complete();
      await flush();
      expect(feasible.status).toBe('resolved');
      expect(b.stats().rejections.shed).toBe(1);
    });

    it('sheds at dispatch a queued request the cost model says would now finish late', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { costMinSamples: 4 });
      await trained(exec, b);
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const tight = track(b.submit(rowsOf(1, COLS, 1), 1, { deadlineMs: Date.now() + 25 }));
      await flush();
      expect(tight.status).toBe('pending');
      await jest.advanceTimersByTimeAsync(18); // the running batch overran: 18 + 10 > 25
      exec.complete();
      await flush();
      expect(tight.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'shed' } });
      expect(exec.calls).toHaveLength(5);
    });

    it('does not shed while shedding is off', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { costMinSamples: 4, shedding: false });
      await trained(exec, b);
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const tight = track(b.submit(rowsOf(1, COLS, 1), 1, { deadlineMs: Date.now() + 15 }));
      await flush();
      expect(tight.status).toBe('pending');
    });
  });

  describe('failures', () => {
    it('removes a cancelled queued request without running it and frees its rows', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec, { maxBatchRows: 4, maxQueueRows: 4 });
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const controller = new AbortController();
      const cancelled = track(b.submit(rowsOf(4, COLS, 1), 4, { signal: controller.signal }));
      controller.abort();
      await flush();
      expect(cancelled.error).toMatchObject({ code: 'DEADLINE_EXCEEDED', details: { reason: 'cancelled' } });
      expect(b.stats().queuedRows).toBe(0);
      const next = track(b.submit(rowsOf(4, COLS, 5), 4)); // fits again
      exec.complete();
      await flush();
      exec.complete();
      await flush();
      expect(next.status).toBe('resolved');
      expect(exec.batchSizes()).toEqual([1, 4]);
    });

    it('stops waiting for a cancelled running request while its batchmates still get their rows', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const controller = new AbortController();
      const cancelled = track(b.submit(rowsOf(1, COLS, 1), 1, { signal: controller.signal }));
      const mate = track(b.submit(rowsOf(1, COLS, 2), 1));
      exec.complete();
      await flush();
      controller.abort();
      await flush();
      expect(cancelled.status).toBe('rejected');
      exec.complete();
      await flush();
      expect(cancelled.settlements).toBe(1);
      expect(mate.value).toEqual({ echo: [[2, 2, 2]] });
    });

    it('refuses a request whose signal is already aborted', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      await expect(b.submit(rowsOf(1, COLS, 0), 1, { signal: AbortSignal.abort() })).rejects.toMatchObject({
        details: { reason: 'cancelled' },
      });
      expect(exec.calls).toHaveLength(0);
    });

    it('fails the batch members when execution fails, and keeps serving', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      const a = track(b.submit(rowsOf(1, COLS, 0), 1));
      exec.fail(new Error('onnxruntime exploded'));
      await flush();
      expect(a.error).toBeInstanceOf(RegattaError);
      expect(a.error).toMatchObject({ code: 'INTERNAL' });
      expect(a.error!.message).not.toContain('exploded');

      const c = track(b.submit(rowsOf(1, COLS, 1), 1));
      exec.complete();
      await flush();
      expect(c.status).toBe('resolved');
    });

    it('passes a typed executor error through to every member of the batch', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      track(b.submit(rowsOf(1, COLS, 0), 1));
      const x = track(b.submit(rowsOf(1, COLS, 1), 1));
      const y = track(b.submit(rowsOf(1, COLS, 2), 1));
      exec.complete();
      await flush();
      exec.fail(new RegattaError('UNAVAILABLE', 'inference worker exited'));
      await flush();
      expect(x.error).toMatchObject({ code: 'UNAVAILABLE' });
      expect(y.error).toMatchObject({ code: 'UNAVAILABLE' });
    });

    it('survives an executor that throws synchronously', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      exec.throwOnExecute = new Error('cannot post');
      const a = track(b.submit(rowsOf(1, COLS, 0), 1));
      await flush();
      expect(a.error).toMatchObject({ code: 'INTERNAL' });
      exec.throwOnExecute = undefined;
      const c = track(b.submit(rowsOf(1, COLS, 1), 1));
      exec.complete();
      await flush();
      expect(c.status).toBe('resolved');
    });

    it('fails the batch instead of returning short outputs when the output size is wrong', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      const a = track(b.submit(rowsOf(2, COLS, 0), 2));
      exec.completeTruncated();
      await flush();
      expect(a.error).toMatchObject({ code: 'INTERNAL' });
      expect(a.error!.message).toContain("output 'echo'");
    });
  });

  describe('drain', () => {
    it('finishes queued work, then resolves; new requests are refused meanwhile', async () => {
      const exec = new FakeExecutor(1);
      const b = batcher(exec);
      const a = track(b.submit(rowsOf(1, COLS, 0), 1));
      const q = track(b.submit(rowsOf(1, COLS, 1), 1));
      let drained = false;
      void b.drain().then(() => {
        drained = true;
      });
      await expect(b.submit(rowsOf(1, COLS, 2), 1)).rejects.toMatchObject({ code: 'UNAVAILABLE' });
      exec.complete();
      await flush();
      expect(drained).toBe(false);
      exec.complete();
      await flush();
      expect(drained).toBe(true);
      expect(a.status).toBe('resolved');
      expect(q.status).toBe('resolved');
    });
  });

  describe('options', () => {
    it('refuses nonsensical knobs with a message naming the knob', () => {
      const exec = new FakeExecutor(1);
      expect(() => new MicroBatcher('m:1', COLS, exec, { maxBatchRows: 0 })).toThrow('maxBatchRows');
      expect(() => new MicroBatcher('m:1', COLS, exec, { maxWaitMs: -1 })).toThrow('maxWaitMs');
      expect(() => new MicroBatcher('m:1', COLS, exec, { maxBatchRows: 64, maxQueueRows: 8 })).toThrow(
        'maxQueueRows',
      );
    });

    it('fills unspecified knobs from DEFAULT_BATCHER_OPTIONS', () => {
      const b = new MicroBatcher('m:1', COLS, new FakeExecutor(1), { maxWaitMs: 2 });
      expect(b.settings).toEqual({ ...DEFAULT_BATCHER_OPTIONS, maxWaitMs: 2 });
    });
  });
});
