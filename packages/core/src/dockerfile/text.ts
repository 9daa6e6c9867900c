// Character classes and quoting with Go's definitions, so our dumps and splits agree byte for
// byte with BuildKit's (which uses unicode.IsSpace, strconv.Quote and its own regexps).

const UNICODE_SPACES = new Set([0x85, 0xa0, 0x1680, 0x2028, 0x2029, 0x202f, 0x205f, 0x3000]);

/** Go's unicode.IsSpace. */
export function isSpace(ch: string): boolean {
  const c = ch.charCodeAt(0);
  if (c <= 0x20) return c === 0x20 || (c >= 0x09 && c <= 0x0d);
  if (c < 0x85) return false;
  return UNICODE_SPACES.has(c) || (c >= 0x2000 && c <= 0x200a);
}

/** Go's strings.TrimLeftFunc(s, unicode.IsSpace). */
export function trimLeftSpace(s: string): string {
  let i = 0;
  while (i < s.length && isSpace(s[i]!)) i++;
  return i === 0 ? s : s.slice(i);
}

/** Go's strings.TrimSpace. */
export function trimSpace(s: string): string {
  let end = s.length;
  while (end > 0 && isSpace(s[end - 1]!)) end--;
  return trimLeftSpace(end === s.length ? s : s.slice(0, end));
}

/** BuildKit's reWhitespace: runs of [\t\v\f\r ]. */
export const WHITESPACE_RUN = /[\t\v\f\r ]+/;

/** Go's regexp Split(s, n) for WHITESPACE_RUN: n = -1 splits everywhere, n = 2 at the first run. */
export function splitWhitespace(s: string, limit = -1): string[] {
  if (limit === 2) {
    const m = WHITESPACE_RUN.exec(s);
    return m ? [s.slice(0, m.index), s.slice(m.index + m[0].length)] : [s];
  }
  return s.split(WHITESPACE_RUN);
}

const PRINTABLE = /^[\p{L}\p{M}\p{N}\p{P}\p{S} ]$/u;
const SHORT_ESCAPES: Record<string, string> = {
  '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v',
};

/** Go's strconv.Quote for a JS string (lone surrogates print as U+FFFD, as Go would have decoded them). */
export function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const cp = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (cp >= 0xd800 && cp <= 0xdfff) out += '\ufffd';
    else if (PRINTABLE.test(ch)) out += ch;
    else if (SHORT_ESCAPES[ch] !== undefined) out += SHORT_ESCAPES[ch];
    else if (cp < 0x20 || cp === 0x7f) out += '\\x' + cp.toString(16).padStart(2, '0');
    else if (cp < 0x10000) out += '\\u' + cp.toString(16).padStart(4, '0');
    else out += '\\U' + cp.toString(16).padStart(8, '0');
  }
  return out + '"';
}
