// LLM proxy benchmark: one run, one machine, three processes: this one generates the load, a child runs
// the fake OpenAI-compatible upstream (answers at once), another child runs the system under test
// (apps/llm-proxy/src/bench/sut.ts: gateway + llm-proxy over the in-process bus, as the embedded fleet
// runs them, plus a baseline route with the chat route's edge and no downstream). For each configuration of the SUT
// (ledger on embedded PGlite or on Postgres; cache, limits and coalescing in process or in Redis) it
// measures, open loop at a fixed rate: a direct call to the upstream, an authenticated gateway route with
// no downstream (the gateway's own cost), a proxied non-streamed call that goes upstream (cache BYPASS),
// the streamed time to first byte of both; then, closed loop (autocannon, 32 connections), cache hits and
// the no-downstream route. The SUT reports its event-loop delay, event-loop utilisation and CPU for every
// window, and with BENCH_PROFILE=<dir> writes a CPU profile of every window (see profile-summary.ts).
//   npx turbo run build --filter=@regatta/llm-proxy... && pnpm --filter @regatta/llm-proxy bench
// Environment: BENCH_RATE (300), BENCH_SECONDS (10), BENCH_CONNECTIONS (32), BENCH_CONFIGS
// (pglite,postgres,pglite+redis,postgres+redis), BENCH_SCENARIOS (all), BENCH_DATABASE_URL (a database
// `regatta_llm_bench` created on 127.0.0.1:5432), BENCH_REDIS_URL (redis://127.0.0.1:6379), BENCH_PROFILE,
// BENCH_ROUNDS (1: every number is the median of the rounds), BENCH_SUTS (`name=path,...`: builds of the
// SUT to compare in the same run, interleaved config by config; default the current build).
import { type ChildProcess, fork, spawnSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import http from 'node:http';
import { cpus, loadavg, tmpdir } from 'node:os';
import path from 'node:path';
import autocannon from 'autocannon';
import * as hdr from 'hdr-histogram-js';

/** What the SUT reports about one window (apps/llm-proxy/src/bench/sut.ts). */
interface SutWindow {
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  loopUtilisation: number;
  cpuCores: number;
  gcScavengeMs: number;
  gcFullMs: number;
  gcCount: number;
  heapUsedMb: number;
  seconds: number;
}

const RATE = Number(process.env.BENCH_RATE ?? 300);
const SECONDS = Number(process.env.BENCH_SECONDS ?? 10);
const CONNECTIONS = Number(process.env.BENCH_CONNECTIONS ?? 32);
const CONFIGS = (process.env.BENCH_CONFIGS ?? 'pglite,postgres,pglite+redis,postgres+redis').split(',');
const SCENARIOS = process.env.BENCH_SCENARIOS?.split(',');
const PROFILE_DIR = process.env.BENCH_PROFILE;
const REDIS_URL = process.env.BENCH_REDIS_URL ?? 'redis://127.0.0.1:6379';
const KEY = 'rg_bench_admin_key_0123456789abcdefghij';
const HERE = import.meta.dirname;
const SUTS = (
  process.env.BENCH_SUTS ?? `current=${path.resolve(HERE, '../../../apps/llm-proxy/dist/bench/sut.js')}`
)
  .split(',')
  .map((spec) => {
    const [name, file] = spec.split('=');
    return { name: name!, file: path.resolve(file!) };
  });
const ROUNDS = Number(process.env.BENCH_ROUNDS ?? 1);

/** One measured window: what the load generator saw and what the SUT reported. */
interface Sample {
  p50Ms: number;
  p99Ms: number;
  requestsPerS: number;
  errors: number;
  /** CPU the SUT used per answered request (every thread), µs. */
  cpuUsPerRequest?: number;
  /** The machine's 1-minute load average at the end of the window. */
  loadAverage?: number;
  sut?: SutWindow;
}

const json = { 'content-type': 'application/json' };
const auth = { ...json, authorization: `Bearer ${KEY}` };
const ask = (content: string, temperature: number, stream = false) =>
  JSON.stringify({
    model: 'gpt-4o-mini',
    messages: [{ role: 'user', content }],
    temperature,
    ...(stream && { stream: true }),
  });
const MISS = ask('benchmark question', 0.7);
const MISS_STREAM = ask('benchmark question', 0.7, true);
const HIT = ask('cached question', 0);

/** A child process and a way to wait for its next IPC message of a given type. */
class Child {
  private readonly waiting = new Map<string, { resolve(msg: unknown): void; reject(err: Error): void }>();
  constructor(readonly proc: ChildProcess) {
    proc.on('message', (msg: { type: string }) => {
      this.waiting.get(msg.type)?.resolve(msg);
      this.waiting.delete(msg.type);
    });
    proc.once('exit', (code) => {
      for (const [type, w] of this.waiting) w.reject(new Error(`child exited (${code}) before "${type}"`));
      this.waiting.clear();
    });
  }
  next<T>(type: string): Promise<T> {
    return new Promise((resolve, reject) =>
      this.waiting.set(type, { resolve: (msg) => resolve(msg as T), reject }),
    );
  }
  send(msg: object): void {
    this.proc.send(msg);
  }
}

/** Open loop: request i is due at start + i/RATE and is sent then; latency counts from the due time. */
async function openLoop(url: string, body: string, headers: Record<string, string>, firstByte: boolean) {
  const agent = new http.Agent({ keepAlive: true, maxSockets: 256 });
  const histogram = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000 });
  const target = new URL(url);
  const method = body === '' ? 'GET' : 'POST';
  let errors = 0;
  let done = 0;
  const one = (due: number) =>
    new Promise<void>((resolve) => {
      const record = () => histogram.recordValue(Math.round((performance.now() - due) * 1000));
      const req = http.request(
        { host: target.hostname, port: target.port, path: target.pathname, method, agent, headers },
        (res) => {
          let seen = false;
          res.on('data', () => {
            if (firstByte && !seen) {
              seen = true;
              record();
            }
          });
          res.on('end', () => {
            if (res.statusCode !== 200) errors++;
            else if (!firstByte) record();
            done++;
            resolve();
          });
        },
      );
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end(body === '' ? undefined : body);
    });
  const total = RATE * SECONDS;
  const start = performance.now();
  const pending: Promise<void>[] = [];
  for (let i = 0; i < total; i++) {
    const due = start + (i * 1000) / RATE;
    const wait = due - performance.now();
    if (wait > 1) await new Promise((r) => setTimeout(r, wait - 1));
    while (performance.now() < due);
    pending.push(one(due));
  }
  await Promise.all(pending);
  const elapsed = (performance.now() - start) / 1000;
  agent.destroy();
  return {
    p50Ms: histogram.getValueAtPercentile(50) / 1000,
    p99Ms: histogram.getValueAtPercentile(99) / 1000,
    requestsPerS: done / elapsed,
    errors,
  };
}

/** Closed loop: CONNECTIONS connections, each sending its next request when the last is answered. */
async function closedLoop(url: string, body: string, headers: Record<string, string>) {
  const result = await autocannon({
    url,
    method: body === '' ? 'GET' : 'POST',
    connections: CONNECTIONS,
    duration: SECONDS,
    headers,
    ...(body !== '' && { body }),
  });
  return {
    p50Ms: result.latency.p50,
    p99Ms: result.latency.p99,
    requestsPerS: result.requests.average,
    errors: result.errors + result.non2xx,
  };
}

async function startChild(script: string, env: NodeJS.ProcessEnv): Promise<{ child: Child; url: string }> {
  const child = new Child(fork(script, [], { env, stdio: ['ignore', 'inherit', 'inherit', 'ipc'] }));
  const ready = await child.next<{ url: string }>('ready');
  return { child, url: ready.url };
}

function stopChild(child: Child): Promise<void> {
  return new Promise((resolve) => {
    child.proc.once('exit', () => resolve());
    if (child.proc.connected) child.send({ type: 'stop' });
    else child.proc.kill();
  });
}

/** A database for the Postgres configurations: BENCH_DATABASE_URL, or `regatta_llm_bench` created on the local server. */
function databaseUrl(): string {
  if (process.env.BENCH_DATABASE_URL) return process.env.BENCH_DATABASE_URL;
  spawnSync('createdb', ['-h', '127.0.0.1', '-U', 'postgres', 'regatta_llm_bench'], { stdio: 'ignore' });
  return 'postgres://postgres@127.0.0.1:5432/regatta_llm_bench';
}

async function runConfig(name: string, sutFile: string, upstream: string, dir: string) {
  const routing = path.join(dir, 'routing.json');
  writeFileSync(
    routing,
    JSON.stringify({
      version: 'bench',
      providers: { fake: { type: 'openai', base_url: `${upstream}/v1` } },
      models: { 'gpt-4o-mini': [{ provider: 'fake' }] },
    }),
  );
  const data = mkdtempSync(path.join(dir, `${name.replace('+', '-')}-`));
  const env: NodeJS.ProcessEnv = {
    ...process.env,
    ENVIRONMENT: 'development',
    LOG_LEVEL: 'warn',
    REGATTA_ADMIN_KEY: KEY,
    REGATTA_DATA_DIR: data,
    LLM_ROUTING_FILE: routing,
    LLM_LEDGER_TABLE: `llm_usage_bench_${process.pid}`,
    LLM_REDIS_PREFIX: `llm-bench-${process.pid}`,
    LLM_CACHE_TTL_S: '600',
    RATE_LIMIT_PER_S: '1000000',
    RATE_LIMIT_BURST: '1000000',
    METRICS_PORT: '0',
    ADMIN_PORT: '0',
  };
  delete env.DATABASE_URL;
  delete env.REDIS_URL;
  if (name.includes('postgres')) env.DATABASE_URL = databaseUrl();
  if (name.includes('redis')) env.REDIS_URL = REDIS_URL;
  // An ablation: the ledger replaced by a sink that drops rows, to see what recording costs.
  if (name.includes('noledger')) env.BENCH_LEDGER = 'off';
  const { child: sut, url } = await startChild(sutFile, env);
  const direct = `${upstream}/v1/chat/completions`;
  const chat = `${url}/v1/chat/completions`;
  const bare = `${url}/v1/bench/echo`;
  const scenarios: [string, () => Promise<Sample>][] = [
    ['direct', () => openLoop(direct, MISS, json, false)],
    ['gatewayOnly', () => openLoop(bare, MISS, auth, false)],
    ['proxyMiss', () => openLoop(chat, MISS, auth, false)],
    ['directTtfb', () => openLoop(direct, MISS_STREAM, json, true)],
    ['proxyTtfb', () => openLoop(chat, MISS_STREAM, auth, true)],
    ['cacheHits', () => closedLoop(chat, HIT, auth)],
    ['gatewayOnlyClosed', () => closedLoop(bare, HIT, auth)],
    ['proxyMissClosed', () => closedLoop(chat, MISS, auth)],
  ];
  // Warm up connections, JIT and the caches of every path.
  for (const [target, body, headers] of [
    [direct, MISS, json],
    [bare, MISS, auth],
    [chat, MISS, auth],
    [chat, MISS_STREAM, auth],
    [chat, HIT, auth],
  ] as const)
    for (let i = 0; i < 300; i++) {
      const res = await fetch(target, {
        method: body === '' ? 'GET' : 'POST',
        headers,
        ...(body !== '' && { body }),
      });
      await res.arrayBuffer();
      if (res.status !== 200) throw new Error(`warm-up ${target} answered ${res.status}`);
    }
  const results: Record<string, Sample> = {};
  for (const [scenario, run] of scenarios) {
    if (SCENARIOS && !SCENARIOS.includes(scenario)) continue;
    const profile = PROFILE_DIR ? path.resolve(PROFILE_DIR, `${name}-${scenario}.cpuprofile`) : undefined;
    sut.send({ type: 'mark', profile });
    await sut.next('marked');
    const sample = await run();
    sut.send({ type: 'read' });
    sample.sut = (await sut.next<{ window: SutWindow }>('window')).window;
    sample.cpuUsPerRequest = (sample.sut.cpuCores * 1e6) / sample.requestsPerS;
    sample.loadAverage = loadavg()[0];
    results[scenario] = sample;
    process.stderr.write(`${sutFile} ${name} ${scenario}: ${JSON.stringify(sample)}\n`);
  }
  await stopChild(sut);
  return results;
}

/** The median of each number over rounds. */
function median(samples: Sample[]): Sample {
  const mid = (values: number[]) => {
    const sorted = [...values].sort((a, b) => a - b);
    const m = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[m]! : (sorted[m - 1]! + sorted[m]!) / 2;
  };
  const pick = (f: (s: Sample) => number | undefined) => mid(samples.map((s) => f(s) ?? Number.NaN));
  return {
    p50Ms: pick((s) => s.p50Ms),
    p99Ms: pick((s) => s.p99Ms),
    requestsPerS: pick((s) => s.requestsPerS),
    errors: samples.reduce((sum, s) => sum + s.errors, 0),
    cpuUsPerRequest: pick((s) => s.cpuUsPerRequest),
    loadAverage: pick((s) => s.loadAverage),
    sut: {
      loopDelayP50Ms: pick((s) => s.sut?.loopDelayP50Ms),
      loopDelayP99Ms: pick((s) => s.sut?.loopDelayP99Ms),
      loopDelayMaxMs: pick((s) => s.sut?.loopDelayMaxMs),
      loopUtilisation: pick((s) => s.sut?.loopUtilisation),
      cpuCores: pick((s) => s.sut?.cpuCores),
      gcScavengeMs: pick((s) => s.sut?.gcScavengeMs),
      gcFullMs: pick((s) => s.sut?.gcFullMs),
      gcCount: pick((s) => s.sut?.gcCount),
      heapUsedMb: pick((s) => s.sut?.heapUsedMb),
      seconds: pick((s) => s.sut?.seconds),
    },
  };
}

async function main(): Promise<void> {
  if (PROFILE_DIR) mkdirSync(PROFILE_DIR, { recursive: true });
  const dir = mkdtempSync(path.join(tmpdir(), 'llm-bench-'));
  const loadBefore = loadavg();
  const { child: upstream, url } = await startChild(path.join(HERE, 'upstream.js'), process.env);
  // rounds[sut][config][scenario]: one sample per round.
  const rounds: Record<string, Record<string, Record<string, Sample[]>>> = {};
  try {
    for (let round = 0; round < ROUNDS; round++)
      for (const name of CONFIGS)
        for (const sut of SUTS) {
          const results = await runConfig(name, sut.file, url, dir);
          const byScenario = ((rounds[sut.name] ??= {})[name] ??= {});
          for (const [scenario, sample] of Object.entries(results))
            (byScenario[scenario] ??= []).push(sample);
        }
  } finally {
    upstream.proc.kill();
    rmSync(dir, { recursive: true, force: true });
  }
  const added = (r: Record<string, Sample>, proxy: string, direct: string) =>
    r[proxy] && r[direct]
      ? { p50Ms: r[proxy].p50Ms - r[direct].p50Ms, p99Ms: r[proxy].p99Ms - r[direct].p99Ms }
      : undefined;
  const report = {
    machine: `${cpus().length} cores (${cpus()[0]?.model ?? '?'}), node ${process.version}; load generator, upstream and SUT in three processes`,
    loadAverage: { before: loadBefore.map((l) => l.toFixed(2)), after: loadavg().map((l) => l.toFixed(2)) },
    rate: RATE,
    seconds: SECONDS,
    connections: CONNECTIONS,
    rounds: ROUNDS,
    suts: Object.fromEntries(
      Object.entries(rounds).map(([sut, configs]) => [
        sut,
        Object.fromEntries(
          Object.entries(configs).map(([name, scenarios]) => {
            const r = Object.fromEntries(Object.entries(scenarios).map(([k, v]) => [k, median(v)]));
            return [
              name,
              {
                ...r,
                addedNonStreaming: added(r, 'proxyMiss', 'direct'),
                addedTtfb: added(r, 'proxyTtfb', 'directTtfb'),
                addedGatewayOnly: added(r, 'gatewayOnly', 'direct'),
              },
            ];
          }),
        ),
      ]),
    ),
  };
  process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
}

await main();
