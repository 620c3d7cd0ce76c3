// The system under test of the LLM benchmark (bench/llm/llm-proxy.bench.ts), in a process of its own:
// the gateway and the llm-proxy over the in-process bus, as the embedded fleet runs them, configured by
// the environment (DATABASE_URL moves the ledger and the gateway's keys to Postgres, REDIS_URL moves
// the cache, coalescing and limits to Redis). It adds one baseline route, `POST /v1/bench/echo`: the
// chat route's edge (API key, `chat` scope, rate limit, the same body schema) and no downstream, so the
// gateway's own share can be told from the proxy's.
// BENCH_LEDGER=off replaces the usage ledger with a sink that drops rows (to measure what the ledger costs).
// Over IPC it answers `mark` (starts a window, and a CPU profile of it when `profile` names a file),
// `read` (event-loop delay, event-loop utilisation and CPU of the window; the profile is written then;
// the profile is the V8 sampling profiler's, as `node --cpu-prof` writes it, limited to the window)
// and `stop` (closes everything and exits).
import 'reflect-metadata';
import { writeFileSync } from 'node:fs';
import { Session } from 'node:inspector/promises';
import {
  type EventLoopUtilization,
  PerformanceObserver,
  constants,
  monitorEventLoopDelay,
  performance,
} from 'node:perf_hooks';
import { Body, Controller, HttpCode, Post } from '@nestjs/common';
import { loadConfigOrExit } from '@regatta/config';
import { ChatCompletionRequest } from '@regatta/contracts';
import { Schema, Scopes, createGateway, gatewayEnv } from '@regatta/gateway';
import { configureLogging } from '@regatta/telemetry';
import { InProcessBus } from '@regatta/transport';
import { llmProxyEnv } from '../config.js';
import { createLlmProxyService } from '../service.js';

/** What the system under test reports about one window of load. */
export interface SutWindow {
  /** Event-loop delay percentiles, ms (sampled every 1 ms, so about 1 ms when idle). */
  loopDelayP50Ms: number;
  loopDelayP99Ms: number;
  loopDelayMaxMs: number;
  /** Share of the window the event loop was busy (1 = saturated). */
  loopUtilisation: number;
  /** CPU time used (user + system, every thread) per second of the window, in cores. */
  cpuCores: number;
  /** Main-thread garbage collection in the window: pauses of young-generation (scavenge) and full collections, ms. */
  gcScavengeMs: number;
  gcFullMs: number;
  gcCount: number;
  /** Heap in use at the end of the window, MB. */
  heapUsedMb: number;
  seconds: number;
}

/** The chat route's edge and nothing after it. */
@Controller('v1/bench')
class BaselineController {
  @Post('echo')
  @HttpCode(200)
  @Scopes('chat')
  @Schema({ body: ChatCompletionRequest })
  echo(@Body() body: ChatCompletionRequest): { model: string; ok: true } {
    return { model: body.model, ok: true };
  }
}

configureLogging({ level: process.env.LOG_LEVEL ?? 'warn' });
const bus = new InProcessBus();
const proxy = await createLlmProxyService({
  bus,
  config: loadConfigOrExit(llmProxyEnv),
  ...(process.env.BENCH_LEDGER === 'off' && { overrides: { ledger: { record: () => undefined } } }),
});
const gateway = await createGateway({
  bus,
  config: loadConfigOrExit(gatewayEnv),
  port: 0,
  controllers: [BaselineController],
});

const delay = monitorEventLoopDelay({ resolution: 1 });
delay.enable();
let since = performance.now();
let cpu = process.cpuUsage();
let elu: EventLoopUtilization = performance.eventLoopUtilization();
let profiling: { session: Session; file: string } | undefined;
const gc = { scavengeMs: 0, fullMs: 0, count: 0 };
new PerformanceObserver((list) => {
  for (const entry of list.getEntries()) {
    const kind = (entry as { detail?: { kind?: number } }).detail?.kind;
    if (kind === constants.NODE_PERFORMANCE_GC_MINOR) gc.scavengeMs += entry.duration;
    else gc.fullMs += entry.duration;
    gc.count++;
  }
}).observe({ entryTypes: ['gc'] });

async function startProfile(file: string): Promise<void> {
  const session = new Session();
  session.connect();
  await session.post('Profiler.enable');
  await session.post('Profiler.setSamplingInterval', { interval: 500 });
  await session.post('Profiler.start');
  profiling = { session, file };
}

async function stopProfile(): Promise<void> {
  if (!profiling) return;
  const { session, file } = profiling;
  profiling = undefined;
  const { profile } = await session.post('Profiler.stop');
  session.disconnect();
  writeFileSync(file, JSON.stringify(profile));
}

type Command = { type: 'mark'; profile?: string } | { type: 'read' } | { type: 'stop' };

async function handle(msg: Command): Promise<void> {
  if (msg.type === 'mark') {
    if (msg.profile) await startProfile(msg.profile);
    delay.reset();
    since = performance.now();
    cpu = process.cpuUsage();
    elu = performance.eventLoopUtilization();
    Object.assign(gc, { scavengeMs: 0, fullMs: 0, count: 0 });
    process.send?.({ type: 'marked' });
  } else if (msg.type === 'read') {
    const seconds = (performance.now() - since) / 1000;
    const used = process.cpuUsage(cpu);
    const window: SutWindow = {
      loopDelayP50Ms: delay.percentile(50) / 1e6,
      loopDelayP99Ms: delay.percentile(99) / 1e6,
      loopDelayMaxMs: delay.max / 1e6,
      loopUtilisation: performance.eventLoopUtilization(elu).utilization,
      cpuCores: (used.user + used.system) / 1e6 / seconds,
      gcScavengeMs: gc.scavengeMs,
      gcFullMs: gc.fullMs,
      gcCount: gc.count,
      heapUsedMb: process.memoryUsage().heapUsed / 1e6,
      seconds,
    };
    await stopProfile();
    process.send?.({ type: 'window', window });
  } else {
    await gateway.close();
    await proxy.close();
    await bus.close();
    process.exit(0);
  }
}

process.on('message', (msg: Command) => void handle(msg));
process.send?.({ type: 'ready', url: gateway.url });
