import { RegattaError } from '@regatta/contracts';
import { DurationMessage, TimestampMessage } from './proto/schema.js';

/** The timestamp Feast reports for values it has none for (and for join-key columns). */
export const EPOCH_RFC3339 = '1970-01-01T00:00:00Z';

/** Instants formatted recently: event times repeat across reads (a materialized batch shares one). */
const FORMATTED = new Map<number, string>();
const FORMATTED_MAX = 4096;

/** RFC 3339 in UTC with `Z`, as protobuf's JSON mapping prints it: no fraction for whole seconds, else milliseconds. */
export function formatRfc3339(epochMs: number): string {
  let text = FORMATTED.get(epochMs);
  if (text !== undefined) return text;
  const iso = new Date(epochMs).toISOString();
  // toISOString always prints `.sss`; protobuf JSON omits an all-zero fraction.
  text = iso.endsWith('.000Z') ? `${iso.slice(0, -5)}Z` : iso;
  if (FORMATTED.size >= FORMATTED_MAX) FORMATTED.clear();
  FORMATTED.set(epochMs, text);
  return text;
}

/** Serialized `google.protobuf.Timestamp` for an instant given in epoch milliseconds. */
export function encodeTimestamp(epochMs: number): Uint8Array {
  const seconds = Math.floor(epochMs / 1000);
  const nanos = Math.round((epochMs - seconds * 1000) * 1e6);
  const message: { seconds?: string; nanos?: number } = {};
  // proto3 leaves zero fields off the wire; Feast's Redis `_ts` fields carry seconds only.
  if (seconds !== 0) message.seconds = String(seconds);
  if (nanos !== 0) message.nanos = nanos;
  return TimestampMessage.encode(message).finish();
}

/** Epoch milliseconds of a serialized `google.protobuf.Timestamp`. */
export function decodeTimestamp(bytes: Uint8Array): number {
  // Every Redis read decodes one per entity and view: the usual `seconds` (+ `nanos`) varints are read here
  // directly; anything else takes the full protobuf decoder.
  let seconds = 0;
  let nanos = 0;
  let pos = 0;
  const end = bytes.length;
  while (pos < end) {
    const tag = bytes[pos++]!;
    if (tag !== 0x08 && tag !== 0x10) return decodeTimestampMessage(bytes);
    let lo = 0;
    let hi = 0;
    let b = 0x80;
    for (let shift = 0; shift < 28 && b >= 0x80; shift += 7) {
      if (pos >= end) return decodeTimestampMessage(bytes);
      b = bytes[pos++]!;
      lo |= (b & 0x7f) << shift;
    }
    if (b >= 0x80) {
      if (pos >= end) return decodeTimestampMessage(bytes);
      b = bytes[pos++]!;
      lo |= (b & 0x0f) << 28;
      hi = (b & 0x7f) >> 4;
      for (let shift = 3; shift < 32 && b >= 0x80; shift += 7) {
        if (pos >= end) return decodeTimestampMessage(bytes);
        b = bytes[pos++]!;
        hi |= (b & 0x7f) << shift;
      }
      if (b >= 0x80) return decodeTimestampMessage(bytes);
    }
    if (tag === 0x10) nanos = lo | 0;
    else if (hi >>> 31 === 0) seconds = (lo >>> 0) + (hi >>> 0) * 4294967296;
    else {
      // Negative (two's complement) seconds, before 1970.
      const nlo = (~lo + 1) >>> 0;
      let nhi = ~hi >>> 0;
      if (nlo === 0) nhi = (nhi + 1) >>> 0;
      seconds = -(nlo + nhi * 4294967296);
    }
  }
  return seconds * 1000 + Math.floor(nanos / 1e6);
}

function decodeTimestampMessage(bytes: Uint8Array): number {
  const { seconds, nanos } = TimestampMessage.toObject(TimestampMessage.decode(bytes), { longs: Number }) as {
    seconds?: number;
    nanos?: number;
  };
  return (seconds ?? 0) * 1000 + Math.floor((nanos ?? 0) / 1e6);
}

/** Serialized `google.protobuf.Duration` of whole seconds. */
export function encodeDuration(seconds: number): Uint8Array {
  return DurationMessage.encode(seconds === 0 ? {} : { seconds: String(seconds) }).finish();
}

/** Seconds (with fraction) of a serialized `google.protobuf.Duration`. */
export function decodeDuration(bytes: Uint8Array): number {
  const { seconds, nanos } = DurationMessage.toObject(DurationMessage.decode(bytes), { longs: Number }) as {
    seconds?: number;
    nanos?: number;
  };
  return (seconds ?? 0) + (nanos ?? 0) / 1e9;
}

// ISO 8601 / RFC 3339 date-times, with `T` or a space, optional fraction of any length and optional zone.
const DATE_TIME =
  /^(\d{4})-(\d{2})-(\d{2})(?:[T ](\d{2}):(\d{2})(?::(\d{2})(?:[.,](\d+))?)?)?\s*(Z|z|UTC|[+-]\d{2}(?::?\d{2})?)?$/;

/**
 * Epoch milliseconds of a date-time string. A string without a zone is UTC, as Feast treats naive
 * timestamps. Returns undefined when the text is not a date-time.
 */
export function parseDateTime(text: string): number | undefined {
  const m = DATE_TIME.exec(text.trim());
  if (!m) return undefined;
  const [, y, mo, d, h = '0', mi = '0', s = '0', frac = '', zone = 'Z'] = m;
  const ms = frac ? Math.floor(Number(`0.${frac}`) * 1000) : 0;
  let epoch = Date.UTC(Number(y), Number(mo) - 1, Number(d), Number(h), Number(mi), Number(s), ms);
  if (zone !== 'Z' && zone !== 'z' && zone !== 'UTC') {
    const sign = zone.startsWith('-') ? -1 : 1;
    const digits = zone.slice(1).replace(':', '');
    const offsetMinutes = Number(digits.slice(0, 2)) * 60 + Number(digits.slice(2) || '0');
    epoch -= sign * offsetMinutes * 60_000;
  }
  return Number.isFinite(epoch) ? epoch : undefined;
}

/**
 * Epoch milliseconds of a timestamp given as a Date, an RFC 3339 / ISO string, or a number. Numbers are read
 * by magnitude (seconds below 1e11, milliseconds below 1e14, microseconds below 1e17, else nanoseconds) so
 * epoch values in any of pandas' usual units work. INVALID_ARGUMENT naming `what` otherwise.
 */
export function toEpochMs(input: unknown, what: string): number {
  if (input instanceof Date) {
    const ms = input.getTime();
    if (Number.isFinite(ms)) return ms;
  } else if (typeof input === 'string') {
    const trimmed = input.trim();
    if (/^-?\d+(\.\d+)?$/.test(trimmed)) return toEpochMs(Number(trimmed), what);
    const ms = parseDateTime(trimmed);
    if (ms !== undefined) return ms;
  } else if (typeof input === 'number' && Number.isFinite(input)) {
    const abs = Math.abs(input);
    if (abs < 1e11) return Math.round(input * 1000);
    if (abs < 1e14) return Math.round(input);
    if (abs < 1e17) return Math.round(input / 1000);
    return Math.round(input / 1e6);
  } else if (typeof input === 'bigint') {
    return toEpochMs(Number(input), what);
  }
  throw new RegattaError('INVALID_ARGUMENT', `${what}: expected a timestamp, got ${describeInput(input)}`);
}

/** A short, safe description of a bad input value for error messages. */
export function describeInput(input: unknown): string {
  if (input === null) return 'null';
  if (input === undefined) return 'nothing';
  if (typeof input === 'string')
    return JSON.stringify(input.length > 40 ? `${input.slice(0, 40)}...` : input);
  if (typeof input === 'number' || typeof input === 'boolean' || typeof input === 'bigint')
    return String(input);
  if (Array.isArray(input)) return 'an array';
  return `a ${typeof input}`;
}
