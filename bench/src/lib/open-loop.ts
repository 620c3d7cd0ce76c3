import { summarize, type LatencySummary } from './stats.js';

export interface OpenLoopOptions {
  /** Requests per second offered, whatever the system under test does. */
  rate: number;
  durationS: number;
  /** Requests sent first and not measured (connections, JIT, caches). */
  warmupS?: number;
  /** Requests still unanswered beyond this count are counted as errors (bounded memory). */
  maxInFlight?: number;
  /** Sends one request; resolves when answered, rejects on error. */
  fire: (i: number) => Promise<void>;
  /** Also return each measured request's latency, by request (to split a run that alternates paths). */
  keepSamples?: boolean;
  /**
   * Sleep until shortly before the next request is due instead of spinning the event loop the whole time, so a
   * low-rate run leaves the CPU to the processes it measures on a small machine (sends stay on time: the last
   * stretch before each is still spun).
   */
  sleepWhenIdle?: boolean;
  /**
   * Never spin: wake every `tickMs` (or sooner when a request is due) and send everything due.
   * A send may then leave up to about `tickMs` late; that lateness counts in its latency, so the
   * numbers stay honest while the load generator leaves the CPU to what it measures.
   */
  tickMs?: number;
}

export interface OpenLoopResult {
  offeredRps: number;
  achievedRps: number;
  sent: number;
  ok: number;
  errors: number;
  errorSamples: string[];
  latencyMs: LatencySummary;
  /**
   * With `keepSamples`: latency (ms) of measured request k (request `warmup + k` given to `fire`), NaN where
   * it failed or was not sent.
   */
  latencyByRequestMs?: number[];
}

/** With sleepWhenIdle: how long before a send the loop stops sleeping and spins (timers fire late under load). */
const SPIN_MS = 1.5;

/**
 * Open-loop load: request i is due at start + i/rate and is sent then, whether or not earlier
 * ones were answered. Latency counts from the due time, not the send time, so a stalled
 * system shows up in the percentiles instead of slowing the load (no coordinated omission).
 */
export async function openLoop(options: OpenLoopOptions): Promise<OpenLoopResult> {
  const { rate, durationS, fire } = options;
  const warmup = Math.round((options.warmupS ?? 1) * rate);
  const total = warmup + Math.round(durationS * rate);
  const maxInFlight = options.maxInFlight ?? 20_000;
  const samples: number[] = [];
  const byRequest = options.keepSamples ? new Array<number>(total - warmup).fill(Number.NaN) : undefined;
  const errorSamples: string[] = [];
  let errors = 0;
  let ok = 0;
  let inFlight = 0;
  let next = 0;
  const pending: Promise<void>[] = [];
  const start = performance.now();
  let measuredStart = Number.NaN;
  let lastDone = start;

  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now();
      while (next < total && start + (next * 1000) / rate <= now) {
        const i = next++;
        const due = start + (i * 1000) / rate;
        if (i === warmup) measuredStart = due;
        const measured = i >= warmup;
        if (inFlight >= maxInFlight) {
          if (measured) errors++;
          continue;
        }
        inFlight++;
        pending.push(
          fire(i).then(
            () => {
              inFlight--;
              const done = performance.now();
              lastDone = done;
              if (measured) {
                ok++;
                samples.push(done - due);
                if (byRequest) byRequest[i - warmup] = done - due;
              }
            },
            (err: unknown) => {
              inFlight--;
              lastDone = performance.now();
              if (measured) {
                errors++;
                if (errorSamples.length < 5)
                  errorSamples.push(err instanceof Error ? err.message : String(err));
              }
            },
          ),
        );
      }
      if (next >= total) resolve();
      else {
        const wait = start + (next * 1000) / rate - performance.now();
        if (options.tickMs !== undefined) setTimeout(tick, Math.max(0, Math.min(wait, options.tickMs)));
        else if (options.sleepWhenIdle && wait > SPIN_MS + 1) setTimeout(tick, wait - SPIN_MS);
        else setImmediate(tick);
      }
    };
    tick();
  });
  await Promise.all(pending);
  const measuredS = (lastDone - measuredStart) / 1000;
  return {
    offeredRps: rate,
    achievedRps: ok / measuredS,
    sent: total - warmup,
    ok,
    errors,
    errorSamples,
    latencyMs: summarize(samples),
    ...(byRequest && { latencyByRequestMs: byRequest }),
  };
}
