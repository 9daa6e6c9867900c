// `.dockerignore`: reading the file and matching paths against it, with Docker's exact rules.
//
// Behaviour follows moby/patternmatcher (the matcher BuildKit, fsutil and the classic builder use)
// and its ignorefile.ReadAll. This is an independent implementation of those rules:
//
//  * reading: Go's bufio line splitting, BOM on line 1, `#` comments at column 0, Go's
//    strings.TrimSpace, `!` split off, filepath.Clean, leading `/` dropped;
//  * checking: a pattern is refused when `!` is alone, or when Go's filepath.Match would call it
//    malformed (unclosed or empty `[` class, trailing `\`), whatever the name: glob.ts's
//    isValidPattern, the check COPY's path.Match makes too;
//  * compiling: each pattern is classified exact | prefix | suffix | regexp and, for regexp,
//    turned into the very RE2 string upstream builds. That string is then translated to a JS
//    RegExp by a small RE2 parser, because a pattern can reach RE2 syntax that JS reads
//    differently (`]` outside a class, `[[:alpha:]]`, `\d`, `.` and line terminators, ...).
//    An RE2 string that RE2 itself rejects (e.g. `[z-a]`, which filepath.Match accepts) fails
//    only when the pattern is first evaluated, as upstream does.
import { readFile, stat } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { KilnError, type SourceLocation } from '../errors.js';
import { isValidPattern } from './glob.js';

/** A `.dockerignore` that cannot be read, or one of its patterns is invalid. */
export class DockerignoreError extends KilnError {
  constructor(
    message: string,
    location?: SourceLocation,
    /** The offending pattern as written (with its `!`), when one is to blame. */
    readonly pattern?: string,
  ) {
    super(message, location);
  }
}

// ---------------------------------------------------------------------------------------------
// Go helpers: strings.TrimSpace, path.Clean, path.Dir (with '/' as the separator).

/** unicode.IsSpace: Latin-1 spaces plus the White_Space property (JS trim() differs: it strips U+FEFF, not U+0085). */
function isGoSpace(cp: number): boolean {
  return (
    (cp >= 0x09 && cp <= 0x0d) || cp === 0x20 || cp === 0x85 || cp === 0xa0 || cp === 0x1680 ||
    (cp >= 0x2000 && cp <= 0x200a) || cp === 0x2028 || cp === 0x2029 || cp === 0x202f || cp === 0x205f || cp === 0x3000
  );
}

function goTrimSpace(s: string): string {
  let start = 0;
  let end = s.length;
  while (start < end && isGoSpace(s.charCodeAt(start))) start++;
  while (end > start && isGoSpace(s.charCodeAt(end - 1))) end--;
  return s.slice(start, end);
}

/** path.Clean: shortest equivalent path, purely lexical. */
function goClean(path: string): string {
  if (path === '') return '.';
  const rooted = path.startsWith('/');
  const out: string[] = [];
  for (const part of path.split('/')) {
    if (part === '' || part === '.') continue;
    if (part === '..') {
      if (out.length > 0 && out[out.length - 1] !== '..') out.pop();
      else if (!rooted) out.push('..');
      continue;
    }
    out.push(part);
  }
  const joined = out.join('/');
  if (rooted) return `/${joined}`;
  return joined === '' ? '.' : joined;
}

/** path.Dir: everything but the last element, cleaned. */
function goDir(path: string): string {
  return goClean(path.slice(0, path.lastIndexOf('/') + 1));
}

// ---------------------------------------------------------------------------------------------
// Reading (ignorefile.ReadAll)

/** bufio.Scanner's default limit: a line of this many bytes or more fails the whole read. */
const MAX_LINE_BYTES = 64 * 1024;

interface IgnoreLine {
  pattern: string;
  /** 1-based line in the file. */
  line: number;
}

function readLines(text: string, file?: string): IgnoreLine[] {
  const out: IgnoreLine[] = [];
  if (text === '') return out;
  const lines = text.split('\n');
  if (text.endsWith('\n')) lines.pop(); // no empty token after a final newline
  lines.forEach((raw, index) => {
    if (Buffer.byteLength(raw, 'utf8') >= MAX_LINE_BYTES) {
      throw new DockerignoreError(
        'error reading .dockerignore: bufio.Scanner: token too long',
        file === undefined ? undefined : { file, line: index + 1 },
      );
    }
    let line = raw.endsWith('\r') ? raw.slice(0, -1) : raw;
    if (index === 0 && line.startsWith('\uFEFF')) line = line.slice(1);
    if (line.startsWith('#')) return; // a comment only at column 0
    let pattern = goTrimSpace(line);
    if (pattern === '') return;
    const invert = pattern.startsWith('!');
    if (invert) pattern = goTrimSpace(pattern.slice(1));
    if (pattern.length > 0) {
      pattern = goClean(pattern);
      if (pattern.length > 1 && pattern.startsWith('/')) pattern = pattern.slice(1);
    }
    out.push({ pattern: invert ? `!${pattern}` : pattern, line: index + 1 });
  });
  return out;
}

/**
 * The patterns of a `.dockerignore` file's text, cleaned like ignorefile.ReadAll
 * (`null` = no file = no patterns). Throws DockerignoreError for a line of 64 KiB or more.
 */
export function readDockerignore(text: string | null): string[] {
  if (text === null) return [];
  return readLines(text).map((l) => l.pattern);
}

// ---------------------------------------------------------------------------------------------
// Compiling a cleaned pattern into a match type and upstream's RE2 string ('/' separator).

export type MatchType = 'exact' | 'prefix' | 'suffix' | 'regexp';

/** Regexp metacharacters that mean nothing to filepath.Match, escaped when met literally. */
const REGEXP_META = '.+()|{}$';

function compileGlob(pattern: string): { matchType: MatchType; regexp: string | null } {
  const chars = Array.from(pattern); // by code point, like Go's text/scanner
  let k = chars[0] === '\uFEFF' ? 1 : 0; // text/scanner skips a leading BOM
  let re = '^';
  let type: MatchType = 'exact';
  for (let i = 0; k < chars.length; i++) {
    const ch = chars[k++]!;
    if (ch === '*') {
      if (chars[k] === '*') {
        k++;
        if (chars[k] === '/') k++; // "**/" is "**"
        if (k >= chars.length) {
          // "**" at the end accepts everything below
          if (type === 'exact') type = 'prefix';
          else {
            re += '.*';
            type = 'regexp';
          }
        } else {
          re += '(.*/)?'; // any number of directories, even none
          type = 'regexp';
        }
        if (i === 0) type = 'suffix';
      } else {
        re += '[^/]*';
        type = 'regexp';
      }
    } else if (ch === '?') {
      re += '[^/]';
      type = 'regexp';
    } else if (REGEXP_META.includes(ch)) {
      re += `\\${ch}`;
    } else if (ch === '\\') {
      if (k < chars.length) {
        re += `\\${chars[k++]!}`; // passed to RE2 as an escape, whatever it is
        type = 'regexp';
      } else {
        re += '\\';
      }
    } else if (ch === '[' || ch === ']') {
      re += ch;
      type = 'regexp';
    } else {
      re += ch;
    }
  }
  return { matchType: type, regexp: type === 'regexp' ? `${re}$` : null };
}

// ---------------------------------------------------------------------------------------------
// RE2 (Go regexp, Perl flags) to JS RegExp source for the `u` flag. Only what the string can
// contain matters: literals, ^ $ . * + ? {n,m}, groups, [classes] (POSIX [:name:], \d \s \w,
// \pX), and \ escapes (\Q..\E, \A \z \b \B, octal, \x, \a \f \n \r \t \v, punctuation).

class Re2SyntaxError extends Error {}

type Ranges = Array<[number, number]>;
const MAX_RUNE = 0x10ffff;

const PERL_GROUPS: Record<string, Ranges> = {
  d: [[0x30, 0x39]],
  s: [[0x09, 0x0a], [0x0c, 0x0d], [0x20, 0x20]],
  w: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
};

const POSIX_GROUPS = new Map<string, Ranges>(Object.entries({
  alnum: [[0x30, 0x39], [0x41, 0x5a], [0x61, 0x7a]],
  alpha: [[0x41, 0x5a], [0x61, 0x7a]],
  ascii: [[0x00, 0x7f]],
  blank: [[0x09, 0x09], [0x20, 0x20]],
  cntrl: [[0x00, 0x1f], [0x7f, 0x7f]],
  digit: [[0x30, 0x39]],
  graph: [[0x21, 0x7e]],
  lower: [[0x61, 0x7a]],
  print: [[0x20, 0x7e]],
  punct: [[0x21, 0x2f], [0x3a, 0x40], [0x5b, 0x60], [0x7b, 0x7e]],
  space: [[0x09, 0x0d], [0x20, 0x20]],
  upper: [[0x41, 0x5a]],
  word: [[0x30, 0x39], [0x41, 0x5a], [0x5f, 0x5f], [0x61, 0x7a]],
  xdigit: [[0x30, 0x39], [0x41, 0x46], [0x61, 0x66]],
} satisfies Record<string, Ranges>));

function normalizeRanges(ranges: Ranges): Ranges {
  const sorted = [...ranges].sort((a, b) => a[0] - b[0] || b[1] - a[1]);
  const out: Ranges = [];
  for (const [lo, hi] of sorted) {
    const last = out[out.length - 1];
    if (last && lo <= last[1] + 1) last[1] = Math.max(last[1], hi);
    else out.push([lo, hi]);
  }
  return out;
}

function negateRanges(ranges: Ranges): Ranges {
  const out: Ranges = [];
  let next = 0;
  for (const [lo, hi] of normalizeRanges(ranges)) {
    if (next <= lo - 1) out.push([next, lo - 1]);
    next = hi + 1;
  }
  if (next <= MAX_RUNE) out.push([next, MAX_RUNE]);
  return out;
}

/** A set of code points: explicit ranges plus JS Unicode property escapes. */
interface CharSet {
  ranges: Ranges;
  props: string[];
}

/** \pX / \PX: Go's one-letter general categories (and Any). Go's C has no unassigned code points. */
function unicodeGroup(name: string, negated: boolean): CharSet | undefined {
  let canonical = name.replace(/[_\- ]/g, '');
  canonical = canonical.charAt(0).toUpperCase() + canonical.slice(1).toLowerCase();
  if (canonical === 'Any') return { ranges: negated ? [] : [[0, MAX_RUNE]], props: [] };
  if (canonical === 'C') {
    return { ranges: [], props: negated ? ['\\P{C}', '\\p{Cn}'] : ['\\p{Cc}', '\\p{Cf}', '\\p{Co}', '\\p{Cs}'] };
  }
  if (/^[LMNPSZ]$/.test(canonical)) return { ranges: [], props: [`\\${negated ? 'P' : 'p'}{${canonical}}`] };
  return undefined;
}

function classCodePoint(cp: number): string {
  return /[A-Za-z0-9_./]/.test(String.fromCodePoint(cp)) ? String.fromCodePoint(cp) : `\\u{${cp.toString(16)}}`;
}

function charSetToJs(set: CharSet, negated: boolean): string {
  const body = normalizeRanges(set.ranges)
    .map(([lo, hi]) => (lo === hi ? classCodePoint(lo) : `${classCodePoint(lo)}-${classCodePoint(hi)}`))
    .join('');
  return `[${negated ? '^' : ''}${body}${set.props.join('')}]`;
}

function literalToJs(cp: number): string {
  const ch = String.fromCodePoint(cp);
  if ('^$\\.*+?()[]{}|/'.includes(ch)) return `\\${ch}`;
  if (cp > 0x20 && cp < 0x7f) return ch;
  return `\\u{${cp.toString(16)}}`;
}

function isOctal(c: string | undefined): c is string {
  return c !== undefined && c >= '0' && c <= '7';
}

function hexValue(c: string | undefined): number {
  return c !== undefined && /^[0-9A-Fa-f]$/.test(c) ? parseInt(c, 16) : -1;
}

interface Item {
  src: string;
  /** Only an `atom` can take a quantifier as it is; anything else is wrapped in (?:...) first. */
  kind: 'atom' | 'assertion' | 'repeat';
}

class Re2Translator {
  private i = 0;

  constructor(private readonly s: string) {}

  translate(): string {
    const s = this.s;
    const frames: Array<{ alternatives: string[]; items: Item[] }> = [{ alternatives: [], items: [] }];
    let lastWasRepeat = false;
    const top = () => frames[frames.length - 1]!;
    const push = (src: string, kind: Item['kind'] = 'atom') => top().items.push({ src, kind });
    while (this.i < s.length) {
      const c = s[this.i]!;
      let isRepeat = false;
      if (c === '*' || c === '+' || c === '?' || c === '{') {
        let op: string | undefined = c === '{' ? this.parseRepeatCount() : c;
        if (op !== undefined) {
          if (c !== '{') this.i++;
          if (s[this.i] === '?') {
            op += '?';
            this.i++;
          }
          if (lastWasRepeat) throw new Re2SyntaxError(`invalid nested repetition operator: ${op}`);
          const items = top().items;
          const operand = items.pop();
          if (!operand) throw new Re2SyntaxError(`missing argument to repetition operator: ${op}`);
          const wrapped = operand.kind === 'atom' ? operand.src : `(?:${operand.src})`;
          items.push({ src: wrapped + op, kind: 'repeat' });
          isRepeat = true;
        } else {
          push(literalToJs(0x7b)); // a '{' that is not a repeat count is literal
          this.i++;
        }
      } else if (c === '(') {
        if (s[this.i + 1] === '?') throw new Re2SyntaxError('unsupported group syntax (?');
        frames.push({ alternatives: [], items: [] });
        this.i++;
      } else if (c === '|') {
        const f = top();
        f.alternatives.push(f.items.map((x) => x.src).join(''));
        f.items = [];
        this.i++;
      } else if (c === ')') {
        if (frames.length < 2) throw new Re2SyntaxError('unexpected )');
        const f = frames.pop()!;
        push(`(?:${[...f.alternatives, f.items.map((x) => x.src).join('')].join('|')})`);
        this.i++;
      } else if (c === '^' || c === '$') {
        push(c, 'assertion'); // Perl flags: OneLine, so start/end of text, as JS without `m`
        this.i++;
      } else if (c === '.') {
        push('[^\\n]'); // RE2's . excludes only \n; JS's would also exclude \r, U+2028, U+2029
        this.i++;
      } else if (c === '[') {
        push(this.parseClass());
      } else if (c === '\\') {
        const next = s[this.i + 1];
        if (next === 'A' || next === 'z') {
          push(next === 'A' ? '^' : '$', 'assertion');
          this.i += 2;
        } else if (next === 'b' || next === 'B') {
          push(`\\${next}`, 'assertion'); // ASCII word boundary in both
          this.i += 2;
        } else if (next === 'C') {
          throw new Re2SyntaxError('invalid escape sequence: \\C');
        } else if (next === 'Q') {
          const end = s.indexOf('\\E', this.i + 2);
          const literal = s.slice(this.i + 2, end < 0 ? s.length : end);
          for (const ch of literal) push(literalToJs(ch.codePointAt(0)!));
          this.i = end < 0 ? s.length : end + 2;
        } else {
          const group = this.parseUnicodeGroup() ?? this.parsePerlGroup();
          if (group) push(charSetToJs(group, false));
          else push(literalToJs(this.parseEscape()));
        }
      } else {
        const cp = s.codePointAt(this.i)!;
        push(literalToJs(cp));
        this.i += cp > 0xffff ? 2 : 1;
      }
      lastWasRepeat = isRepeat;
    }
    if (frames.length !== 1) throw new Re2SyntaxError('missing closing )');
    const f = frames[0]!;
    return [...f.alternatives, f.items.map((x) => x.src).join('')].join('|');
  }

  /** `{n}`, `{n,}` or `{n,m}` at the cursor, consumed, as JS syntax; undefined when not one. */
  private parseRepeatCount(): string | undefined {
    const m = /^\{(0|[1-9][0-9]*)(,(0|[1-9][0-9]*)?)?\}/.exec(this.s.slice(this.i));
    if (!m) return undefined;
    const min = Number(m[1]);
    const max = m[2] === undefined ? min : m[3] === undefined ? -1 : Number(m[3]);
    if (min > 1000 || max > 1000 || (max >= 0 && min > max)) throw new Re2SyntaxError(`invalid repeat count: ${m[0]}`);
    this.i += m[0].length;
    return m[0];
  }

  /** \d \D \s \S \w \W at the cursor. */
  private parsePerlGroup(): CharSet | undefined {
    const letter = this.s[this.i + 1];
    if (this.s[this.i] !== '\\' || letter === undefined) return undefined;
    const ranges = PERL_GROUPS[letter.toLowerCase()];
    if (!ranges || !/[dswDSW]/.test(letter)) return undefined;
    this.i += 2;
    return { ranges: letter === letter.toUpperCase() ? negateRanges(ranges) : ranges, props: [] };
  }

  /** \pX, \PX, \p{Name} at the cursor; throws for an unknown name. */
  private parseUnicodeGroup(): CharSet | undefined {
    const s = this.s;
    if (s[this.i] !== '\\' || (s[this.i + 1] !== 'p' && s[this.i + 1] !== 'P')) return undefined;
    let negated = s[this.i + 1] === 'P';
    const start = this.i + 2;
    let name: string;
    let end: number;
    if (s[start] === '{') {
      const close = s.indexOf('}', start);
      if (close < 0) throw new Re2SyntaxError(`invalid character class range: ${s.slice(this.i)}`);
      name = s.slice(start + 1, close);
      end = close + 1;
    } else {
      const cp = s.codePointAt(start);
      name = cp === undefined ? '' : String.fromCodePoint(cp);
      end = start + name.length;
    }
    if (name.startsWith('^')) {
      negated = !negated;
      name = name.slice(1);
    }
    const group = unicodeGroup(name, negated);
    if (!group) throw new Re2SyntaxError(`invalid character class range: ${s.slice(this.i, end)}`);
    this.i = end;
    return group;
  }

  /** A `\` escape standing for one character (Go's parseEscape). */
  private parseEscape(): number {
    const s = this.s;
    const start = this.i;
    this.i++; // the backslash
    if (this.i >= s.length) throw new Re2SyntaxError('trailing backslash at end of expression');
    const cp = s.codePointAt(this.i)!;
    const c = String.fromCodePoint(cp);
    this.i += c.length;
    const bad = () => new Re2SyntaxError(`invalid escape sequence: ${s.slice(start, this.i)}`);
    if (cp < 0x80 && !/[0-9A-Za-z]/.test(c)) return cp; // escaped punctuation is itself
    if (c >= '1' && c <= '7' && !isOctal(s[this.i])) throw bad(); // a backreference: not supported
    if (c >= '0' && c <= '7') {
      let r = cp - 0x30;
      for (let n = 1; n < 3 && isOctal(s[this.i]); n++) r = r * 8 + (s.charCodeAt(this.i++) - 0x30);
      return r;
    }
    if (c === 'x') {
      if (s[this.i] === '{') {
        const close = s.indexOf('}', this.i);
        const digits = close < 0 ? '' : s.slice(this.i + 1, close);
        if (!/^[0-9A-Fa-f]+$/.test(digits)) throw bad();
        const r = parseInt(digits, 16);
        this.i = close + 1;
        if (r > MAX_RUNE) throw bad();
        return r;
      }
      const x = hexValue(s[this.i]);
      const y = hexValue(s[this.i + 1]);
      this.i = Math.min(s.length, this.i + 2);
      if (x < 0 || y < 0) throw bad();
      return x * 16 + y;
    }
    const simple: Record<string, number> = { a: 7, f: 12, n: 10, r: 13, t: 9, v: 11 };
    const value = simple[c];
    if (value === undefined) throw bad();
    return value;
  }

  /** One class member character (Go's parseClassChar). */
  private parseClassChar(): number {
    const s = this.s;
    if (this.i >= s.length) throw new Re2SyntaxError('missing closing ]');
    if (s[this.i] === '\\') return this.parseEscape();
    const cp = s.codePointAt(this.i)!;
    this.i += cp > 0xffff ? 2 : 1;
    return cp;
  }

  /** `[...]` at the cursor (Go's parseClass with Perl flags: `-` allowed anywhere, `]` first is literal). */
  private parseClass(): string {
    const s = this.s;
    this.i++;
    const negated = s[this.i] === '^';
    if (negated) this.i++;
    const set: CharSet = { ranges: [], props: [] };
    const add = (g: CharSet) => {
      set.ranges.push(...g.ranges);
      set.props.push(...g.props);
    };
    let first = true;
    while (this.i >= s.length || s[this.i] !== ']' || first) {
      first = false;
      if (s.startsWith('[:', this.i) && s.length - this.i > 2) {
        const close = s.indexOf(':]', this.i + 2);
        if (close >= 0) {
          const name = s.slice(this.i + 2, close);
          const posix = POSIX_GROUPS.get(name.startsWith('^') ? name.slice(1) : name);
          if (!posix) throw new Re2SyntaxError(`invalid character class range: ${s.slice(this.i, close + 2)}`);
          add({ ranges: name.startsWith('^') ? negateRanges(posix) : posix, props: [] });
          this.i = close + 2;
          continue;
        }
      }
      const group = this.parseUnicodeGroup() ?? this.parsePerlGroup();
      if (group) {
        add(group);
        continue;
      }
      const rangeStart = this.i;
      const lo = this.parseClassChar();
      let hi = lo;
      if (s.length - this.i >= 2 && s[this.i] === '-' && s[this.i + 1] !== ']') {
        this.i++;
        hi = this.parseClassChar();
        if (hi < lo) throw new Re2SyntaxError(`invalid character class range: ${s.slice(rangeStart, this.i)}`);
      }
      set.ranges.push([lo, hi]);
    }
    this.i++; // the closing ]
    return charSetToJs(set, negated); // may be empty ([\P{Any}]): JS [] matches nothing, as RE2
  }
}

/** JS RegExp (flag `u`) matching what Go's regexp.MustCompile(re2) matches; throws Re2SyntaxError. */
function re2ToRegExp(re2: string): RegExp {
  const source = new Re2Translator(re2).translate();
  try {
    return new RegExp(source, 'u');
  } catch (e) {
    throw new Re2SyntaxError(`cannot express as a JS RegExp: ${(e as Error).message}`);
  }
}

// ---------------------------------------------------------------------------------------------
// The matcher

export interface CompiledPattern {
  /** The pattern as given (after ReadAll cleaning when it came from a file). */
  source: string;
  /** `!pattern`: re-includes what earlier patterns excluded. */
  exclusion: boolean;
  matchType: MatchType;
  /** Upstream's RE2 string for a `regexp` pattern ('/' separator), else null. */
  regexp: string | null;
  /** The cleaned pattern (without `!`) split on '/'. */
  dirs: string[];
}

interface PatternState {
  compiled: CompiledPattern;
  /** What the match compares against: trimmed, cleaned, `!` removed. */
  cleaned: string;
  matcher: RegExp | undefined;
  /** Why the RE2 string is invalid, reported when the pattern is first evaluated. */
  regexpError: string | undefined;
  where: PatternWhere | undefined;
}

/** Where one pattern was written, for its error message. */
interface PatternWhere {
  file: string;
  line?: number;
}

/** Where a matcher's patterns came from, for error messages: file and the line of each pattern. */
export interface IgnoreOrigin {
  file: string;
  lines?: readonly number[];
}

interface WalkResult {
  matched: boolean;
  /** Per pattern: whether it matched this path (MatchInfo.parentMatched for the children). */
  info: boolean[];
}

const WALK_MEMO_LIMIT = 16_384;

export class IgnoreMatcher {
  readonly patterns: readonly CompiledPattern[];
  /** Whether any pattern starts with `!`: a walker must then descend into excluded directories. */
  readonly hasExclusions: boolean;
  private readonly states: PatternState[];
  private readonly walkMemo = new Map<string, WalkResult>();

  /** Like patternmatcher.New: throws DockerignoreError for `!` alone or a malformed pattern. */
  constructor(patterns: readonly string[], origin?: IgnoreOrigin) {
    const states: PatternState[] = [];
    let hasExclusions = false;
    patterns.forEach((source, index) => {
      const where = origin ? { file: origin.file, line: origin.lines?.[index] } : undefined;
      let p = goTrimSpace(source);
      if (p === '') return;
      p = goClean(p);
      let exclusion = false;
      if (p.startsWith('!')) {
        if (p.length === 1) throw patternError(source, 'illegal exclusion pattern: "!"', where);
        exclusion = true;
        hasExclusions = true;
        p = p.slice(1);
      }
      if (!isValidPattern(p)) throw patternError(source, 'syntax error in pattern', where);
      const { matchType, regexp } = compileGlob(p);
      let matcher: RegExp | undefined;
      let regexpError: string | undefined;
      if (regexp !== null) {
        try {
          matcher = re2ToRegExp(regexp);
        } catch (e) {
          if (!(e instanceof Re2SyntaxError)) throw e;
          regexpError = e.message;
        }
      }
      states.push({
        compiled: { source, exclusion, matchType, regexp, dirs: p.split('/') },
        cleaned: p,
        matcher,
        regexpError,
        where,
      });
    });
    this.states = states;
    this.patterns = states.map((s) => s.compiled);
    this.hasExclusions = hasExclusions;
  }

  /**
   * Whether `path` (relative to the context root, '/'-separated) is excluded: the last pattern
   * matching it or one of its parent directories decides (MatchesOrParentMatches on the cleaned
   * path). "." is never excluded. Throws DockerignoreError for a pattern RE2 would reject.
   */
  matches(path: string): boolean {
    const file = goClean(path);
    if (file === '.') return false;
    const parent = goDir(file);
    const parentDirs = parent.split('/');
    let matched = false;
    for (const p of this.states) {
      // An inclusion cannot change a match, nor an exclusion a non-match: skip.
      if (p.compiled.exclusion !== matched) continue;
      let match = this.test(p, file);
      if (!match && parent !== '.') {
        let prefix = '';
        for (let i = 0; i < parentDirs.length && !match; i++) {
          prefix = i === 0 ? parentDirs[0]! : `${prefix}/${parentDirs[i]!}`;
          match = this.test(p, prefix);
        }
      }
      if (match) matched = !p.compiled.exclusion;
    }
    return matched;
  }

  /**
   * Walker-friendly variant: the answer a directory walk gets from MatchesUsingParentResults,
   * where each pattern's result for the parent directory is carried down (and a pattern skipped
   * at the parent is not re-checked against it). The per-pattern results of the ancestors are
   * kept here (computed on demand when the walker did not ask about them), so the boolean the
   * walker passes is only a shortcut: with no exclusions, a matched parent means a matched child.
   * This differs from `matches` only for unusual pattern orders, as upstream does.
   */
  matchesWithParent(path: string, parentMatched: boolean): boolean {
    const file = goClean(path);
    if (file === '.') return false;
    if (parentMatched && !this.hasExclusions) return true;
    return this.walk(file).matched;
  }

  private walk(file: string): WalkResult {
    const known = this.walkMemo.get(file);
    if (known) return known;
    const parent = goDir(file);
    const parentInfo = parent === '.' || parent === file ? undefined : this.walk(parent).info;
    const result = this.usingParentResults(file, parentInfo);
    if (this.walkMemo.size >= WALK_MEMO_LIMIT) this.walkMemo.clear();
    this.walkMemo.set(file, result);
    return result;
  }

  /** MatchesUsingParentResults; `parentInfo` undefined = the zero MatchInfo (top level). */
  private usingParentResults(file: string, parentInfo: boolean[] | undefined): WalkResult {
    const inherit = parentInfo !== undefined && parentInfo.length > 0;
    const info = this.states.map(() => false);
    let matched = false;
    this.states.forEach((p, i) => {
      let match = inherit ? parentInfo[i] === true : false;
      if (!match) {
        if (p.compiled.exclusion !== matched) return;
        match = this.test(p, file);
        if (!match && !inherit) {
          const parent = goDir(file);
          if (parent !== '.') {
            let prefix = '';
            const dirs = parent.split('/');
            for (let k = 0; k < dirs.length && !match; k++) {
              prefix = k === 0 ? dirs[0]! : `${prefix}/${dirs[k]!}`;
              match = this.test(p, prefix);
            }
          }
        }
      }
      info[i] = match;
      if (match) matched = !p.compiled.exclusion;
    });
    return { matched, info };
  }

  /** Pattern.match: one pattern against one path. */
  private test(p: PatternState, path: string): boolean {
    const pattern = p.cleaned;
    switch (p.compiled.matchType) {
      case 'exact':
        return path === pattern;
      case 'prefix':
        return path.startsWith(pattern.slice(0, -2));
      case 'suffix': {
        // Upstream slices off two bytes; after a leading BOM that leaves invalid UTF-8 that no path ends with.
        if (pattern.startsWith('\uFEFF')) return false;
        const suffix = pattern.slice(2);
        return path.endsWith(suffix) || (suffix.startsWith('/') && path === suffix.slice(1));
      }
      case 'regexp':
        if (!p.matcher) {
          throw patternError(p.compiled.source, `syntax error in pattern (${p.regexpError ?? 'invalid regexp'})`, p.where);
        }
        return p.matcher.test(path);
    }
  }
}

function patternError(source: string, why: string, where: PatternWhere | undefined): DockerignoreError {
  const message = `invalid .dockerignore pattern ${JSON.stringify(source)}: ${why}`;
  if (where?.line !== undefined) return new DockerignoreError(message, { file: where.file, line: where.line }, source);
  return new DockerignoreError(where ? `${where.file}: ${message}` : message, undefined, source);
}

// ---------------------------------------------------------------------------------------------
// Finding and loading the file

async function isFile(path: string): Promise<boolean> {
  try {
    return (await stat(path)).isFile();
  } catch {
    return false;
  }
}

/**
 * Which ignore file applies for a Dockerfile: `<dockerfile>.dockerignore` next to the Dockerfile
 * (e.g. `build/app.Dockerfile.dockerignore`) takes precedence over `<context>/.dockerignore`.
 * A relative `dockerfilePath` is taken from the current directory, like `docker build -f`;
 * `-` (Dockerfile on stdin) has no specific file. Returns an absolute path or undefined.
 */
export async function findIgnoreFile(contextDir: string, dockerfilePath: string): Promise<string | undefined> {
  if (dockerfilePath !== '' && dockerfilePath !== '-') {
    const specific = `${resolve(dockerfilePath)}.dockerignore`;
    if (await isFile(specific)) return specific;
  }
  const general = join(resolve(contextDir), '.dockerignore');
  return (await isFile(general)) ? general : undefined;
}

/** The matcher for a build: the applicable ignore file read and checked, or no patterns when there is none. */
export async function loadIgnoreMatcher(contextDir: string, dockerfilePath: string): Promise<IgnoreMatcher> {
  const file = await findIgnoreFile(contextDir, dockerfilePath);
  if (file === undefined) return new IgnoreMatcher([]);
  let text: string;
  try {
    text = await readFile(file, 'utf8');
  } catch (e) {
    throw new DockerignoreError(`cannot read ${file}: ${(e as Error).message}`);
  }
  const lines = readLines(text, file);
  return new IgnoreMatcher(
    lines.map((l) => l.pattern),
    { file, lines: lines.map((l) => l.line) },
  );
}
