/**
 * Base class for every error Kiln reports to a user. `location` (file:line) is
 * optional because some errors (a bad flag, a bad reference) have none.
 * The CLI prints `message` alone, never a stack, for a KilnError.
 */
export class KilnError extends Error {
  constructor(
    message: string,
    readonly location?: SourceLocation,
  ) {
    super(location ? `${formatLocation(location)}: ${message}` : message);
    this.name = new.target.name;
  }
}

export interface SourceLocation {
  file: string;
  /** 1-based line where the offending instruction starts. */
  line: number;
  endLine?: number;
}

export function formatLocation(loc: SourceLocation): string {
  return `${loc.file}:${loc.line}`;
}
