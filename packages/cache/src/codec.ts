/** How a cache turns values into Redis strings and back. */
export interface CacheCodec<V> {
  encode(value: V): Buffer | string;
  decode(raw: Buffer): V;
}

/** The default codec: JSON text. Values must survive `JSON.stringify` (no `undefined`, Maps or class instances). */
export function jsonCodec<V>(): CacheCodec<V> {
  return {
    encode: (value) => JSON.stringify(value),
    decode: (raw) => JSON.parse(raw.toString('utf8')) as V,
  };
}
