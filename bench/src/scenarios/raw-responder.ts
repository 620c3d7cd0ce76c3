// A bare NATS responder (no framework): the limit our transport is measured against.
import { readFileSync } from 'node:fs';
import { connect } from '@nats-io/transport-node';

const nc = await connect({
  servers: process.env.NATS_URL ?? 'nats://127.0.0.1:4222',
  noAsyncTraces: true,
  name: 'bench-raw-responder',
});
const subject = process.argv[2] ?? 'bench.raw.v1';
// RAW_REPLY: the reply body to send (the same bytes as the service under test answers with); RAW_REPLY_FILE:
// a file holding it, for bodies larger than an environment variable may be.
const reply = new TextEncoder().encode(
  (process.env.RAW_REPLY_FILE ? readFileSync(process.env.RAW_REPLY_FILE, 'utf8') : undefined) ??
    process.env.RAW_REPLY ??
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
// RAW_PARSE=1: parse each request as JSON, as any service must.
const parse = process.env.RAW_PARSE === '1';
const decoder = new TextDecoder();
nc.subscribe(subject, {
  queue: 'raw',
  callback: (_err, msg) => {
    if (parse) JSON.parse(decoder.decode(msg.data));
    msg.respond(reply);
  },
});
await nc.flush();
process.stdout.write('ready\n');
process.on('SIGTERM', () => void nc.drain().then(() => process.exit(0)));
