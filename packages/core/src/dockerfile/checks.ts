// Warnings about a Dockerfile that still builds, and the `# check=` parser directive that
// BuildKit uses to silence them (`skip=Rule1,Rule2` or `skip=all`) or to fail the build on them
// (`error=true`). Nothing here prints: the warnings travel in the DockerfilePlan and the build's
// events, and each front end shows them its own way.

import { DockerfileError } from './errors.js';

export interface DockerfileWarning {
  file: string;
  /** 1-based line of the instruction the warning is about. */
  line: number;
  message: string;
  /**
   * The BuildKit lint rule this warning is (`NoEmptyContinuation`), when it is one: `# check=`
   * skips it by that name, and `error=true` fails the build on it as BuildKit does. Kiln's own
   * warnings have none; `skip=all` silences them too.
   */
  rule?: string;
}

/** `Dockerfile:3: message`: how every front end shows a warning. */
export function formatDockerfileWarning(warning: DockerfileWarning): string {
  return `${warning.file}:${warning.line}: ${warning.message}`;
}

export interface CheckOptions {
  skipAll: boolean;
  skip: Set<string>;
  error: boolean;
}

/**
 * BuildKit's reading of the `# check=` value: up to three `;`-separated `key=value` parts with the
 * keys skip, experimental and error. Anything else fails the build in BuildKit, and so here.
 */
export function parseCheckDirective(value: string | undefined, file: string): CheckOptions {
  const options: CheckOptions = { skipAll: false, skip: new Set(), error: false };
  const text = (value ?? '').trim();
  if (text === '') return options;
  const fail = (detail: string): never => {
    throw new DockerfileError(
      `failed to parse check options: ${detail}; write # check=skip=Rule1,Rule2 or # check=skip=all, optionally ;error=true`,
      { file, line: 1 },
    );
  };
  for (const part of splitN(text, ';', 3)) {
    const eq = part.indexOf('=');
    if (eq < 0) fail(`invalid check option "${part}"`);
    const key = part.slice(0, eq).trim();
    const v = part.slice(eq + 1).trim();
    if (key === 'skip') {
      if (v === 'all') options.skipAll = true;
      else for (const rule of v.split(',')) options.skip.add(rule.trim());
    } else if (key === 'experimental') {
      // Experimental rules are opt-in; Kiln runs none of them.
    } else if (key === 'error') {
      const bool = GO_BOOLS[v];
      if (bool === undefined) fail(`check option "${part}": error must be true or false`);
      options.error = bool!;
    } else {
      fail(`invalid check option "${key}"`);
    }
  }
  return options;
}

/** Go's strconv.ParseBool. */
const GO_BOOLS: Record<string, boolean> = {
  1: true, t: true, T: true, TRUE: true, true: true, True: true,
  0: false, f: false, F: false, FALSE: false, false: false, False: false,
};

/** Go's strings.SplitN: at most n parts, the last holding the rest. */
function splitN(s: string, sep: string, n: number): string[] {
  const parts = s.split(sep);
  return parts.length <= n ? parts : [...parts.slice(0, n - 1), parts.slice(n - 1).join(sep)];
}

/**
 * The warnings `# check=` lets through. With `error=true`, a BuildKit rule among them fails the
 * build ("lint violation found for rules: ..."), as in docker build.
 */
export function applyChecks(warnings: DockerfileWarning[], options: CheckOptions, file: string): DockerfileWarning[] {
  const kept = warnings.filter((w) => !options.skipAll && !(w.rule !== undefined && options.skip.has(w.rule)));
  const violations = kept.filter((w) => w.rule !== undefined);
  if (options.error && violations.length > 0) {
    const rules = [...new Set(violations.map((w) => w.rule))].join(', ');
    throw new DockerfileError(
      `lint violation found for rules: ${rules} (# check=error=true turns these warnings into errors): ${violations[0]!.message}`,
      { file, line: violations[0]!.line },
    );
  }
  return kept;
}
