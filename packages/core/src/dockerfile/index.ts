export type { DockerfileAst, Directives, EscapeChar, Heredoc, InstructionNode, ParseWarning } from './ast.js';
export { parseDockerfile, MAX_LINE_BYTES, type ParseOptions } from './parser.js';
export { dumpAst, dumpInstruction } from './dump.js';
export { DockerfileError } from './errors.js';
export { formatDockerfileWarning, type DockerfileWarning } from './checks.js';
export { chompHeredocContent } from './heredoc.js';
export * from './instructions.js';
export * from './shell.js';
