import { RegattaError, WireError } from '@regatta/contracts';
import { type Headers } from './bus.js';

/**
 * Reply header: `error` marks an error reply (the body is then a WireError). A successful reply carries
 * no headers at all: a NATS message without headers is cheaper to write and to parse on both sides.
 */
export const STATUS_HEADER = 'regatta-status';
/** Stream frame header: `chunk`, `end` or `error`. */
export const FRAME_HEADER = 'regatta-frame';

const decoder = new TextDecoder();

/**
 * A value already encoded as JSON. A handler that builds large replies faster than `JSON.stringify` can
 * return one; it is sent as these bytes.
 */
export class EncodedJson {
  constructor(readonly bytes: Uint8Array) {}
}

export function encodeJson(value: unknown): Uint8Array {
  if (value instanceof EncodedJson) return value.bytes;
  // Buffer.from, not TextEncoder: for the small bodies most messages are, TextEncoder.encode allocates a
  // new ArrayBuffer each time and took 2.6 µs against 0.15 µs (Node 20). Buffer's slices of its shared
  // pool must never be transferred to a worker; no message body is.
  return Buffer.from(JSON.stringify(value ?? null), 'utf8');
}

/** Parses a JSON body; an empty body is `{}`. Malformed JSON is the sender's error. */
export function decodeJson(data: Uint8Array): unknown {
  if (data.length === 0) return {};
  try {
    return JSON.parse(decoder.decode(data)) as unknown;
  } catch {
    throw new RegattaError('INVALID_ARGUMENT', 'message body is not valid JSON');
  }
}

export function errorReply(err: RegattaError): { data: Uint8Array; headers: Headers } {
  return { data: encodeJson(err.toWire()), headers: new Map([[STATUS_HEADER, 'error']]) };
}

/** Turns an error reply body back into the RegattaError it was. */
export function decodeError(data: Uint8Array): RegattaError {
  const parsed = WireError.safeParse(decodeJson(data));
  return parsed.success
    ? RegattaError.fromWire(parsed.data)
    : new RegattaError('INTERNAL', 'malformed error reply from service');
}
