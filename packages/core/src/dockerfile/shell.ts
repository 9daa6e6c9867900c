// Dockerfile word expansion: quote removal, `$VAR` / `${VAR...}` substitution and (for
// ProcessWords) field splitting, following the rules of BuildKit's Dockerfile frontend
// (moby/buildkit frontend/dockerfile/shell/lex.go). This is what ENV, ARG, LABEL, COPY,
// WORKDIR, USER, FROM... do to their arguments; RUN in shell form is left to the shell.
//
// The expander is a single left-to-right scanner over code points. Glob patterns in
// `${VAR#pat}`, `${VAR%pat}` and `${VAR/pat/repl}` are compiled to RegExps the way BuildKit
// compiles them to Go regexps: `*` and `?` are wildcards, `\*` `\?` `\\` are literal, every
// other character (including `[` and `]`: BuildKit has no bracket expressions) is literal.

import { KilnError } from '../errors.js';

export type EscapeToken = '\\' | '`';

export interface ExpansionResult {
  result: string;
  /** Names the expansion looked up that were set (possibly to ''). */
  matched: Set<string>;
  /** Names the expansion looked up that were unset. */
  unmatched: Set<string>;
}

/** Variables visible to an expansion: a map, or a function returning undefined for unset names. */
export type EnvLookup = ReadonlyMap<string, string> | ((name: string) => string | undefined);

/** BuildKit's Lex switches; all off by default (the mode Dockerfile instructions use). */
export interface ShellLexOptions {
  /** Keep quote characters in the result (quotes still group words and stop expansion). */
  rawQuotes?: boolean;
  /** Keep escape tokens in the result (they still escape the next character). */
  rawEscapes?: boolean;
  /** Quotes are ordinary characters. */
  skipProcessQuotes?: boolean;
  /** Leave references to unset variables as written (`$X`, `${X}`, `${X:-w}`...) instead of expanding them. */
  skipUnsetEnv?: boolean;
}

/** A word that cannot be expanded: bad syntax, an unterminated quote, or `${VAR?message}`. */
export class ShellExpansionError extends KilnError {}

/** Expands Dockerfile words. Instances hold no per-call state and may be reused freely. */
export class ShellLex {
  readonly escapeToken: EscapeToken;
  private readonly escapeCode: number;
  private readonly options: Readonly<Required<ShellLexOptions>>;

  constructor(escapeToken: EscapeToken = '\\', options: ShellLexOptions = {}) {
    if (escapeToken !== '\\' && escapeToken !== '`') {
      throw new TypeError(`escape token must be '\\' or '\`', got ${JSON.stringify(escapeToken)}`);
    }
    this.escapeToken = escapeToken;
    this.escapeCode = escapeToken.charCodeAt(0);
    this.options = {
      rawQuotes: options.rawQuotes ?? false,
      rawEscapes: options.rawEscapes ?? false,
      skipProcessQuotes: options.skipProcessQuotes ?? false,
      skipUnsetEnv: options.skipUnsetEnv ?? false,
    };
  }

  /** The expanded word: quotes removed, variables substituted, no splitting. */
  processWord(word: string, env: EnvLookup): string {
    return this.run(word, env, null).result;
  }

  /** Like processWord, also reporting which variables were referenced and whether they were set. */
  processWordWithMatches(word: string, env: EnvLookup): ExpansionResult {
    const { result, expansion } = this.run(word, env, null);
    return { result, matched: expansion.matched, unmatched: expansion.unmatched };
  }

  /**
   * The expanded word split into fields: unquoted whitespace and whitespace inside unquoted
   * expansions separate words; quoted text and escaped characters never split, nor do the
   * blanks right after an unquoted `<<` (so `<<  EOF` stays one field, as heredocs need).
   */
  processWords(word: string, env: EnvLookup): string[] {
    const words = new WordSplitter();
    this.run(word, env, words);
    return words.finish();
  }

  private run(word: string, env: EnvLookup, words: WordSplitter | null): { result: string; expansion: Expansion } {
    const expansion = new Expansion(word, env, this.escapeCode, this.options);
    try {
      return { result: expansion.processStopOn(EOF, this.options.rawEscapes, words), expansion };
    } catch (err) {
      if (err instanceof LexFailure) {
        throw new ShellExpansionError(`failed to process ${JSON.stringify(word)}: ${err.message}`);
      }
      throw err;
    }
  }
}

// ---------------------------------------------------------------------------------------------

const EOF = -1;
const DQUOTE = 0x22; // "
const HASH = 0x23; // #
const DOLLAR = 0x24; // $
const PERCENT = 0x25; // %
const SQUOTE = 0x27; // '
const PLUS = 0x2b; // +
const MINUS = 0x2d; // -
const SLASH = 0x2f; // /
const COLON = 0x3a; // :
const LT = 0x3c; // <
const QUESTION = 0x3f; // ?
const UNDERSCORE = 0x5f; // _
const LBRACE = 0x7b; // {
const RBRACE = 0x7d; // }
const BOM = 0xfeff;

/** Internal failure; turned into a ShellExpansionError naming the whole word at the top. */
class LexFailure extends Error {}

const unsupported = (modifier: string): LexFailure => new LexFailure(`unsupported modifier (${modifier}) in substitution`);

/** The state of one expansion of one word. */
class Expansion {
  private pos: number;
  private rawEscapes: boolean;
  readonly matched = new Set<string>();
  readonly unmatched = new Set<string>();

  constructor(
    private readonly src: string,
    private readonly env: EnvLookup,
    private readonly esc: number,
    private readonly opts: Readonly<Required<ShellLexOptions>>,
  ) {
    // BuildKit reads the word through Go's text/scanner, which drops a byte-order mark
    // at the very start of its input.
    this.pos = src.charCodeAt(0) === BOM ? 1 : 0;
    this.rawEscapes = opts.rawEscapes;
  }

  private peek(): number {
    return this.pos < this.src.length ? (this.src.codePointAt(this.pos) as number) : EOF;
  }

  private next(): number {
    if (this.pos >= this.src.length) return EOF;
    const ch = this.src.codePointAt(this.pos) as number;
    this.pos += ch > 0xffff ? 2 : 1;
    return ch;
  }

  /**
   * Expand up to (and consuming) `stop`, or to the end of the word when stop is EOF.
   * `raw` sets whether escape tokens are kept for the duration (and for nested quotes).
   */
  processStopOn(stop: number, raw: boolean, words: WordSplitter | null): string {
    const saved = this.rawEscapes;
    this.rawEscapes = raw;
    try {
      const src = this.src;
      const len = src.length;
      const quotes = !this.opts.skipProcessQuotes;
      let out = '';
      while (this.pos < len) {
        const ch = this.peek();
        if (ch === stop) {
          this.pos++; // every stop character is ASCII
          return out;
        }
        if (ch === DOLLAR) {
          const value = this.processDollar();
          out += value;
          words?.addSplit(value);
          continue;
        }
        if (quotes && (ch === SQUOTE || ch === DQUOTE)) {
          const value = ch === SQUOTE ? this.processSingleQuote() : this.processDoubleQuote();
          out += value;
          words?.addRaw(value);
          continue;
        }
        if (ch === this.esc) {
          this.pos++;
          if (this.rawEscapes) {
            out += String.fromCharCode(ch);
            words?.addRaw(String.fromCharCode(ch));
          }
          const start = this.pos;
          if (this.next() === EOF) break; // a trailing escape is dropped
          const escaped = src.slice(start, this.pos);
          out += escaped;
          words?.addRaw(escaped);
          continue;
        }
        if (words === null) {
          // Copy a run of ordinary characters at once. The run ends before an ASCII
          // character, so it never splits a surrogate pair.
          let end = this.pos + 1;
          while (end < len) {
            const c = src.charCodeAt(end);
            if (c === stop || c === DOLLAR || c === this.esc || (quotes && (c === SQUOTE || c === DQUOTE))) break;
            end++;
          }
          out += src.slice(this.pos, end);
          this.pos = end;
          continue;
        }
        if (ch === LT && src.charCodeAt(this.pos + 1) === LT) {
          // A heredoc marker keeps the blanks after it in its word, so that `<<  EOF` is one
          // field (BuildKit's processPossibleHeredoc). The text itself is unchanged.
          let end = this.pos + 2;
          while (isHeredocBlank(src.charCodeAt(end))) end++;
          const marker = src.slice(this.pos, end);
          this.pos = end;
          out += marker;
          words.addRaw(marker);
          continue;
        }
        const start = this.pos;
        this.next();
        const text = src.slice(start, this.pos);
        out += text;
        words.addChar(ch, text);
      }
      if (stop !== EOF) {
        throw new LexFailure(`unexpected end of statement while looking for matching ${String.fromCharCode(stop)}`);
      }
      return out;
    } finally {
      this.rawEscapes = saved;
    }
  }

  /** Everything up to the next single quote, literally; the escape token has no effect. */
  private processSingleQuote(): string {
    const open = this.pos;
    const close = this.src.indexOf("'", open + 1);
    if (close < 0) {
      this.pos = this.src.length;
      throw new LexFailure('unexpected end of statement while looking for matching single-quote');
    }
    this.pos = close + 1;
    return this.opts.rawQuotes ? this.src.slice(open, close + 1) : this.src.slice(open + 1, close);
  }

  /** Up to the next unescaped `"`: `$` expands; the escape token escapes only `"`, `$` and itself. */
  private processDoubleQuote(): string {
    const src = this.src;
    this.pos++;
    let out = this.opts.rawQuotes ? '"' : '';
    for (;;) {
      const ch = this.peek();
      if (ch === EOF) throw new LexFailure('unexpected end of statement while looking for matching double-quote');
      if (ch === DQUOTE) {
        this.pos++;
        return this.opts.rawQuotes ? out + '"' : out;
      }
      if (ch === DOLLAR) {
        out += this.processDollar();
        continue;
      }
      const start = this.pos;
      this.next();
      if (ch === this.esc) {
        if (this.rawEscapes) out += src.slice(start, this.pos);
        const following = this.peek();
        if (following === EOF) continue; // dropped; the loop then reports the missing quote
        if (following === DQUOTE || following === DOLLAR || following === this.esc) {
          const at = this.pos;
          this.next();
          out += src.slice(at, this.pos);
          continue;
        }
        // any other escape stays as written (and, in raw mode, appears twice, as in BuildKit)
      }
      out += src.slice(start, this.pos);
    }
  }

  /** `$NAME`, `${NAME}` or `${NAME<modifier>...}`, positioned on the `$`. */
  private processDollar(): string {
    this.pos++; // $
    if (this.peek() !== LBRACE) {
      const name = this.processName();
      if (name === '') return '$';
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `$${name}`;
      return value ?? '';
    }
    this.pos++; // {
    const first = this.peek();
    if (first === EOF) throw new LexFailure("syntax error: missing '}'");
    if (first === LBRACE || first === RBRACE || first === COLON) throw new LexFailure('syntax error: bad substitution');

    const name = this.processName();
    let op = this.next();
    // BuildKit reports "unsupported modifier (\uFFFD)" here; the missing brace is the real problem.
    if (op === EOF) throw new LexFailure("syntax error: missing '}'");
    if (op === RBRACE) {
      const value = this.lookup(name);
      if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}}`;
      return value ?? '';
    }
    if (op === SLASH) return this.processReplace(name);

    let modifier = String.fromCodePoint(op);
    const nullIsUnset = op === COLON;
    if (nullIsUnset) {
      op = this.next();
      modifier += op === EOF ? '\ufffd' : String.fromCodePoint(op);
    } else if (op !== PLUS && op !== MINUS && op !== QUESTION && op !== HASH && op !== PERCENT) {
      throw unsupported(modifier);
    }
    const trims = op === HASH || op === PERCENT;
    if (nullIsUnset && trims) throw unsupported(modifier);

    // Patterns keep their escapes so that `\*` can reach the glob compiler.
    let word = this.nested(RBRACE, trims, "syntax error: missing '}'");
    const value = this.lookup(name);
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}${modifier}${word}}`;
    const unset = value === undefined || (nullIsUnset && value === '');

    switch (op) {
      case MINUS:
        return unset ? word : (value as string);
      case PLUS:
        return unset ? '' : word;
      case QUESTION:
        if (value === undefined) throw new LexFailure(`${name}: ${word || 'is not allowed to be unset'}`);
        if (unset) throw new LexFailure(`${name}: ${word || 'is not allowed to be empty'}`);
        return value;
      case HASH:
      case PERCENT: {
        // One `#`/`%` removes the shortest match, two the longest.
        let greedy = false;
        if (word.charCodeAt(0) === op) {
          greedy = true;
          word = word.slice(1);
        }
        return op === PERCENT ? trimSuffix(word, value ?? '', greedy) : trimPrefix(word, value ?? '', greedy);
      }
      default:
        throw unsupported(modifier); // `:` followed by anything but + - ?, e.g. `:=`
    }
  }

  /** `${NAME/pattern/replacement}` (first match) or `${NAME//pattern/replacement}` (every match). */
  private processReplace(name: string): string {
    const all = this.peek() === SLASH;
    if (all) this.pos++;
    const pattern = this.nested(SLASH, true, "syntax error: missing '/' in ${}");
    const replacement = this.nested(RBRACE, true, "syntax error: missing '}'");
    const value = this.lookup(name);
    // As in BuildKit, the second `/` of `//` is not reproduced here.
    if (value === undefined && this.opts.skipUnsetEnv) return `\${${name}/${pattern}/${replacement}}`;
    const re = compilePattern(pattern, true, false);
    const subject = value ?? '';
    if (all) return replaceAllLikeGo(re, subject, replacement);
    const m = re.exec(subject);
    return m ? subject.slice(0, m.index) + replacement + subject.slice(m.index + m[0].length) : subject;
  }

  /** processStopOn for the inside of `${...}`; running out of input becomes `eofMessage`. */
  private nested(stop: number, raw: boolean, eofMessage: string): string {
    try {
      return this.processStopOn(stop, raw, null);
    } catch (err) {
      if (err instanceof LexFailure && this.peek() === EOF) throw new LexFailure(eofMessage);
      throw err;
    }
  }

  /**
   * A parameter name: a run of digits (positional), one special character (`@*#?-$!0`),
   * or letters, digits and `_` (Unicode letters and digits count). '' when none.
   */
  private processName(): string {
    const start = this.pos;
    const first = this.peek();
    if (first === EOF) return '';
    if (isDigit(first)) {
      while (isDigit(this.peek())) this.next();
    } else if (isSpecialParam(first)) {
      this.next();
    } else {
      for (let ch = first; ch !== EOF && (isLetter(ch) || isDigit(ch) || ch === UNDERSCORE); ch = this.peek()) {
        this.next();
      }
    }
    return this.src.slice(start, this.pos);
  }

  private lookup(name: string): string | undefined {
    const value = typeof this.env === 'function' ? this.env(name) : this.env.get(name);
    (value === undefined ? this.unmatched : this.matched).add(name);
    return value;
  }
}

/** Field splitting for processWords: whitespace separates words unless it was quoted or escaped. */
class WordSplitter {
  private readonly words: string[] = [];
  private current = '';

  /** Quoted or escaped text: never splits. */
  addRaw(text: string): void {
    this.current += text;
  }

  addChar(ch: number, text: string): void {
    if (isSpace(ch)) {
      if (this.current !== '') {
        this.words.push(this.current);
        this.current = '';
      }
    } else {
      this.current += text;
    }
  }

  /** The value of an unquoted expansion: split on whitespace. */
  addSplit(text: string): void {
    for (const c of text) this.addChar(c.codePointAt(0) as number, c);
  }

  /** Note that an empty word (`""` alone) produces no word, as in BuildKit. */
  finish(): string[] {
    if (this.current !== '') {
      this.words.push(this.current);
      this.current = '';
    }
    return this.words;
  }
}

// --- character classes (Go's unicode.IsSpace / IsLetter / IsDigit) -------------------------

const LETTER = /\p{L}/u;
const DIGIT = /\p{Nd}/u;

function isDigit(ch: number): boolean {
  if (ch < 0x80) return ch >= 0x30 && ch <= 0x39;
  return DIGIT.test(String.fromCodePoint(ch));
}

function isLetter(ch: number): boolean {
  if (ch < 0x80) return (ch >= 0x41 && ch <= 0x5a) || (ch >= 0x61 && ch <= 0x7a);
  return LETTER.test(String.fromCodePoint(ch));
}

function isSpecialParam(ch: number): boolean {
  // @ * # ? - $ ! 0
  return ch === 0x40 || ch === 0x2a || ch === HASH || ch === QUESTION || ch === MINUS || ch === DOLLAR || ch === 0x21 || ch === 0x30;
}

function isSpace(ch: number): boolean {
  if (ch <= 0xff) return ch === 0x20 || (ch >= 0x09 && ch <= 0x0d) || ch === 0x85 || ch === 0xa0;
  return ch === 0x1680 || (ch >= 0x2000 && ch <= 0x200a) || ch === 0x2028 || ch === 0x2029 || ch === 0x202f || ch === 0x205f || ch === 0x3000;
}

/** The blanks a `<<` heredoc marker absorbs: space, tab and carriage return. */
function isHeredocBlank(c: number): boolean {
  return c === 0x20 || c === 0x09 || c === 0x0d;
}

// --- glob patterns ---------------------------------------------------------------------------

/** Regex metacharacters that stand for themselves in a pattern. */
const LITERAL_META = new Set(['[', ']', '{', '}', '.', '+', '(', ')', '|', '^', '$']);
// Go's `.` matches any character but `\n`; JavaScript's also refuses `\r`, U+2028 and U+2029.
const ANY = '[^\\n]';

/**
 * The RegExp for a shell pattern: `*` any run (shortest first unless greedy), `?` one
 * character, `\*` `\?` `\\` literal; `\}` and `\/` (needed inside `${}`) are `}` and `/`;
 * any other escape is an error. Other characters are literal.
 */
function compilePattern(pattern: string, greedy: boolean, anchored: boolean): RegExp {
  let out = anchored ? '^' : '';
  const star = greedy ? `${ANY}*` : `${ANY}*?`;
  const cps = Array.from(pattern);
  // Go's text/scanner, which BuildKit reads the pattern with, skips a leading byte-order mark.
  for (let i = cps[0] === '\ufeff' ? 1 : 0; i < cps.length; i++) {
    const c = cps[i] as string;
    if (c === '*') out += star;
    else if (c === '?') out += ANY;
    else if (c === '\\') {
      const following = cps[i + 1];
      if (following === '}' || following === '/') continue;
      if (following !== '*' && following !== '?' && following !== '\\') {
        throw new LexFailure(`invalid pattern (${pattern}) in substitution: invalid escape '\\${following ?? ''}'`);
      }
      out += `\\${following}`;
      i++;
    } else if (LITERAL_META.has(c)) out += `\\${c}`;
    else out += c;
  }
  return new RegExp(out, 'u');
}

/** `${VAR#pat}` / `${VAR##pat}`: drop the shortest / longest prefix matching pat. */
function trimPrefix(pattern: string, value: string, greedy: boolean): string {
  const m = compilePattern(pattern, greedy, true).exec(value);
  return m ? value.slice(m[0].length) : value;
}

/**
 * `${VAR%pat}` / `${VAR%%pat}`: drop the shortest / longest suffix matching pat, found as a
 * prefix of the reversed value with the reversed pattern (escape pairs kept in order).
 */
function trimSuffix(pattern: string, value: string, greedy: boolean): string {
  return reverse(trimPrefix(reversePattern(pattern), reverse(value), greedy));
}

function reverse(text: string): string {
  return Array.from(text).reverse().join('');
}

function reversePattern(pattern: string): string {
  const cps = Array.from(pattern);
  const out: string[] = [];
  for (let i = cps.length - 1; i >= 0; i--) out.push(cps[i] as string);
  // An escape pair `\x` reads `x\` once reversed: swap each such pair back. Pairs are found
  // left to right in the original, i.e. right to left in `out`.
  for (let i = 0; i < cps.length - 1; ) {
    if (cps[i] === '\\') {
      const o = cps.length - 1 - i; // where the backslash landed
      out[o - 1] = '\\';
      out[o] = cps[i + 1] as string;
      i += 2;
    } else i++;
  }
  return out.join('');
}

/**
 * Go's Regexp.ReplaceAllString: an empty match right after a previous match is not replaced,
 * and the template expands `$0`/`${0}` to the match, `$$` to `$`, and any other `$name`,
 * `${name}` or `$n` to '' (patterns have no groups); a `$` starting no reference is literal.
 */
function replaceAllLikeGo(re: RegExp, value: string, template: string): string {
  const global = new RegExp(re.source, 'gu');
  const end = value.length;
  let out = '';
  let lastMatchEnd = 0;
  let searchPos = 0;
  while (searchPos <= end) {
    global.lastIndex = searchPos;
    const m = global.exec(value);
    if (!m) break;
    const start = m.index;
    const stop = start + m[0].length;
    out += value.slice(lastMatchEnd, start);
    if (stop > lastMatchEnd || start === 0) out += expandTemplate(template, m[0]);
    lastMatchEnd = stop;
    const width = searchPos < end ? ((value.codePointAt(searchPos) as number) > 0xffff ? 2 : 1) : 0;
    if (searchPos + width > stop) searchPos += width;
    else if (searchPos + 1 > stop) searchPos++;
    else searchPos = stop;
  }
  return out + value.slice(lastMatchEnd);
}

function expandTemplate(template: string, match: string): string {
  if (!template.includes('$')) return template;
  let out = '';
  let rest = template;
  for (let at = rest.indexOf('$'); at >= 0; at = rest.indexOf('$')) {
    out += rest.slice(0, at);
    rest = rest.slice(at + 1);
    if (rest.startsWith('$')) {
      out += '$';
      rest = rest.slice(1);
      continue;
    }
    const brace = rest.startsWith('{');
    let i = brace ? 1 : 0;
    while (i < rest.length) {
      const c = rest.codePointAt(i) as number;
      if (!isLetter(c) && !isDigit(c) && c !== UNDERSCORE) break;
      i += c > 0xffff ? 2 : 1;
    }
    const name = rest.slice(brace ? 1 : 0, i);
    if (name === '' || (brace && rest[i] !== '}')) {
      out += '$'; // malformed: the `$` is literal text
      continue;
    }
    if (name === '0') out += match;
    rest = rest.slice(brace ? i + 1 : i);
  }
  return out + rest;
}
