import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { type NatsConnection, connect } from '@nats-io/transport-node';
import { serviceUrls, uniqueName } from '@regatta/testing';
import { ReplyMux } from './reply-mux.js';

describe(ReplyMux.name, () => {
  let nc: NatsConnection;
  const subject = `${uniqueName('bench_mux')}.echo`;

  beforeAll(async () => {
    nc = await connect({ servers: serviceUrls().nats });
    // Answers each request with its own body, after a delay the body asks for.
    nc.subscribe(subject, {
      callback: (_err, msg) => {
        const delayMs = Number(new TextDecoder().decode(msg.data).split(':')[1] ?? 0);
        setTimeout(() => msg.respond(msg.data), delayMs);
      },
    });
    await nc.flush();
  });
  afterAll(() => nc.drain());

  const body = (text: string) => new TextEncoder().encode(text);
  const text = (data: Uint8Array) => new TextDecoder().decode(data);

  it('gives every caller its own reply, however the replies are ordered', async () => {
    const mux = new ReplyMux(nc);
    try {
      // Caller 0 waits longest, so the replies come back in the reverse order of the requests.
      const replies = await Promise.all(
        [0, 1, 2, 3].map((caller) => mux.request(caller, subject, body(`c${caller}:${(3 - caller) * 30}`))),
      );
      expect(replies.map((m) => text(m.data))).toEqual(['c0:90', 'c1:60', 'c2:30', 'c3:0']);
      // A caller goes on with its next request once answered.
      expect(text((await mux.request(2, subject, body('again:0'))).data)).toBe('again:0');
    } finally {
      mux.close();
    }
  });

  it('refuses a second request from a caller that is still waiting', async () => {
    const mux = new ReplyMux(nc);
    try {
      const first = mux.request(0, subject, body('slow:50'));
      expect(() => mux.request(0, subject, body('x'))).toThrow('caller 0 already has a request outstanding');
      expect(text((await first).data)).toBe('slow:50');
    } finally {
      mux.close();
    }
  });

  it('fails a request nobody answers, and drops its reply when it comes too late', async () => {
    const mux = new ReplyMux(nc, 100);
    try {
      await expect(mux.request(0, `${subject}.nobody`, body('x'))).rejects.toThrow('NATS status 503');
      await expect(mux.request(1, subject, body('late:400'))).rejects.toThrow('no reply in 100 ms');
      // The next request of the same caller gets its own reply, not the late one.
      const next = await mux.request(1, subject, body('next:0'));
      expect(text(next.data)).toBe('next:0');
      await new Promise((r) => setTimeout(r, 450));
    } finally {
      mux.close();
    }
  });
});
