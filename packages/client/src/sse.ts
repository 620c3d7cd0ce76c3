/** One server-sent event. */
export interface ServerEvent {
  /** `message` unless the server named it (`event: error`). */
  event: string;
  data: string;
}

/**
 * The events of a `text/event-stream` body, as they arrive. Works on the web ReadableStream of
 * `fetch` in browsers and Node alike. Comments and ids are skipped; multi-line data is joined; an event cut off by the end of the
 * stream is not delivered.
 */
export async function* readEventStream(body: ReadableStream<Uint8Array>): AsyncGenerator<ServerEvent> {
  const reader = body.getReader();
  const decoder = new TextDecoder();
  let buffer = '';
  let event = 'message';
  let data: string[] = [];
  try {
    for (;;) {
      const { value, done } = await reader.read();
      buffer += done ? decoder.decode() : decoder.decode(value, { stream: true });
      let newline: number;
      while ((newline = buffer.search(/\r\n|\r|\n/)) >= 0) {
        // A CR ending the chunk may be the first half of a CRLF: wait for the next chunk.
        if (!done && newline === buffer.length - 1 && buffer[newline] === '\r') break;
        const line = buffer.slice(0, newline);
        buffer = buffer.slice(
          buffer[newline] === '\r' && buffer[newline + 1] === '\n' ? newline + 2 : newline + 1,
        );
        if (line === '') {
          if (data.length > 0) yield { event, data: data.join('\n') };
          event = 'message';
          data = [];
          continue;
        }
        if (line.startsWith(':')) continue;
        const colon = line.indexOf(':');
        const field = colon < 0 ? line : line.slice(0, colon);
        const raw = colon < 0 ? '' : line.slice(colon + 1);
        const value = raw.startsWith(' ') ? raw.slice(1) : raw;
        if (field === 'data') data.push(value);
        else if (field === 'event') event = value;
      }
      // An event the stream ends in the middle of (no blank line yet) is dropped, as the SSE spec says.
      if (done) return;
    }
  } finally {
    // Stops the download when the consumer breaks out of its loop early.
    await reader.cancel().catch(() => undefined);
  }
}
