// How a feature read's HMGETs are sent to Redis, and what it costs the reading process: ioredis's
// pipeline()...exec() against the same commands sent in one corked write (sendTogether, what RedisOnlineStore
// does), at 10 and 100 hashes x 52 fields; and sendTogether through the ioredis we pin (5.x) against ioredis
// 6.0.0, whose reply decoder is what keeps us on 5.x. Each variant runs closed loop in a fresh child process (its own heap,
// so GC is charged to the variant that caused it); variants alternate, round after round, on the same hashes.
// Reported per variant: reads/s, CPU per read, young-generation (scavenge) pause time per 100 reads and full
// GCs per 1000 reads, medians over the rounds.
// Usage: pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/redis-reads.js
//          [--hashes 10,100] [--rounds 3] [--seconds 4]
import { spawnSync } from 'node:child_process';
import { createRequire } from 'node:module';
import { fileURLToPath } from 'node:url';
import { PerformanceObserver, type PerformanceEntry, constants as perf } from 'node:perf_hooks';
import { parseArgs } from 'node:util';
import { sendTogether } from '@regatta/feast';
import { Redis } from 'ioredis';
import { Redis as Redis6 } from 'ioredis-6';
import { table, updateDocs, writeResult } from '../lib/report.js';
import { median } from '../lib/stats.js';

const { values } = parseArgs({
  options: {
    hashes: { type: 'string', default: '10,100' },
    rounds: { type: 'string', default: '3' },
    seconds: { type: 'string', default: '4' },
    child: { type: 'string' },
  },
});
const VARIANTS = ['pipeline', 'sendTogether', 'sendTogether-6'] as const;
type Variant = (typeof VARIANTS)[number];
const FIELDS = 52;
const redisUrl = new URL(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379');
const PREFIX = 'regatta:bench:redis-reads:';

interface Sample {
  reads: number;
  cpuMsPerRead: number;
  scavengeMsPer100: number;
  fullGcsPer1000: number;
}

const clientOptions = {
  host: redisUrl.hostname,
  port: Number(redisUrl.port || 6379),
  lazyConnect: true,
  maxRetriesPerRequest: 1,
  commandTimeout: 2000,
};
const connect = () => new Redis(clientOptions);
const LABELS: Record<Variant, string> = {
  pipeline: `ioredis ${versionOf('ioredis')} \`pipeline().exec()\``,
  sendTogether: `ioredis ${versionOf('ioredis')} \`sendTogether\` (one corked write)`,
  'sendTogether-6': `ioredis ${versionOf('ioredis-6')} \`sendTogether\``,
};

function versionOf(pkg: string): string {
  const manifest = createRequire(import.meta.url)(`${pkg}/package.json`) as { version: string };
  return manifest.version;
}
const fields = Array.from({ length: FIELDS }, (_, i) => Buffer.from(`field_${i}`));
const keyOf = (i: number) => Buffer.from(`${PREFIX}${i}`);

/** One variant in this (child) process: prints its Sample as JSON. */
async function runChild(spec: string): Promise<void> {
  const [variant, n, seconds] = spec.split(':') as [Variant, string, string];
  const client = variant === 'sendTogether-6' ? new Redis6(clientOptions) : connect();
  await client.connect();
  const keys = Array.from({ length: Number(n) }, (_, i) => keyOf(i));
  const read = async () => {
    if (variant === 'pipeline' && client instanceof Redis) {
      const pipeline = client.pipeline();
      for (const key of keys) pipeline.hmgetBuffer(key, ...fields);
      const replies = await pipeline.exec();
      if (!replies || replies.some(([err]) => err)) throw new Error('pipeline failed');
    } else {
      await Promise.all(sendTogether(client, () => keys.map((key) => client.hmgetBuffer(key, ...fields))));
    }
  };
  for (const end = performance.now() + 500; performance.now() < end;) await read(); // warm-up
  let scavengeMs = 0;
  let fullGcs = 0;
  const observer = new PerformanceObserver((list) => {
    for (const e of list.getEntries() as (PerformanceEntry & { detail?: { kind?: number } })[]) {
      if (e.detail?.kind === perf.NODE_PERFORMANCE_GC_MINOR) scavengeMs += e.duration;
      if (e.detail?.kind === perf.NODE_PERFORMANCE_GC_MAJOR) fullGcs++;
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  const cpu0 = process.cpuUsage();
  let reads = 0;
  for (const end = performance.now() + Number(seconds) * 1000; performance.now() < end; reads++) await read();
  const cpu = process.cpuUsage(cpu0);
  await new Promise((resolve) => setImmediate(resolve));
  observer.disconnect();
  client.disconnect();
  const sample: Sample = {
    reads: reads / Number(seconds),
    cpuMsPerRead: (cpu.user + cpu.system) / 1000 / reads,
    scavengeMsPer100: (scavengeMs * 100) / reads,
    fullGcsPer1000: (fullGcs * 1000) / reads,
  };
  process.stdout.write(`${JSON.stringify(sample)}\n`);
}

if (values.child) {
  await runChild(values.child);
  process.exit(0);
}

const shapes = values.hashes.split(',').map(Number);
const rounds = Number(values.rounds);
const seconds = Number(values.seconds);
const setup = connect();
await setup.connect();
for (let i = 0; i < Math.max(...shapes); i++) {
  await setup.hset(keyOf(i), ...fields.flatMap((f, j) => [f, Buffer.from(`value-${j}-${i}-abcdefghij`)]));
}

const samples = new Map<string, Sample[]>();
for (let round = 0; round < rounds; round++) {
  for (const n of shapes) {
    for (const variant of VARIANTS) {
      const run = spawnSync(
        process.execPath,
        [fileURLToPath(import.meta.url), '--child', `${variant}:${n}:${seconds}`],
        { encoding: 'utf8', env: process.env },
      );
      if (run.status !== 0) throw new Error(`${variant} x ${n} failed: ${run.stderr}`);
      const sample = JSON.parse(run.stdout.trim().split('\n').pop()!) as Sample;
      samples.set(`${n}:${variant}`, [...(samples.get(`${n}:${variant}`) ?? []), sample]);
      process.stdout.write(
        `round ${round + 1}, ${n} hashes, ${variant}: ${sample.reads.toFixed(0)} reads/s, ` +
          `${sample.cpuMsPerRead.toFixed(3)} ms CPU/read, scavenges ${sample.scavengeMsPer100.toFixed(1)} ms/100 reads, ` +
          `${sample.fullGcsPer1000.toFixed(1)} full GCs/1000 reads\n`,
      );
    }
  }
}
await setup.del(...Array.from({ length: Math.max(...shapes) }, (_, i) => keyOf(i)));
setup.disconnect();

const med = (n: number, v: Variant, pick: (s: Sample) => number) =>
  median(samples.get(`${n}:${v}`)!.map(pick));
const rows = shapes.flatMap((n) =>
  VARIANTS.map((v) => [
    n,
    LABELS[v],
    med(n, v, (s) => s.reads).toFixed(0),
    med(n, v, (s) => s.cpuMsPerRead).toFixed(3),
    med(n, v, (s) => s.scavengeMsPer100).toFixed(1),
    med(n, v, (s) => s.fullGcsPer1000).toFixed(1),
  ]),
);
const file = writeResult('redis-reads', { shapes, rounds, seconds, samples: Object.fromEntries(samples) });
const command = `pnpm turbo run build --filter=@regatta/bench... && node bench/dist/scenarios/redis-reads.js --hashes ${values.hashes} --rounds ${rounds} --seconds ${seconds}`;
updateDocs(
  'redis-reads',
  `Measured ${new Date().toISOString().slice(0, 10)} with \`${command}\`: one HMGET of ${FIELDS} fields per hash,
Buffer replies, closed loop on one connection to Redis 127.0.0.1:6379; each variant in a fresh process for ${seconds} s,
variants alternating, ${rounds} rounds, medians shown (raw data in \`${file.replace(/.*\/bench\//, 'bench/')}\`). GC from a
\`PerformanceObserver\` on \`gc\` in the reading process.

${table(['hashes', 'sent with', 'reads/s', 'CPU ms/read', 'scavenge pause ms / 100 reads', 'full GCs / 1000 reads'], rows)}
`,
);
