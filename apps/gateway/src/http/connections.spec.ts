import http from 'node:http';
import net from 'node:net';
import { afterEach, describe, expect, it } from '@jest/globals';
import { HEADERS } from '@regatta/contracts';
import { FRAME_HEADER, InProcessBus, type IncomingMessage, encodeJson } from '@regatta/transport';
import { PROBE, ProbeController } from '../testing/probe.js';
import { type TestGateway, startTestGateway } from '../testing/harness.js';
import { installPromptClose } from './connections.js';

/** How long a close may take here; without the fix the held sockets keep it waiting about a minute. */
const PROMPT_MS = 2_000;

async function timedClose(gw: TestGateway): Promise<number> {
  const started = performance.now();
  await gw.close();
  return performance.now() - started;
}

describe(installPromptClose.name, () => {
  let gw: TestGateway | undefined;
  afterEach(async () => {
    await gw?.close();
    gw = undefined;
  });

  it('closes promptly after a client abandoned an event stream', async () => {
    const bus = new InProcessBus();
    // A stream that sends one event and then keeps its caller waiting.
    let open: IncomingMessage | undefined;
    bus.subscribe(PROBE.subject, 'probe', (msg) => {
      if (msg.headers.get(HEADERS.stream) !== '1') return;
      open = msg;
      msg.reply(encodeJson({ text: 'first' }), new Map([[FRAME_HEADER, 'chunk']]));
    });
    gw = await startTestGateway({ bus, controllers: [ProbeController] });
    const { key } = await gw.createKey({ scopes: ['predict'] });
    const abandon = new AbortController();
    const res = await fetch(`${gw.url}/v1/probe/stream`, {
      method: 'POST',
      headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
      body: JSON.stringify({ text: 'drip' }),
      signal: abandon.signal,
    });
    const reader = res.body!.getReader();
    const first = (await reader.read()).value as Uint8Array;
    expect(new TextDecoder().decode(first)).toBe('data: {"text":"first"}\n\n');
    abandon.abort();
    await new Promise((resolve) => setTimeout(resolve, 100));

    const elapsed = await timedClose(gw);
    gw = undefined;
    expect(elapsed).toBeLessThan(PROMPT_MS);
    open?.reply(new Uint8Array(), new Map([[FRAME_HEADER, 'end']]));
    await bus.close();
  }, 10_000);

  it('is not held by a connection that never sent a request', async () => {
    gw = await startTestGateway();
    const silent = net.connect(Number(new URL(gw.url).port), '127.0.0.1');
    await new Promise((resolve) => silent.once('connect', resolve));
    const gone = new Promise((resolve) => silent.once('close', resolve));
    silent.on('error', () => undefined);

    const elapsed = await timedClose(gw);
    gw = undefined;
    expect(elapsed).toBeLessThan(PROMPT_MS);
    await gone;
  }, 10_000);

  it('answers a request in flight at close, then closes its keep-alive connection', async () => {
    gw = await startTestGateway({ controllers: [ProbeController] });
    const agent = new http.Agent({ keepAlive: true });
    const answer = new Promise<{ status: number; body: string }>((resolve, reject) => {
      http
        .get(`${gw!.url}/v1/probe/slow?ms=300`, { agent }, (res) => {
          let body = '';
          res.on('data', (d: Buffer) => (body += d.toString()));
          res.on('end', () => resolve({ status: res.statusCode ?? 0, body }));
        })
        .on('error', reject);
    });
    await new Promise((resolve) => setTimeout(resolve, 100));

    const elapsed = await timedClose(gw);
    gw = undefined;
    expect(await answer).toEqual({ status: 200, body: '{"slept":300}' });
    expect(elapsed).toBeLessThan(PROMPT_MS);
    agent.destroy();
  }, 10_000);
});
