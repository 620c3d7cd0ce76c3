/**
 * Server-sent events as `data` payloads: lines are split on LF or CRLF (also across network chunks),
 * multi-line data fields are joined with `\n`, comments and other fields are skipped, and an event ends
 * at a blank line. A payload still open when the source ends is yielded too.
 */
export async function* sseData(source: AsyncIterable<Uint8Array | string>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buffer = '';
  let data: string[] = [];
  const line = function* (text: string): Generator<string> {
    if (text === '') {
      if (data.length > 0) yield data.join('\n');
      data = [];
      return;
    }
    if (text.startsWith(':')) return;
    const colon = text.indexOf(':');
    const field = colon === -1 ? text : text.slice(0, colon);
    if (field !== 'data') return;
    let value = colon === -1 ? '' : text.slice(colon + 1);
    if (value.startsWith(' ')) value = value.slice(1);
    data.push(value);
  };
  for await (const piece of source) {
    buffer += typeof piece === 'string' ? piece : decoder.decode(piece, { stream: true });
    let newline = buffer.indexOf('\n');
    while (newline !== -1) {
      const end = newline > 0 && buffer[newline - 1] === '\r' ? newline - 1 : newline;
      yield* line(buffer.slice(0, end));
      buffer = buffer.slice(newline + 1);
      newline = buffer.indexOf('\n');
    }
  }
  buffer += decoder.decode();
  if (buffer !== '') yield* line(buffer.replace(/\r$/, ''));
  if (data.length > 0) yield data.join('\n');
}
