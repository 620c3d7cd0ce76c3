// LLM proxy benchmark: one run, one machine, a local fake OpenAI-compatible upstream answering at once.
// Measures what the gateway + llm-proxy add: non-streamed p50/p99 and streamed time to first byte
// (paired with direct calls to the same upstream, open loop at a fixed rate), then cache-hit throughput
// (closed loop, autocannon). The load generator runs in this same process, on the same cores.
//   pnpm --filter @regatta/llm-proxy bench
import { mkdtempSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { type AddressInfo } from 'node:net';
import { cpus, tmpdir } from 'node:os';
import path from 'node:path';
import { startEmbeddedFleet } from '@regatta/fleet';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';

const RATE = Number(process.env.BENCH_RATE ?? 300);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const KEY = 'rg_bench_admin_key_0123456789abcdefghij';

const COMPLETION = JSON.stringify({
  id: 'chatcmpl-bench',
  object: 'chat.completion',
  created: 1_700_000_000,
  model: 'gpt-4o-mini',
  choices: [{ index: 0, message: { role: 'assistant', content: 'a short answer' }, finish_reason: 'stop' }],
  usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 },
});
const chunk = (delta: object, finish: string | null) =>
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
const STREAM = [
  chunk({ role: 'assistant', content: '' }, null),
  chunk({ content: 'a short' }, null),
  chunk({ content: ' answer' }, null),
  chunk({}, 'stop'),
  `data: ${JSON.stringify({ id: 'chatcmpl-bench', object: 'chat.completion.chunk', created: 1_700_000_000, model: 'gpt-4o-mini', choices: [], usage: { prompt_tokens: 12, completion_tokens: 3, total_tokens: 15 } })}\n\n`,
  'data: [DONE]\n\n',
];

/** The fake upstream: answers every completion at once, whole or as a 5-event stream. */
async function fakeUpstream(): Promise<{ url: string; close(): void }> {
  const server = http.createServer((req, res) => {
    let body = '';
    req.on('data', (d: Buffer) => (body += d.toString()));
    req.on('end', () => {
      if (body.includes('"stream":true')) {
        res.writeHead(200, { 'content-type': 'text/event-stream' });
        for (const event of STREAM) res.write(event);
        res.end();
      } else res.writeHead(200, { 'content-type': 'application/json' }).end(COMPLETION);
    });
  });
  server.keepAliveTimeout = 60_000;
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, close: () => server.close() };
}

interface Sample {
  p50: number;
  p99: number;
  achieved: number;
  errors: number;
}

/** Open loop: starts one request every 1/RATE s regardless of answers; records ms to the whole answer or the first body byte. */
async function openLoop(
  url: string,
  body: string,
  headers: Record<string, string>,
  firstByte: boolean,
): Promise<Sample> {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const histogram = hdr.build({
    lowestDiscernibleValue: 1,
    highestTrackableValue: 60_000_000,
    numberOfSignificantValueDigits: 3,
  });
  const target = new URL(url);
  let errors = 0;
  let done = 0;
  const one = () =>
    new Promise<void>((resolve) => {
      const started = performance.now();
      const req = http.request(
        {
          host: target.hostname,
          port: target.port,
          path: target.pathname,
          method: 'POST',
          agent,
          headers: { 'content-type': 'application/json', ...headers },
        },
        (res) => {
          let seen = false;
          res.on('data', () => {
            if (firstByte && !seen) {
              seen = true;
              histogram.recordValue(Math.round((performance.now() - started) * 1000));
            }
          });
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            else if (!firstByte) histogram.recordValue(Math.round((performance.now() - started) * 1000));
            done++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body);
    });
  const total = RATE * SECONDS;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait));
    pending.push(one());
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    p50: histogram.getValueAtPercentile(50) / 1000,
    p99: histogram.getValueAtPercentile(99) / 1000,
    achieved: done / elapsed,
    errors,
  };
}

async function main(): Promise<void> {
  const upstream = await fakeUpstream();
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-bench-'));
  const routing = path.join(dir, 'routing.json');
  writeFileSync(
    routing,
    JSON.stringify({
      version: 'bench',
      providers: { fake: { type: 'openai', base_url: `${upstream.url}/v1` } },
      models: { 'gpt-4o-mini': [{ provider: 'fake' }] },
    }),
  );
  const fleet = await startEmbeddedFleet(
    {
      ...process.env,
      ENVIRONMENT: 'development',
      LOG_LEVEL: 'warn',
      REGATTA_ADMIN_KEY: KEY,
      REGATTA_DATA_DIR: dir,
      LLM_ROUTING_FILE: routing,
      RATE_LIMIT_PER_S: '1000000',
      RATE_LIMIT_BURST: '1000000',
      METRICS_PORT: '0',
    },
    0,
  );
  const auth = { authorization: `Bearer ${KEY}` };
  const miss = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'benchmark question' }],
    temperature: 0.7,
  });
  const missStream = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'benchmark question' }],
    temperature: 0.7,
    stream: true,
  });
  const hit = JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content: 'cached question' }],
    temperature: 0,
  });
  const direct = `${upstream.url}/v1/chat/completions`;
  const proxied = `${fleet.url}/v1/chat/completions`;
  // Warm up connections, JIT and the caches of both paths.
  for (const [url, body, headers] of [
    [direct, miss, {}],
    [proxied, miss, auth],
    [proxied, missStream, auth],
    [proxied, hit, auth],
  ] as const)
    for (let i = 0; i < 200; i++)
      await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json', ...headers }, body });

  const results: Record<string, Sample> = {};
  results.directJson = await openLoop(direct, miss, {}, false);
  results.proxyJson = await openLoop(proxied, miss, auth, false);
  results.directTtfb = await openLoop(direct, missStream, {}, true);
  results.proxyTtfb = await openLoop(proxied, missStream, auth, true);
  const cannon = await autocannon({
    url: proxied,
    method: 'POST',
    connections: 32,
    duration: SECONDS,
    headers: { 'content-type': 'application/json', ...auth },
    body: hit,
  });
  const report = {
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; load generator in the same process`,
    rate: RATE,
    seconds: SECONDS,
    nonStreaming: {
      direct: results.directJson,
      proxy: results.proxyJson,
      addedP50Ms: results.proxyJson.p50 - results.directJson.p50,
      addedP99Ms: results.proxyJson.p99 - results.directJson.p99,
    },
    streamingTtfb: {
      direct: results.directTtfb,
      proxy: results.proxyTtfb,
      addedP50Ms: results.proxyTtfb.p50 - results.directTtfb.p50,
      addedP99Ms: results.proxyTtfb.p99 - results.directTtfb.p99,
    },
    cacheHits: {
      connections: 32,
      requestsPerS: cannon.requests.average,
      p50Ms: cannon.latency.p50,
      p99Ms: cannon.latency.p99,
      non2xx: cannon.non2xx,
      errors: cannon.errors,
    },
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  await fleet.stop();
  upstream.close();
}

await main();
