// Go's path.Match, which COPY and ADD use for wildcard sources: `*` and `?` never cross '/',
// `[...]` classes with ranges and `^`/`!` negation, `\` escapes.

export function hasWildcard(pattern: string): boolean {
  return /[*?[]/.test(pattern.replace(/\\./g, ''));
}

/** Compile a path.Match pattern to a RegExp; throws on a malformed pattern. */
export function globToRegExp(pattern: string): RegExp {
  let re = '^';
  for (let i = 0; i < pattern.length; i++) {
    const ch = pattern[i]!;
    if (ch === '*') re += '[^/]*';
    else if (ch === '?') re += '[^/]';
    else if (ch === '\\') {
      if (i + 1 >= pattern.length) throw new Error(`syntax error in pattern ${JSON.stringify(pattern)}`);
      re += escapeRegExp(pattern[++i]!);
    } else if (ch === '[') {
      const end = findClassEnd(pattern, i);
      if (end < 0) throw new Error(`syntax error in pattern ${JSON.stringify(pattern)}`);
      let body = pattern.slice(i + 1, end);
      let negate = false;
      if (body.startsWith('^') || body.startsWith('!')) {
        negate = true;
        body = body.slice(1);
      }
      const cls = body.replace(/\\(.)/g, '$1').replace(/[\]\\^]/g, '\\$&');
      re += negate ? `[^/${cls}]` : `[${cls}]`;
      i = end;
    } else re += escapeRegExp(ch);
  }
  return new RegExp(re + '$', 'u');
}

function findClassEnd(pattern: string, start: number): number {
  for (let i = start + 1; i < pattern.length; i++) {
    if (pattern[i] === '\\') i++;
    else if (pattern[i] === ']' && i > start + 1) return i;
  }
  return -1;
}

function escapeRegExp(ch: string): string {
  return ch.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&');
}
