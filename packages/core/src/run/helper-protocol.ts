// The pipe between Kiln and its elevated RUN helper (run-helper.ts, started through sudo): frames
// of one type byte, a 4-byte big-endian length and the payload. The request goes down stdin
// (which then stays open: its end means "abort"); output, warnings and the result come up stdout.

export const FRAME = {
  request: 0x71, // 'q': the RunStepRequest, JSON
  stdout: 0x6f, // 'o': a chunk of the command's stdout
  stderr: 0x65, // 'e': a chunk of its stderr
  warning: 0x77, // 'w': a warning, UTF-8
  result: 0x72, // 'r': the RunStepResult, JSON
  error: 0x78, // 'x': { message, user }: the step failed
} as const;

export type FrameType = (typeof FRAME)[keyof typeof FRAME];

export function frame(type: FrameType, payload: Buffer | string): Buffer {
  const body = typeof payload === 'string' ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}

/** Splits a byte stream into frames, in order, whatever the chunk boundaries. */
export async function* readFrames(input: AsyncIterable<Buffer>): AsyncGenerator<{ type: number; payload: Buffer }> {
  let buffered: Buffer = Buffer.alloc(0);
  for await (const chunk of input) {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length) break;
      yield { type: buffered[0]!, payload: buffered.subarray(5, 5 + length) };
      buffered = buffered.subarray(5 + length);
    }
  }
  if (buffered.length > 0) throw new Error('the RUN helper ended in the middle of a message');
}
