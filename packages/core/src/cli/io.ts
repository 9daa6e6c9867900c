// What every `kiln` verb writes to and reads from. The verbs take it from here, and main.ts
// (which imports the verbs) gives them the process's streams, so no verb imports main.ts.

export interface CliIo {
  stdout(text: string): void;
  stderr(text: string): void;
  readStdin(): Promise<Uint8Array>;
  /** One line of stdin (a prompt's answer), without waiting for its end; absent: readStdin's first line. */
  readLine?(): Promise<string>;
  /** Whether stderr is a terminal, and its size now (undefined when unknown): for live progress. */
  readonly stderrIsTTY?: boolean;
  readonly stderrColumns?: number;
  readonly stderrRows?: number;
}

/** The process's own stdout, stderr and stdin. */
export const processIo: CliIo = {
  stdout: (text) => void process.stdout.write(text),
  stderr: (text) => void process.stderr.write(text),
  readLine: async () => {
    const { createInterface } = await import('node:readline');
    const lines = createInterface({ input: process.stdin });
    try {
      for await (const line of lines) return line;
      return '';
    } finally {
      lines.close();
    }
  },
  readStdin: async () => {
    const chunks: Buffer[] = [];
    for await (const chunk of process.stdin) chunks.push(chunk as Buffer);
    return Buffer.concat(chunks);
  },
  get stderrIsTTY() {
    return process.stderr.isTTY === true;
  },
  get stderrColumns() {
    return process.stderr.isTTY ? process.stderr.columns : undefined;
  },
  get stderrRows() {
    return process.stderr.isTTY ? process.stderr.rows : undefined;
  },
};

/** One `kiln` verb: its arguments in, the process exit code out. */
export type Command = (args: string[], io: CliIo) => Promise<number>;
