import { readFile } from 'node:fs/promises';
import { KilnError } from '../errors.js';
import type { CliIo } from './io.js';

/** Read a Dockerfile from a path, or from standard input for `-`. */
export async function readDockerfile(path: string, io: CliIo): Promise<{ name: string; bytes: Uint8Array }> {
  if (path === '-') return { name: '<stdin>', bytes: await io.readStdin() };
  try {
    return { name: path, bytes: await readFile(path) };
  } catch (err) {
    const code = (err as NodeJS.ErrnoException).code;
    const why = code === 'ENOENT' ? 'no such file' : code === 'EISDIR' ? 'it is a directory' : (err as Error).message;
    throw new KilnError(`cannot read Dockerfile ${path}: ${why}`);
  }
}
