// Go's path.Match, which COPY and ADD use for wildcard sources (and whose syntax check
// .dockerignore patterns must pass):
//
//   *        any sequence of characters but '/'
//   ?        one character but '/'
//   [...]    one character (any, '/' included) in the class: characters and lo-hi ranges, each
//            possibly escaped with '\'; `[^...]` negates ('!' is an ordinary character, as in Go)
//   \c       the character c
//
// A malformed pattern (an unclosed or empty class, a '-' or ']' where a class character belongs,
// a trailing '\') is an error whatever the name, as Go's ErrBadPattern.
//
// Matching follows Go step by step, on UTF-8 bytes: after a '*', each fixed-width run of the
// pattern takes the first place it fits and is not moved again (only the last run is retried
// until it ends the name), and a '*' skips bytes, so it may stop inside a multi-byte character.
// No regular expression backtracks like that, so the matcher is Go's algorithm itself.

import { KilnError } from '../errors.js';

/** A malformed pattern (Go's path.ErrBadPattern). */
export class BadPatternError extends KilnError {}

/** One element of a run: a literal byte, '?', or a class. */
type Element =
  | { kind: 'byte'; byte: number }
  | { kind: 'any' }
  | { kind: 'class'; negated: boolean; ranges: Array<[number, number]> };

/** A run of fixed-width elements, possibly preceded by '*'. */
interface Chunk {
  star: boolean;
  elements: Element[];
}

const SLASH = 0x2f; // '/'
const BACKSLASH = 0x5c; // '\\'
const STAR = 0x2a; // '*'
const QUESTION = 0x3f; // '?'
const OPEN = 0x5b; // '['
const CLOSE = 0x5d; // ']'
const CARET = 0x5e; // '^'
const DASH = 0x2d; // '-'
const RUNE_ERROR = 0xfffd;
const encoder = new TextEncoder();

/** Whether `pattern` has `*`, `?` or `[` outside a `\` escape (BuildKit's containsWildcards). */
export function hasWildcard(pattern: string): boolean {
  for (let i = 0; i < pattern.length; i++) {
    const c = pattern[i];
    if (c === '\\') i++;
    else if (c === '*' || c === '?' || c === '[') return true;
  }
  return false;
}

/** Whether Go's path.Match accepts `pattern` (false where it returns ErrBadPattern). */
export function isValidPattern(pattern: string): boolean {
  return compile(pattern) !== undefined;
}

/** path.Match(pattern, name); throws a BadPatternError for a malformed pattern. */
export function pathMatch(pattern: string, name: string): boolean {
  return matchChunks(compileOrThrow(pattern), encoder.encode(name));
}

/**
 * A RegExp-shaped matcher for callers that test paths with `.test()`: its `exec` (which `test`,
 * `match` and the like call) is path.Match of the whole string, for the reason given at the top
 * of this file. Throws a BadPatternError for a malformed pattern.
 */
export function globToRegExp(pattern: string): RegExp {
  return new PathPattern(pattern, compileOrThrow(pattern));
}

class PathPattern extends RegExp {
  constructor(
    /** The path.Match pattern. */
    readonly pattern: string,
    private readonly chunks: Chunk[],
  ) {
    super('[^]*');
  }

  override exec(input: string): RegExpExecArray | null {
    const text = String(input);
    if (!matchChunks(this.chunks, encoder.encode(text))) return null;
    return Object.assign([text], { index: 0, input: text, groups: undefined }) as RegExpExecArray;
  }

  override toString(): string {
    return `path.Match(${JSON.stringify(this.pattern)})`;
  }
}

function compileOrThrow(pattern: string): Chunk[] {
  const chunks = compile(pattern);
  if (!chunks) throw new BadPatternError(`syntax error in pattern ${JSON.stringify(pattern)}`);
  return chunks;
}

/** The pattern's runs, or undefined when it is malformed. */
function compile(pattern: string): Chunk[] | undefined {
  const p = encoder.encode(pattern);
  const chunks: Chunk[] = [];
  let i = 0;
  while (i < p.length) {
    let star = false;
    while (i < p.length && p[i] === STAR) {
      star = true;
      i++;
    }
    // The run ends at the next '*' outside what looks like a class ('\' skips a byte).
    let end = i;
    let inClass = false;
    for (; end < p.length; end++) {
      const c = p[end];
      if (c === BACKSLASH) {
        if (end + 1 < p.length) end++;
      } else if (c === OPEN) inClass = true;
      else if (c === CLOSE) inClass = false;
      else if (c === STAR && !inClass) break;
    }
    const elements = parseRun(p, i, end);
    if (!elements) return undefined;
    chunks.push({ star, elements });
    i = end;
  }
  return chunks;
}

/** The elements of p[start, end), or undefined when malformed. */
function parseRun(p: Uint8Array, start: number, end: number): Element[] | undefined {
  const elements: Element[] = [];
  let i = start;
  while (i < end) {
    const c = p[i]!;
    if (c === QUESTION) {
      elements.push({ kind: 'any' });
      i++;
    } else if (c === BACKSLASH) {
      if (i + 1 >= end) return undefined;
      elements.push({ kind: 'byte', byte: p[i + 1]! });
      i += 2;
    } else if (c === OPEN) {
      i++;
      const negated = p[i] === CARET && i < end;
      if (negated) i++;
      const ranges: Array<[number, number]> = [];
      for (;;) {
        if (i < end && p[i] === CLOSE && ranges.length > 0) {
          i++;
          break;
        }
        const lo = classChar(p, i, end);
        if (!lo) return undefined;
        i = lo.next;
        let hi = lo.rune;
        if (p[i] === DASH) {
          const h = classChar(p, i + 1, end);
          if (!h) return undefined;
          i = h.next;
          hi = h.rune;
        }
        ranges.push([lo.rune, hi]);
      }
      elements.push({ kind: 'class', negated, ranges });
    } else {
      elements.push({ kind: 'byte', byte: c });
      i++;
    }
  }
  return elements;
}

/** One possibly escaped class character at p[i]; undefined when malformed (the class must go on after it). */
function classChar(p: Uint8Array, i: number, end: number): { rune: number; next: number } | undefined {
  if (i >= end || p[i] === DASH || p[i] === CLOSE) return undefined;
  if (p[i] === BACKSLASH) {
    i++;
    if (i >= end) return undefined;
  }
  const [rune, size] = decodeRune(p, i, end);
  if (rune === RUNE_ERROR && size === 1) return undefined;
  const next = i + size;
  return next >= end ? undefined : { rune, next };
}

/** The code point at b[i] and its length in bytes, as Go's utf8.DecodeRune: (U+FFFD, 1) for an invalid or truncated sequence. */
function decodeRune(b: Uint8Array, i: number, end: number): [number, number] {
  const c = b[i]!;
  if (c < 0x80) return [c, 1];
  let need: number;
  let lo = 0x80; // the range of the first continuation byte (no overlong forms, no surrogates)
  let hi = 0xbf;
  if (c >= 0xc2 && c <= 0xdf) need = 1;
  else if (c >= 0xe0 && c <= 0xef) {
    need = 2;
    if (c === 0xe0) lo = 0xa0;
    if (c === 0xed) hi = 0x9f;
  } else if (c >= 0xf0 && c <= 0xf4) {
    need = 3;
    if (c === 0xf0) lo = 0x90;
    if (c === 0xf4) hi = 0x8f;
  } else return [RUNE_ERROR, 1];
  if (i + need >= end) return [RUNE_ERROR, 1];
  let rune = c & (QUESTION >> need);
  for (let k = 1; k <= need; k++) {
    const x = b[i + k]!;
    if (x < (k === 1 ? lo : 0x80) || x > (k === 1 ? hi : 0xbf)) return [RUNE_ERROR, 1];
    rune = (rune << 6) | (x & QUESTION);
  }
  return [rune, need + 1];
}

/** Where the run matched at s[pos] ends, or -1. */
function matchRun(elements: Element[], s: Uint8Array, pos: number): number {
  for (const e of elements) {
    if (pos >= s.length) return -1;
    if (e.kind === 'byte') {
      if (s[pos] !== e.byte) return -1;
      pos++;
    } else if (e.kind === 'any') {
      if (s[pos] === SLASH) return -1;
      pos += decodeRune(s, pos, s.length)[1];
    } else {
      const [rune, size] = decodeRune(s, pos, s.length);
      pos += size;
      const inClass = e.ranges.some(([lo, hi]) => lo <= rune && rune <= hi);
      if (inClass === e.negated) return -1;
    }
  }
  return pos;
}

function matchChunks(chunks: Chunk[], name: Uint8Array): boolean {
  let pos = 0;
  for (let c = 0; c < chunks.length; c++) {
    const { star, elements } = chunks[c]!;
    const last = c === chunks.length - 1;
    // A trailing '*' takes the rest of the name, unless it has a '/'.
    if (star && elements.length === 0) return name.indexOf(SLASH, pos) < 0;
    const here = matchRun(elements, name, pos);
    if (here >= 0 && (!last || here === name.length)) {
      pos = here;
      continue;
    }
    if (!star) return false;
    // Skip 1, 2, ... bytes (never a '/'); the first place the run fits is taken (for the last
    // run: the first where it also ends the name).
    let found = -1;
    for (let skip = pos; skip < name.length && name[skip] !== SLASH; skip++) {
      const end = matchRun(elements, name, skip + 1);
      if (end >= 0 && (!last || end === name.length)) {
        found = end;
        break;
      }
    }
    if (found < 0) return false;
    pos = found;
  }
  return pos === name.length;
}
