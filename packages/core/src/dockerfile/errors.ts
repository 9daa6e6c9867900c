import { KilnError, type SourceLocation } from '../errors.js';

/**
 * A Dockerfile that cannot be read, parsed or typed. The message names file:line, the problem,
 * and the instruction it is in when there is one.
 */
export class DockerfileError extends KilnError {
  constructor(
    readonly detail: string,
    location: SourceLocation,
    readonly instruction?: string,
  ) {
    super(instruction ? withInstruction(detail, instruction) : detail, location);
  }
}

/** `(in: INSTRUCTION)` closes the first line; further lines (a command's last output) follow it. */
function withInstruction(detail: string, instruction: string): string {
  const nl = detail.indexOf('\n');
  const where = ` (in: ${snippet(instruction)})`;
  return nl < 0 ? detail + where : detail.slice(0, nl) + where + detail.slice(nl);
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine;
}
