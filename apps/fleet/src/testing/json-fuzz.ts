import { type Prng } from '@regatta/testing';

/** A JSON value, as a request body holds it. */
export type Json = null | boolean | number | string | Json[] | { [key: string]: Json };
type Rng = Prng;

/**
 * Stands for a number JSON can write but float64 cannot hold (`1e400`); `render` puts one in its place, since
 * JSON.stringify cannot (JSON.parse reads such a number as Infinity).
 */
const OUT_OF_RANGE = '<number beyond float64>';
const OUT_OF_RANGE_TEXT = ['1e400', '-1e999', '1E+309', '9'.repeat(400)];

/** Values that break assumptions: limits, odd numbers and strings, prototype keys, empty and nested containers. */
const HOSTILE: readonly Json[] = [
  OUT_OF_RANGE,
  null,
  true,
  false,
  0,
  -1,
  -0.5,
  1e308,
  -1e308,
  2 ** 53 + 1,
  4_294_967_297,
  '',
  '0',
  'NaN',
  'Infinity',
  '1e999',
  '-',
  '\u0000',
  '\ud800',
  '😀'.repeat(50),
  'x'.repeat(5_000),
  '__proto__',
  'constructor',
  [],
  [[]],
  [null],
  {},
  // An own `__proto__` key, as a JSON body carries it (an object literal would set the prototype).
  JSON.parse('{"__proto__": {"polluted": true}}') as Json,
  { constructor: { prototype: { polluted: true } } },
  { toString: 1, valueOf: 'x', hasOwnProperty: null },
];

/** Names a request can carry, changed into ones the fleet does not know (or odd ones). */
export const RENAMES: readonly string[] = [
  'nope',
  'customer_stats:nope',
  'nope:txn_count_1h',
  'customer_stats',
  ':',
  '',
  'c'.repeat(300),
  'FP64',
  'INT8',
  'BYTES',
  'system',
  'tool',
  'offline',
  'online_and_offline',
  'mock-gpt-unknown',
  '../../etc/passwd',
];

/** Largest text one blown-up array may add to a body, so a few mutations stay well under a megabyte. */
const MAX_REPEATED_CHARS = 200_000;

/**
 * `count` separate copies of `item` (never shared, so a later mutation changes one of them, not all),
 * fewer when they would exceed MAX_REPEATED_CHARS.
 */
function repeated(item: Json, count: number): Json[] {
  const text = JSON.stringify(item);
  const n = Math.max(2, Math.min(count, Math.floor(MAX_REPEATED_CHARS / Math.max(1, text.length))));
  return Array.from({ length: n }, () => JSON.parse(text) as Json);
}

/** A fresh copy of a hostile value: later mutations change it in place, never the list itself. */
function hostile(rng: Rng): Json {
  return JSON.parse(JSON.stringify(rng.pick(HOSTILE))) as Json;
}

function deepNest(depth: number): Json {
  let v: Json = 1;
  for (let i = 0; i < depth; i++) v = i % 2 ? [v] : { a: v };
  return v;
}

/** How deep `slots` looks: below this a tree (a `deepNest` of 2,000 levels, say) is left as it is. */
const MAX_SLOT_DEPTH = 64;

type Slot = { parent: Json[] | { [k: string]: Json }; key: string | number };

/** The (parent, key) pairs of a JSON tree down to MAX_SLOT_DEPTH, the root excluded. */
function slots(root: Json): Slot[] {
  const out: Slot[] = [];
  const pending: Array<{ node: Json; depth: number }> = [{ node: root, depth: 0 }];
  while (pending.length > 0) {
    const { node, depth } = pending.pop()!;
    if (depth >= MAX_SLOT_DEPTH || node === null || typeof node !== 'object') continue;
    const entries: Array<[string | number, Json]> = Array.isArray(node)
      ? node.map((child, i) => [i, child])
      : Object.entries(node);
    for (const [key, child] of entries) {
      out.push({ parent: node, key });
      pending.push({ node: child, depth: depth + 1 });
    }
  }
  return out;
}

/**
 * One random change to `body` (in place; the result is returned, since a body without inner values is
 * replaced whole): a value swapped for a hostile one, a key dropped or added, an array emptied or blown up,
 * a type or a name changed, a container turned inside out.
 */
function mutate(rng: Rng, body: Json): Json {
  const all = slots(body);
  if (all.length === 0) return hostile(rng);
  const { parent, key } = rng.pick(all);
  const get = () => (parent as Record<string | number, Json>)[key]!;
  const set = (v: Json) => ((parent as Record<string | number, Json>)[key] = v);
  const value = get();
  switch (rng.int(9)) {
    case 0:
      set(hostile(rng));
      break;
    case 1:
      if (Array.isArray(parent)) parent.splice(key as number, 1);
      else delete parent[key as string];
      break;
    case 2:
      if (!Array.isArray(parent))
        parent[rng.pick(['extra', 'rows', 'data', 'model', 'id', ''])] = hostile(rng);
      else parent.push(hostile(rng));
      break;
    case 3:
      // A type swap: numbers become strings and the other way round.
      if (typeof value === 'number') set(String(value));
      else if (typeof value === 'string') set(Number(value) || value.length);
      else if (typeof value === 'boolean') set(value ? 1 : 'true');
      else set(JSON.stringify(value));
      break;
    case 4:
      if (Array.isArray(value))
        set(rng.next() < 0.3 ? [] : repeated(value[0] ?? 1, rng.pick([2, 257, 3_000])));
      else set([value]);
      break;
    case 5:
      if (typeof value === 'string') set(rng.pick(RENAMES));
      else set(deepNest(rng.pick([3, 40, 2_000])));
      break;
    case 6:
      if (typeof value === 'number')
        set(rng.pick([0, -1, 1e-320, 1e308, -0, 2 ** 31, 0.1 + 0.2, 15, 16, 30]));
      else set(hostile(rng));
      break;
    case 7:
      // An object turned into an array of its values, or an array into an object of its indices.
      if (Array.isArray(value)) set(Object.fromEntries(value.map((v, i) => [String(i), v])));
      else if (value !== null && typeof value === 'object') set(Object.values(value));
      else set({ value });
      break;
    default:
      if (Array.isArray(parent) && parent.length > 1) parent.reverse();
      else set(hostile(rng));
  }
  return body;
}

/** A copy of `body` with one to three mutations (the seed itself stays as it is). */
export function mutated(rng: Rng, body: Json): Json {
  let copy = structuredClone(body);
  for (let m = 1 + rng.int(3); m > 0; m--) copy = mutate(rng, copy);
  return copy;
}

/** Runs `fn` on every item, `concurrency` at a time, so a service sees concurrent bad requests too. */
export async function forEachConcurrently<T>(
  items: readonly T[],
  concurrency: number,
  fn: (item: T) => Promise<void>,
): Promise<void> {
  let next = 0;
  await Promise.all(
    Array.from({ length: concurrency }, async () => {
      while (next < items.length) await fn(items[next++]!);
    }),
  );
}

/** The text of one case: usually JSON, sometimes cut short or with a stray byte. */
export function render(rng: Rng, body: Json): { text: string; contentType: string } {
  const text = JSON.stringify(body).replaceAll(JSON.stringify(OUT_OF_RANGE), () =>
    rng.pick(OUT_OF_RANGE_TEXT),
  );
  const roll = rng.int(20);
  if (roll === 0) return { text: text.slice(0, rng.int(text.length)), contentType: 'application/json' };
  if (roll === 1) {
    const at = rng.int(text.length);
    return {
      text: `${text.slice(0, at)}${rng.pick(['{', '"', '\\', ',', ']', '\u0000'])}${text.slice(at)}`,
      contentType: 'application/json',
    };
  }
  if (roll === 2) return { text, contentType: rng.pick(['text/plain', 'application/x-www-form-urlencoded']) };
  return { text, contentType: 'application/json' };
}
