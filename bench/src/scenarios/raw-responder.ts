// A bare NATS responder (no framework): the limit our transport is measured against.
import { connect } from '@nats-io/transport-node';

const nc = await connect({
  servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  noAsyncTraces: true,
  name: 'bench-raw-responder',
});
const subject = process.argv[2] ?? 'bench.raw.v1';
const reply = new TextEncoder().encode(
  JSON.stringify({
    status: 'ok',
    service: 'raw',
    instance: 'raw',
    ready: true,
    uptime_s: 1,
    version: '0',
    checks: {},
  }),
);
nc.subscribe(subject, {
  queue: 'raw',
  callback: (_err, msg) => {
    msg.respond(reply);
  },
});
await nc.flush();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void nc.drain().then(() => process.exit(0)));
