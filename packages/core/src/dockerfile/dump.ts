// BuildKit's parser dump: one s-expression per instruction, e.g. `(copy ["--from=a"] "x" "/y")`.
// `kiln debug parse` prints it and the conformance tests compare it byte for byte.

import type { DockerfileAst, InstructionNode } from './ast.js';
import { goQuote, trimSpace } from './text.js';

export function dumpInstruction(node: InstructionNode): string {
  let out = node.keyword.toLowerCase();
  if (node.flags.length > 0) out += ` [${node.flags.map(goQuote).join(' ')}]`;
  for (const arg of node.args) out += ' ' + goQuote(arg);
  if (node.sub) out += ` (${dumpInstruction(node.sub)})`;
  return trimSpace(out);
}

/** The whole file, one line per instruction, with a final newline. */
export function dumpAst(ast: DockerfileAst): string {
  return ast.instructions.map((node) => `(${dumpInstruction(node)})\n`).join('');
}
