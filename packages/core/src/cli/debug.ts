// `kiln debug parse [-f] FILE`: BuildKit's parser dump, for checking how Kiln reads a Dockerfile.

import { parseArgs } from 'node:util';
import { readDockerfile } from './read-dockerfile.js';
import { parseDockerfile } from '../dockerfile/parser.js';
import { dumpAst } from '../dockerfile/dump.js';
import { toStages } from '../dockerfile/instructions.js';
import { UsageError } from './usage.js';
import type { CliIo } from './main.js';

export async function debugCommand(args: string[], io: CliIo): Promise<number> {
  const [sub, ...rest] = args;
  if (sub !== 'parse') throw new UsageError(sub ? `unknown debug command: ${sub}` : 'debug needs a command: parse');
  const { values, positionals } = parseArgs({
    args: rest,
    options: { file: { type: 'string', short: 'f' }, 'no-check': { type: 'boolean' } },
    allowPositionals: true,
  });
  const file = values.file ?? positionals[0];
  if (file === undefined || positionals.length > (values.file === undefined ? 1 : 0)) {
    throw new UsageError('debug parse takes one Dockerfile: kiln debug parse [-f] FILE');
  }
  const { name, bytes } = await readDockerfile(file, io);
  const ast = parseDockerfile(bytes, { file: name });
  if (!values['no-check']) toStages(ast);
  for (const warning of ast.warnings) io.stderr(`[WARNING] ${name}:${warning.line}: ${warning.message}\n`);
  io.stdout(dumpAst(ast));
  return 0;
}
