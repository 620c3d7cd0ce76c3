import { RegattaError } from '@regatta/contracts';
import * as hdr from 'hdr-histogram-js';

// Latencies are recorded in whole microseconds into HDR histograms with 3 significant digits, so any
// percentile is within 0.1% of the true value. Values past 60 s are clamped to 60 s: the histogram's size is
// fixed (~70 KB) whatever the traffic, and a request slower than a minute has long since breached every SLO.

/** The slowest latency a histogram tells apart, in microseconds (60 s). */
export const MAX_LATENCY_US = 60_000_000;

/** Significant decimal digits kept by every latency histogram (0.1% precision). */
export const LATENCY_SIGNIFICANT_DIGITS = 3;

export type LatencyHistogram = hdr.Histogram;

/** An empty fixed-size latency histogram (microseconds). */
export function newLatencyHistogram(): LatencyHistogram {
  return hdr.build({
    bitBucketSize: 32,
    autoResize: false,
    lowestDiscernibleValue: 1,
    highestTrackableValue: MAX_LATENCY_US,
    numberOfSignificantValueDigits: LATENCY_SIGNIFICANT_DIGITS,
  });
}

/** Records `ms` milliseconds; INVALID_ARGUMENT for a negative or non-finite duration. */
export function recordLatencyMs(histogram: LatencyHistogram, ms: number, what: string): void {
  if (!Number.isFinite(ms) || ms < 0) {
    throw new RegattaError('INVALID_ARGUMENT', `${what} must be a finite duration >= 0 ms, got ${ms}`);
  }
  histogram.recordValue(Math.min(MAX_LATENCY_US, Math.round(ms * 1000)));
}

/** The latency at `percentile` (0-100) in milliseconds, or null when nothing was recorded. */
export function percentileMs(histogram: LatencyHistogram, percentile: number): number | null {
  if (histogram.totalCount === 0) return null;
  return histogram.getValueAtPercentile(percentile) / 1000;
}

/** The histogram in its compact wire form (compressed base64, as HdrHistogram encodes it everywhere). */
export function encodeLatency(histogram: LatencyHistogram): string {
  return hdr.encodeIntoCompressedBase64(histogram);
}

/** Adds an encoded histogram into `into`; INVALID_ARGUMENT when the encoding cannot be read. */
export function addEncodedLatency(into: LatencyHistogram, encoded: string, what: string): void {
  let decoded: hdr.Histogram;
  try {
    decoded = hdr.decodeFromCompressedBase64(encoded, 32, false);
  } catch (err) {
    throw new RegattaError(
      'INVALID_ARGUMENT',
      `${what} is not an encoded HDR histogram: ${(err as Error).message}`,
    );
  }
  if (decoded.maxValue > MAX_LATENCY_US) {
    throw new RegattaError('INVALID_ARGUMENT', `${what} holds values above ${MAX_LATENCY_US} µs`);
  }
  into.add(decoded);
}
