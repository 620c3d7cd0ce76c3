import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import net from 'node:net';
import { type Prng, prng } from '@regatta/testing';
import { InProcessBus } from '@regatta/transport';
import { ProbeController, serveProbe } from './testing/probe.js';
import { TEST_ADMIN_KEY, type TestGateway, startTestGateway } from './testing/harness.js';

const REQUESTS = 3_000;
const CONCURRENCY = 16;
const SEED = Number(process.env.FUZZ_SEED ?? 20_261_127);

type Rng = Prng;

const bytes = (rng: Rng, n: number) => Buffer.from(Array.from({ length: n }, () => rng.int(256)));
const text = (rng: Rng, n: number, alphabet: string) =>
  Array.from({ length: n }, () => alphabet[rng.int(alphabet.length)]).join('');

function randomJson(rng: Rng, depth = 0): unknown {
  switch (rng.int(depth > 4 ? 5 : 8)) {
    case 0:
      return null;
    case 1:
      return rng.pick([0, -1, 1e308, -1e-308, 2 ** 53 + 1, 3.5, Number.MAX_SAFE_INTEGER]);
    case 2:
      return rng.next() < 0.5;
    case 3:
      return text(rng, rng.int(40), 'abc€\u0000\u2028"\\<>{}[]😀 ');
    case 4:
      return rng.pick(['', 'hang', 'fail:INTERNAL', 'x'.repeat(200)]);
    case 5:
      return Array.from({ length: rng.int(5) }, () => randomJson(rng, depth + 1));
    default: {
      const o: Record<string, unknown> = {};
      for (let i = rng.int(5); i > 0; i--)
        o[
          rng.pick([
            'text',
            'n',
            'nested',
            'flag',
            'scopes',
            'tenant',
            'name',
            'burst',
            'rate_per_s',
            'extra',
            '',
            'constructor',
          ])
        ] = randomJson(rng, depth + 1);
      return o;
    }
  }
}

function randomBody(rng: Rng): Buffer {
  switch (rng.int(9)) {
    case 0:
      return Buffer.alloc(0);
    case 1:
      return bytes(rng, rng.int(300));
    case 2:
      return Buffer.from(JSON.stringify(randomJson(rng)).slice(0, rng.int(40) + 1)); // truncated JSON
    case 3:
      return Buffer.from('{"text":"a","__proto__":{"admin":true}}');
    case 4:
      return Buffer.from('['.repeat(5_000) + ']'.repeat(5_000));
    case 5:
      return Buffer.from(JSON.stringify({ text: 'x'.repeat(5_000) })); // over the body limit
    case 6:
      return Buffer.from(
        JSON.stringify({
          scopes: [rng.pick(['predict', 'admin:all', 'nope'])],
          tenant: rng.pick(['acme', 'BAD', '']),
        }),
      );
    default:
      return Buffer.from(JSON.stringify(randomJson(rng)));
  }
}

// Paths that exist (with their schemas), unknown and hostile ones. Not fuzzed: routes whose job is
// a 5xx (/v1/probe/boom fails on purpose, calls to services).
function randomPath(rng: Rng): string {
  switch (rng.int(8)) {
    case 0:
      return '/v1/probe/echo';
    case 1:
      return '/v1/admin/keys';
    case 2:
      return `/v1/admin/keys/${encodeURIComponent(text(rng, rng.int(80), 'key_0123456789abcdef%/.'))}`;
    case 3:
      return `/v1/probe/slow?ms=${rng.pick(['1', '-1', 'x', '1e9', '', '99999999999999999999'])}&${text(rng, rng.int(10), 'ab=&%')}`;
    case 4:
      return `/${text(rng, rng.int(60), "abc/%.._-~!$&'()*+,;=:@")}`;
    case 5:
      return `/v1/${'a/'.repeat(rng.int(2_000))}`;
    case 6:
      return rng.pick([
        '/health',
        '/openapi.json',
        '/docs',
        '/metrics',
        '//v1//probe//echo',
        '/v1/probe/echo?text=1',
      ]);
    default:
      return `/${encodeURIComponent(bytes(rng, rng.int(40)).toString('latin1'))}`;
  }
}

function randomHeaders(rng: Rng, key: string, body: Buffer): string[] {
  const h: string[] = [];
  const add = (name: string, value: string) => h.push(`${name}: ${value}`);
  if (rng.next() < 0.8)
    add(
      'content-type',
      rng.pick([
        'application/json',
        'application/json; charset=utf-8',
        'text/plain',
        'application/x-www-form-urlencoded',
        'application/JSON',
        'application/json; charset=latin-9',
        '*/*',
        ';;;',
        'multipart/form-data; boundary=x',
      ]),
    );
  if (rng.next() < 0.7)
    add(
      'authorization',
      rng.pick([
        `Bearer ${key}`,
        `Bearer ${TEST_ADMIN_KEY}`,
        'Bearer',
        'Bearer rg_' + text(rng, 30, 'abc'),
        'Basic Zm9vOmJhcg==',
        `bearer ${key}`,
        'x'.repeat(2_000),
      ]),
    );
  if (rng.next() < 0.3) add('x-api-key', rng.pick([key, 'rg_nope', '']));
  if (rng.next() < 0.4) add('x-request-id', rng.pick(['abc', 'a b', text(rng, 200, 'abc-_.'), '']));
  // Valid budgets are generous: a budget a handler cannot meet is a legitimate 504, not a fuzz finding.
  if (rng.next() < 0.4)
    add(
      'x-request-timeout-ms',
      rng.pick(['5000', '0', '-1', 'NaN', '1e3', '', '99999999999', ' 2000', '2000, 3000']),
    );
  if (rng.next() < 0.2)
    add('origin', rng.pick(['https://app.example.com', 'null', 'https://evil.example.com']));
  if (rng.next() < 0.1) add(text(rng, 1 + rng.int(20), 'abcXYZ-_'), text(rng, rng.int(50), 'abc \t!~'));
  if (rng.next() < 0.05) h.push(`bad header\u0001: ${text(rng, 5, 'ab')}`);
  if (rng.next() < 0.05) add('x-big', 'y'.repeat(20_000));
  const te = rng.next() < 0.1;
  if (te) add('transfer-encoding', 'chunked');
  else
    add('content-length', String(rng.next() < 0.9 ? body.length : Math.max(0, body.length - 1 - rng.int(5))));
  if (rng.next() < 0.05) add('content-length', '5');
  add('connection', 'close');
  return h;
}

function randomRequest(rng: Rng, key: string): Buffer {
  const method = rng.pick([
    'GET',
    'POST',
    'POST',
    'POST',
    'PUT',
    'DELETE',
    'PATCH',
    'OPTIONS',
    'HEAD',
    'BREW',
    'G E T',
  ]);
  const body = randomBody(rng);
  const headers = randomHeaders(rng, key, body);
  const version = rng.next() < 0.97 ? 'HTTP/1.1' : rng.pick(['HTTP/1.0', 'HTTP/9.9', 'HTTX']);
  const head = `${method} ${randomPath(rng)} ${version}\r\nhost: localhost\r\n${headers.join('\r\n')}\r\n\r\n`;
  const chunked = headers.includes('transfer-encoding: chunked');
  const payload = chunked
    ? Buffer.from(
        rng.next() < 0.5
          ? `${body.length.toString(16)}\r\n${body.toString('latin1')}\r\n0\r\n\r\n`
          : `zz\r\n${body.toString('latin1')}\r\n`,
        'latin1',
      )
    : body;
  return Buffer.concat([Buffer.from(head, 'latin1'), payload]);
}

/**
 * Sends raw bytes and reads the first response's status (undefined: none came). Every request says
 * `Connection: close`, so the server closes once it has answered. The client only half-closes
 * after a while, for requests the server still waits on (an incomplete chunked body): closing at
 * once would make Node abort requests whose answer is not ready yet.
 */
function send(
  port: number,
  request: Buffer,
): Promise<{ status: number | undefined; raw: string; head: string; body: string }> {
  return new Promise((resolve) => {
    const chunks: Buffer[] = [];
    const socket = net.connect(port, '127.0.0.1');
    let done = false;
    const halfClose = setTimeout(() => socket.end(), 3_000);
    const kill = setTimeout(() => socket.destroy(), 8_000);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(halfClose);
      clearTimeout(kill);
      const raw = Buffer.concat(chunks).toString('latin1');
      const m = /^HTTP\/1\.[01] (\d{3})/.exec(raw);
      const split = raw.indexOf('\r\n\r\n');
      const head = split < 0 ? raw : raw.slice(0, split);
      // Only the first response: a short Content-Length makes the rest of the bytes a second request.
      const length = Number(/\r\ncontent-length: (\d+)/i.exec(head)?.[1] ?? 0);
      const body = split < 0 ? '' : raw.slice(split + 4, split + 4 + length);
      resolve({ status: m ? Number(m[1]) : undefined, raw, head, body });
    };
    socket.on('data', (c: Buffer) => chunks.push(c));
    socket.on('close', finish);
    socket.on('error', () => undefined);
    socket.write(request);
  });
}

/** True when `body` is exactly `{error: {code, message, request_id}}` (HEAD answers have no body). */
function uniform(body: string): boolean {
  if (body.length === 0) return true;
  try {
    const e = (JSON.parse(body) as { error?: Record<string, unknown> }).error;
    return (
      Object.keys(JSON.parse(body) as object).join() === 'error' &&
      typeof e?.code === 'string' &&
      typeof e.message === 'string' &&
      typeof e.request_id === 'string'
    );
  } catch {
    return false;
  }
}

describe('fuzzing the edge', () => {
  let gw: TestGateway;
  let port: number;
  let key: string;

  beforeAll(async () => {
    const bus = new InProcessBus();
    serveProbe(bus);
    gw = await startTestGateway({
      bus,
      controllers: [ProbeController],
      env: {
        BODY_LIMIT_BYTES: '4096',
        MAX_IN_FLIGHT: '10000',
        RATE_LIMIT_PER_S: '1000000',
        RATE_LIMIT_BURST: '1000000',
      },
    });
    port = gw.gateway.port;
    key = (await gw.createKey({ tenant: 'acme', scopes: ['predict', 'admin'] })).key;
  });
  afterAll(async () => {
    await gw?.close();
  });

  it(`answers ${REQUESTS} random and malformed requests without a 5xx, and stays up`, async () => {
    const rng = prng(SEED);
    const requests = Array.from({ length: REQUESTS }, () => randomRequest(rng, key));
    const statuses = new Map<number | 'none', number>();
    const failures: string[] = [];
    let next = 0;
    const worker = async () => {
      while (next < requests.length) {
        const request = requests[next++]!;
        const { status, raw, head, body } = await send(port, request);
        statuses.set(status ?? 'none', (statuses.get(status ?? 'none') ?? 0) + 1);
        const isJson = /\r\ncontent-type: application\/json/i.test(head);
        if (status !== undefined && !/\r\nx-response-time-ms: /i.test(head))
          failures.push(`no x-response-time-ms on ${head}`);
        if (status === undefined || status >= 500) {
          failures.push(
            `${status ?? 'no response'} for ${request.subarray(0, 300).toString('latin1')}\n-> ${raw.slice(0, 300)}`,
          );
        } else if (
          status >= 400 &&
          isJson &&
          !request.subarray(0, 5).equals(Buffer.from('HEAD ')) &&
          !uniform(body)
        ) {
          failures.push(`non-uniform ${status} body ${body.slice(0, 200)}`);
        }
      }
    };
    await Promise.all(Array.from({ length: CONCURRENCY }, worker));
    if (process.env.FUZZ_VERBOSE) console.log(JSON.stringify([...statuses].sort()));
    expect(failures.slice(0, 5)).toEqual([]);
    const count = (pred: (s: number) => boolean) =>
      [...statuses].filter(([s]) => s !== 'none' && pred(s)).reduce((n, [, c]) => n + c, 0);
    // Random input is nearly always refused; the few valid-by-chance requests succeed.
    expect(count((s) => s >= 400 && s < 500)).toBeGreaterThan(REQUESTS * 0.8);
    expect(count((s) => s >= 400 && s < 500) + count((s) => s < 400)).toBe(REQUESTS);
    const health = await fetch(`${gw.url}/health`);
    expect(health.status).toBe(200);
  }, 120_000);
});
