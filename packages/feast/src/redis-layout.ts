/** MurmurHash3 x86_32 of `data` (unsigned), the hash Feast uses for Redis field names. */
export function murmurHash3x86(data: Uint8Array, seed = 0): number {
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  const len = data.length;
  const blocks = len & ~3;
  let h = seed >>> 0;
  for (let i = 0; i < blocks; i += 4) {
    let k = data[i]! | (data[i + 1]! << 8) | (data[i + 2]! << 16) | (data[i + 3]! << 24);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  const tail = len & 3;
  if (tail !== 0) {
    let k = 0;
    if (tail === 3) k ^= data[blocks + 2]! << 16;
    if (tail >= 2) k ^= data[blocks + 1]! << 8;
    k ^= data[blocks]!;
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= len;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

// Field names depend only on (view, feature); a serving process asks for the same few thousand again and
// again, so they are computed once. The bound only guards against unbounded growth from arbitrary input.
const fieldCache = new Map<string, Buffer>();
const FIELD_CACHE_LIMIT = 100_000;

/** Redis hash field of a feature: the 4 little-endian bytes of MurmurHash3 x86_32 (seed 0) of `view:feature`. */
export function redisFeatureField(view: string, feature: string): Buffer {
  const name = `${view}:${feature}`;
  let field = fieldCache.get(name);
  if (!field) {
    field = Buffer.allocUnsafe(4);
    field.writeUInt32LE(murmurHash3x86(Buffer.from(name, 'utf8')), 0);
    if (fieldCache.size >= FIELD_CACHE_LIMIT) fieldCache.clear();
    fieldCache.set(name, field);
  }
  return field;
}

/** Redis hash field holding a view's event timestamp (a serialized google.protobuf.Timestamp): `_ts:<view>`. */
export function redisTimestampField(view: string): Buffer {
  return Buffer.from(`_ts:${view}`, 'utf8');
}

/** Redis hash key of an entity: the serialized entity key followed by the UTF-8 project name, no separator. */
export function redisHashKey(serializedEntityKey: Uint8Array, project: string): Buffer {
  return Buffer.concat([serializedEntityKey, Buffer.from(project, 'utf8')]);
}
