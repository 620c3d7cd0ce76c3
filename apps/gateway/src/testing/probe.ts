import { setTimeout as sleep } from 'node:timers/promises';
import { Body, Controller, Get, HttpCode, Inject, Post, Query, Req, Res } from '@nestjs/common';
import { HEADERS, RegattaError, contract } from '@regatta/contracts';
import { type Bus, FRAME_HEADER, currentScope, encodeJson, errorReply } from '@regatta/transport';
import { type FastifyReply, type FastifyRequest } from 'fastify';
import { z } from 'zod';
import { Caller } from '../edge/caller.js';
import { sendEventStream } from '../edge/event-stream.js';
import { Deadline, Public, Schema, Scopes } from '../edge/route-meta.js';
import { Downstream } from '../resilience/downstream.js';

/** A contract served by the fake `probe` service of the tests. */
export const PROBE = contract({
  subject: 'probe.echo.v1',
  request: z.object({ text: z.string() }),
  reply: z.object({ text: z.string() }),
  chunk: z.object({ text: z.string() }),
});

export const EchoBody = z.object({
  text: z.string().max(100),
  n: z.number().int().optional(),
  nested: z.object({ flag: z.boolean() }).optional(),
});

const SlowQuery = z.object({ ms: z.number().int().min(0).max(60_000) });

/** Routes that exercise the edge in tests. */
@Controller('v1/probe')
export class ProbeController {
  constructor(@Inject(Downstream) private readonly downstream: Downstream) {}

  /** Echoes the body and what the handler sees of the request scope. */
  @Post('echo')
  @HttpCode(200)
  @Scopes('predict')
  @Schema({ body: EchoBody, summary: 'echo' })
  echo(@Caller() caller: Caller, @Body() body: z.infer<typeof EchoBody>) {
    const scope = currentScope();
    return {
      body,
      tenant: caller.tenant,
      key: caller.principal.keyId,
      scope: scope && {
        tenant: scope.tenant,
        request_id: scope.requestId,
        left_ms: scope.deadline - Date.now(),
      },
    };
  }

  @Get('slow')
  @Public()
  @Deadline(1_000)
  @Schema({ query: SlowQuery })
  async slow(@Query() query: z.infer<typeof SlowQuery>) {
    await sleep(query.ms);
    return { slept: query.ms };
  }

  /** Calls the probe service through the Downstream (breaker, retry, deadline). */
  @Post('call')
  @HttpCode(200)
  @Scopes('predict')
  @Schema({ body: z.object({ text: z.string() }) })
  call(@Body() body: { text: string }) {
    return this.downstream.request(PROBE, body);
  }

  /** Streams the probe service's chunks as server-sent events. */
  @Post('stream')
  @Scopes('predict')
  @Schema({ body: z.object({ text: z.string() }), stream: true })
  stream(@Req() req: FastifyRequest, @Res() reply: FastifyReply, @Body() body: { text: string }) {
    return sendEventStream(req, reply, this.downstream.stream(PROBE, body));
  }

  @Get('boom')
  @Public()
  boom(): never {
    throw new Error('database password is hunter2 at /srv/app.js:12');
  }
}

/** What the fake probe service saw of one request. */
export interface ProbeCall {
  text: string;
  headers: Map<string, string>;
}

/**
 * The `probe` service on a bus: echoes, fails with `fail:<CODE>`, hangs with `hang`, streams the
 * words of `stream:a b c`; records every call.
 */
export function serveProbe(bus: Bus): { calls: ProbeCall[] } {
  const calls: ProbeCall[] = [];
  bus.subscribe(PROBE.subject, 'probe', (msg) => {
    const { text } = JSON.parse(new TextDecoder().decode(msg.data)) as { text: string };
    calls.push({ text, headers: msg.headers });
    if (text === 'hang') return;
    if (text.startsWith('fail:')) {
      const err = errorReply(
        new RegattaError(text.slice(5) as 'UNAVAILABLE', `probe failed with ${text.slice(5)}`),
      );
      msg.reply(err.data, err.headers);
      return;
    }
    if (text.startsWith('stream:') && msg.headers.get(HEADERS.stream) === '1') {
      for (const word of text.slice(7).split(' '))
        msg.reply(encodeJson({ text: word }), new Map([[FRAME_HEADER, 'chunk']]));
      msg.reply(new Uint8Array(), new Map([[FRAME_HEADER, 'end']]));
      return;
    }
    msg.reply(encodeJson({ text }), new Map());
  });
  return { calls };
}
