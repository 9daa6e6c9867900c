// `kiln debug parse [-f] FILE`: BuildKit's parser dump, for checking how Kiln reads a Dockerfile.

import { parseArgs } from 'node:util';
import { readDockerfile } from './read-dockerfile.js';
import { parseDockerfile } from '../dockerfile/parser.js';
import { dumpAst } from '../dockerfile/dump.js';
import { toStages } from '../dockerfile/instructions.js';
import { formatDockerfileWarning } from '../dockerfile/checks.js';
import { UsageError } from './usage.js';
import type { CliIo } from './io.js';

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
  // With the checks: every warning a build would give (after `# check=skip=`); without: the parser's.
  const warnings = values['no-check'] ? ast.warnings.map((w) => ({ ...w, file: name })) : toStages(ast).warnings;
  for (const warning of warnings) io.stderr(`[WARNING] ${formatDockerfileWarning(warning)}\n`);
  io.stdout(dumpAst(ast));
  return 0;
}
