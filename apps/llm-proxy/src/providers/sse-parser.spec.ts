import { describe, expect, it } from '@jest/globals';
import { sseData } from './sse-parser.js';

async function collect(pieces: string[]): Promise<string[]> {
  async function* source() {
    for (const p of pieces) {
      await Promise.resolve();
      yield new TextEncoder().encode(p);
    }
  }
  const out: string[] = [];
  for await (const data of sseData(source())) out.push(data);
  return out;
}

describe(sseData.name, () => {
  it('yields each data payload, also when events and lines are split across network chunks', async () => {
    expect(await collect(['data: {"a"', ':1}\n', '\ndata: [DO', 'NE]\n\n'])).toEqual(['{"a":1}', '[DONE]']);
  });

  it('accepts CRLF line ends, skips comments and other fields, joins multi-line data', async () => {
    expect(await collect([': keep-alive\r\n\r\nevent: x\r\nid: 3\r\ndata: a\r\ndata: b\r\n\r\n'])).toEqual([
      'a\nb',
    ]);
  });

  it('keeps a payload with no blank line before the end of the stream', async () => {
    expect(await collect(['data:x'])).toEqual(['x']);
  });

  it('keeps the data of a field written without a space after the colon', async () => {
    expect(await collect(['data:{"k":"v: w"}\n\n'])).toEqual(['{"k":"v: w"}']);
  });
});
