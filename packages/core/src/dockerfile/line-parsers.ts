// How each instruction's argument text becomes an argument list, following the behaviour of
// BuildKit's line parsers (the shapes are visible in its parser dumps). ONBUILD is handled by
// the parser itself because it recurses into a whole instruction.

import { isSpace, splitWhitespace, trimLeftSpace } from './text.js';
import type { EscapeChar } from './ast.js';

/** A problem with one instruction's text; the parser adds file and line. */
export class LineSyntaxError extends Error {}

export const NOT_STRING_ARRAY = 'when using JSON array syntax, arrays must be comprised of strings only';

export interface ParsedArgs {
  args: string[];
  json: boolean;
}

type LineParser = (rest: string, escape: EscapeChar) => ParsedArgs;

const plain = (args: string[]): ParsedArgs => ({ args, json: false });

/** FROM, EXPOSE: split on whitespace, quotes untouched. */
function parseWhitespaceDelimited(rest: string): ParsedArgs {
  return plain(rest === '' ? [] : splitWhitespace(rest));
}

/** MAINTAINER, USER, WORKDIR, STOPSIGNAL: the rest as one string. */
function parseString(rest: string): ParsedArgs {
  return plain(rest === '' ? [] : [rest]);
}

/**
 * A JSON array of strings, or undefined when `rest` is not JSON at all. Throws when it is a JSON
 * array holding something other than strings.
 */
export function parseJsonArray(rest: string): string[] | undefined {
  const text = trimLeftSpace(rest);
  if (!text.startsWith('[')) return undefined;
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch {
    return undefined;
  }
  if (!Array.isArray(value)) return undefined;
  // Go's decoder refuses numbers it cannot represent, which makes the text "not JSON".
  if (value.some((v) => typeof v === 'number' && !Number.isFinite(v))) return undefined;
  if (!value.every((v): v is string => typeof v === 'string')) throw new LineSyntaxError(NOT_STRING_ARRAY);
  return value.map(toWellFormed);
}

/** Go replaces lone surrogates from `\ud800` escapes with U+FFFD while decoding JSON. */
function toWellFormed(s: string): string {
  return /[\ud800-\udfff]/.test(s)
    ? s.replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]/g, '\ufffd')
    : s;
}

/** RUN, CMD, ENTRYPOINT, SHELL: exec form, or the whole rest as one shell-form string. */
function parseMaybeJson(rest: string): ParsedArgs {
  if (rest === '') return plain([]);
  const json = parseJsonArray(rest);
  return json ? { args: json, json: true } : plain([rest]);
}

/** ADD, COPY, VOLUME: a JSON array, or whitespace-separated words. */
function parseMaybeJsonToList(rest: string): ParsedArgs {
  const json = parseJsonArray(rest);
  return json ? { args: json, json: true } : parseWhitespaceDelimited(rest);
}

/**
 * Quote-aware word split used by ENV, LABEL and ARG. Quotes and escapes stay in the words;
 * only whitespace outside quotes separates them.
 */
export function parseWords(rest: string, escape: EscapeChar): string[] {
  const words: string[] = [];
  let word = '';
  let inWord = false;
  let quote = '';
  let blankOk = false;
  const chars = Array.from(rest);
  for (let i = 0; i < chars.length; i++) {
    let ch = chars[i]!;
    if (!inWord) {
      if (isSpace(ch)) continue;
      inWord = true;
    }
    if (quote === '') {
      if (isSpace(ch)) {
        if (blankOk || word.length > 0) words.push(word);
        word = '';
        blankOk = false;
        inWord = false;
        continue;
      }
      if (ch === "'" || ch === '"') {
        quote = ch;
        blankOk = true;
      } else if (ch === escape) {
        if (i + 1 === chars.length) continue; // an escape at the very end is dropped
        word += ch;
        ch = chars[++i]!;
      }
      word += ch;
      continue;
    }
    // Inside quotes: the escape token escapes the next character, except inside single quotes.
    if (ch === quote) quote = '';
    else if (ch === escape && quote !== "'") {
      if (i + 1 === chars.length) {
        quote = '';
        continue;
      }
      word += ch;
      ch = chars[++i]!;
    }
    word += ch;
  }
  if (inWord && (blankOk || word.length > 0)) words.push(word);
  return words;
}

/** ENV and LABEL: `k=v ...` gives (k, v, '=') triples; legacy `k v` gives (k, rest, ''). */
function parseNameValue(instruction: 'ENV' | 'LABEL'): LineParser {
  return (rest, escape) => {
    const words = parseWords(rest, escape);
    if (words.length === 0) return plain([]);
    if (!words[0]!.includes('=')) {
      const parts = splitWhitespace(rest, 2);
      if (parts.length < 2) throw new LineSyntaxError(`${instruction} must have two arguments`);
      return plain([parts[0]!, parts[1]!, '']);
    }
    const args: string[] = [];
    for (const word of words) {
      const eq = word.indexOf('=');
      if (eq < 0) {
        throw new LineSyntaxError(`Syntax error - can't find = in "${word}". Must be of the form: name=value`);
      }
      args.push(word.slice(0, eq), word.slice(eq + 1), '=');
    }
    return plain(args);
  };
}

/** ARG: quote-aware words, quotes kept. */
function parseNameOrNameValue(rest: string, escape: EscapeChar): ParsedArgs {
  return plain(parseWords(rest, escape));
}

/** HEALTHCHECK: the first word (CMD, NONE, ...) then the rest as for CMD. */
function parseHealthcheck(rest: string): ParsedArgs {
  let sep = 0;
  while (sep < rest.length && !isSpace(rest[sep]!)) sep++;
  if (sep === 0) return plain([]);
  let next = sep;
  while (next < rest.length && isSpace(rest[next]!)) next++;
  const command = parseMaybeJson(rest.slice(next));
  return { args: [rest.slice(0, sep), ...command.args], json: command.json };
}

/** Unknown instructions keep one empty argument, as BuildKit's dump shows `(foo "")`. */
function parseUnknown(): ParsedArgs {
  return plain(['']);
}

const LINE_PARSERS: Record<string, LineParser> = {
  add: parseMaybeJsonToList,
  arg: parseNameOrNameValue,
  cmd: parseMaybeJson,
  copy: parseMaybeJsonToList,
  entrypoint: parseMaybeJson,
  env: parseNameValue('ENV'),
  expose: parseWhitespaceDelimited,
  from: parseWhitespaceDelimited,
  healthcheck: parseHealthcheck,
  label: parseNameValue('LABEL'),
  maintainer: parseString,
  run: parseMaybeJson,
  shell: parseMaybeJson,
  stopsignal: parseString,
  user: parseString,
  volume: parseMaybeJsonToList,
  workdir: parseString,
};

export function parseArguments(keyword: string, rest: string, escape: EscapeChar): ParsedArgs {
  const parser = LINE_PARSERS[keyword.toLowerCase()] ?? parseUnknown;
  return parser(rest, escape);
}

/**
 * Split an instruction line into its keyword, leading `--flags` and the rest. Flag words have
 * their quotes and escapes (the `# escape=` character, as in BuildKit) removed; a bare `--` ends
 * the flags and is dropped.
 */
export function splitCommand(line: string, escape: EscapeChar = '\\'): { keyword: string; flags: string[]; rest: string } {
  const [keyword, afterKeyword] = splitWhitespace(line, 2) as [string, string?];
  if (afterKeyword === undefined) return { keyword, flags: [], rest: '' };
  const { flags, rest } = extractFlags(afterKeyword, escape);
  return { keyword, flags, rest: trimRight(trimLeftSpace(rest)) };
}

function trimRight(s: string): string {
  let end = s.length;
  while (end > 0 && isSpace(s[end - 1]!)) end--;
  return s.slice(0, end);
}

function extractFlags(line: string, escape: EscapeChar): { flags: string[]; rest: string } {
  const flags: string[] = [];
  let pos = 0;
  for (;;) {
    while (pos < line.length && isSpace(line[pos]!)) pos++;
    if (!line.startsWith('--', pos)) return { flags, rest: line.slice(pos) };
    // Read one flag word.
    let word = '';
    let quote = '';
    let blankOk = false;
    for (; pos < line.length; pos++) {
      let ch = line[pos]!;
      if (quote === '' && isSpace(ch)) break;
      if (quote === '' && (ch === '"' || ch === "'")) {
        quote = ch;
        blankOk = true;
        continue;
      }
      if (quote !== '' && ch === quote) {
        quote = '';
        continue;
      }
      if (ch === escape) {
        if (pos + 1 === line.length) {
          quote = '';
          continue;
        }
        ch = line[++pos]!;
      }
      word += ch;
    }
    if (word === '--') return { flags, rest: line.slice(pos) };
    if (blankOk || word.length > 0) flags.push(word);
    if (pos >= line.length) return { flags, rest: '' };
  }
}
