/** One column as the encoder reads it. */
export interface FeatureColumnLike {
  values: readonly unknown[];
  statuses: readonly string[];
  event_timestamps: readonly string[];
}

/** The shape the encoder relies on: a reader's response, or a `GetFeaturesReply` of @regatta/contracts. */
export interface OnlineFeaturesResponseLike {
  metadata: unknown;
  results: readonly FeatureColumnLike[];
}

/**
 * Text is handed to the output buffer in pieces of about this many characters. V8 keeps a string built
 * by appending as a tree of pieces and joins them when it is written out; joining one very large string
 * cost more than building it (~1 ms for the 240 KB of 100 entities x 50 features, on Node 20, both with
 * `JSON.stringify` and with appends), while pieces of this size join cheaply.
 */
export const FLUSH_CHARS = 32 * 1024;

/** Status names as JSON, so the common case needs no escaping pass. */
const QUOTED_STATUS: Readonly<Record<string, string>> = Object.fromEntries(
  ['INVALID', 'PRESENT', 'NULL_VALUE', 'NOT_FOUND', 'OUTSIDE_MAX_AGE'].map((s) => [s, `"${s}"`]),
);

/**
 * Feast's get-online-features response as UTF-8 JSON, byte for byte what `JSON.stringify(response)`
 * gives (keys in the object's order, undefined members left out). Columns with exactly the keys
 * values, statuses and event_timestamps, in that order (what the reader makes and the contract
 * parses), are written without the generic walk: numbers and status names need no escaping pass, text
 * that needs no escaping is quoted as it is, and a timestamp repeated down or across columns is quoted
 * once. Frozen metadata (the reader's, one object per request layout) is encoded once and remembered.
 */
export function encodeOnlineFeaturesResponse(response: OnlineFeaturesResponseLike): Buffer {
  const out = new ByteWriter();
  const time: TimeMemo = { last: undefined, json: '' };
  let text = '{';
  let first = true;
  for (const key of Object.keys(response)) {
    const value = (response as unknown as Record<string, unknown>)[key];
    if (value === undefined) continue;
    text += `${first ? '' : ','}${JSON.stringify(key)}:`;
    first = false;
    if (key !== 'results' || !Array.isArray(value)) {
      text += (key === 'metadata' && frozenMetadataJson(value)) || (JSON.stringify(value) ?? 'null');
      continue;
    }
    const columns = value as readonly unknown[];
    text += '[';
    for (let c = 0; c < columns.length; c++) {
      if (c > 0) text += ',';
      text += columnJson(columns[c], time);
      if (text.length >= FLUSH_CHARS) {
        out.write(text);
        text = '';
      }
    }
    text += ']';
  }
  text += '}';
  return out.finish(text);
}

function isPlainColumn(column: unknown): column is FeatureColumnLike {
  if (column === null || typeof column !== 'object' || Array.isArray(column)) return false;
  const keys = Object.keys(column);
  const c = column as Partial<FeatureColumnLike>;
  return (
    keys.length === 3 &&
    keys[0] === 'values' &&
    keys[1] === 'statuses' &&
    keys[2] === 'event_timestamps' &&
    Array.isArray(c.values) &&
    Array.isArray(c.statuses) &&
    Array.isArray(c.event_timestamps) &&
    !('toJSON' in column)
  );
}

/** The last event time written and its JSON: one event time usually runs down a column and across views. */
interface TimeMemo {
  last: unknown;
  json: string;
}

/** Metadata objects frozen with their feature names, by identity: their JSON cannot change. */
const metadataJson = new WeakMap<object, string>();

function frozenMetadataJson(metadata: unknown): string | undefined {
  if (metadata === null || typeof metadata !== 'object' || !Object.isFrozen(metadata)) return undefined;
  const known = metadataJson.get(metadata);
  if (known !== undefined) return known;
  const keys = Object.keys(metadata);
  const names = (metadata as { feature_names?: unknown }).feature_names;
  if (keys.length !== 1 || keys[0] !== 'feature_names' || !Array.isArray(names) || !Object.isFrozen(names))
    return undefined;
  if (!names.every((n) => typeof n === 'string')) return undefined;
  const json = JSON.stringify(metadata);
  metadataJson.set(metadata, json);
  return json;
}

function columnJson(column: unknown, time: TimeMemo): string {
  if (!isPlainColumn(column)) return JSON.stringify(column) ?? 'null';
  let s = '{"values":[';
  const values = column.values;
  for (let r = 0; r < values.length; r++) {
    if (r > 0) s += ',';
    s += valueJson(values[r]);
  }
  s += '],"statuses":[';
  const statuses = column.statuses;
  for (let r = 0; r < statuses.length; r++) {
    if (r > 0) s += ',';
    const status = statuses[r];
    s += (typeof status === 'string' && QUOTED_STATUS[status]) || valueJson(status);
  }
  s += '],"event_timestamps":[';
  const times = column.event_timestamps;
  for (let r = 0; r < times.length; r++) {
    if (r > 0) s += ',';
    const t = times[r];
    // Strings compare by content, so only a string is remembered (undefined and objects are written anew).
    if (t !== time.last || typeof t !== 'string') {
      time.last = t;
      time.json = valueJson(t);
    }
    s += time.json;
  }
  return `${s}]}`;
}

/**
 * What JSON.stringify escapes in a string: control characters, the quote, the backslash and (being
 * well-formed) lone surrogates. A string with any surrogate goes to JSON.stringify, which tells pairs apart.
 */
// eslint-disable-next-line no-control-regex -- control characters are exactly what must be escaped
const NEEDS_ESCAPE = /[\u0000-\u001f"\\\ud800-\udfff]/;

/** One array element as JSON.stringify writes it (undefined, functions and symbols as null). */
function valueJson(value: unknown): string {
  if (typeof value === 'number') return Number.isFinite(value) ? String(value) : 'null';
  if (typeof value === 'string') return NEEDS_ESCAPE.test(value) ? JSON.stringify(value) : `"${value}"`;
  if (typeof value === 'boolean') return value ? 'true' : 'false';
  if (value === null) return 'null';
  // Arrays, objects (toJSON included); undefined, functions and symbols give undefined and are written as null.
  return JSON.stringify(value) ?? 'null';
}

/** UTF-8 text appended into one growing buffer, made only when a response is written in pieces. */
class ByteWriter {
  private buffer: Buffer | undefined;
  private length = 0;

  write(text: string): void {
    // A UTF-16 code unit takes at most 3 bytes in UTF-8 (a surrogate pair: 4 bytes for 2 units).
    const needed = this.length + text.length * 3;
    if (!this.buffer || needed > this.buffer.length) {
      const grown = Buffer.allocUnsafe(Math.max(needed, (this.buffer?.length ?? 32 * 1024) * 2));
      this.buffer?.copy(grown, 0, 0, this.length);
      this.buffer = grown;
    }
    this.length += this.buffer.write(text, this.length, 'utf8');
  }

  /** The bytes written so far followed by `rest`. */
  finish(rest: string): Buffer {
    if (!this.buffer) return Buffer.from(rest, 'utf8');
    this.write(rest);
    return this.buffer.subarray(0, this.length);
  }
}
