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
    super(instruction ? `${detail} (in: ${snippet(instruction)})` : detail, location);
  }
}

function snippet(text: string): string {
  const oneLine = text.replace(/\s+/g, ' ').trim();
  return oneLine.length > 80 ? `${oneLine.slice(0, 77)}...` : oneLine;
}
