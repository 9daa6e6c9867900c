// The `--format` engine shared by Kiln's docker-like verbs (`kiln images`, `kiln image inspect`,
// `kiln history`, `kiln ps`, `kiln system df`): a Go text/template interpreter with docker/cli's
// template functions, docker's table handling, and Go's text/tabwriter as docker configures it,
// so each verb prints what `docker` prints for the same `--format` value. Pure functions; never
// prints. Everything here was written from the behaviour documented and observed in Go
// (text/template, fmt, encoding/json, text/tabwriter) and docker/cli (cli/command/formatter,
// templates/templates.go); no code was copied.
//
// How JS values stand for Go values (Kiln has no Go types, so this is the contract):
//   string -> string; integral number (in int64 range) or bigint -> int; other number -> float64;
//   boolean -> bool;
//   array -> slice; undefined -> no value (a missing map key); null -> nil;
//   plain object -> map[string]…: `.key` of a missing key is `<no value>`, printed as
//     `map[k:v …]` with sorted keys, JSON keys sorted. If all its values are strings it is a
//     map[string]string (so `index .Labels "x"` of a missing key is ""), else map[string]any
//     (`<no value>`);
//   object marked with goStruct(obj, 'T') -> struct T: `.Unknown` is the error docker gives
//     (`can't evaluate field Unknown in type T`), a null field is a nil pointer (`<nil>`),
//     printed as `{v1 v2}`, JSON keys in the object's own order;
//   a row given to formatRows -> docker's row context: unknown fields are errors, and
//     `{{json .}}` has sorted keys with <, >, & escaped as \u003c… (docker marshals a map);
//   a function-valued property -> a method: `.Label "x"` calls it with its fn.length arguments.

import { KilnError } from '../errors.js';

// ---------------------------------------------------------------------------------------------
// Public API

/**
 * A template error, with docker's wording: `message` is what docker prints
 * (`template parsing error: template: :1:2: executing "" at <.Foo>: can't evaluate field Foo in
 * type …`) and `goMessage` is Go's own part of it (from `template: ` on), for a verb that words
 * the prefix differently (docker ps says `failed to parse template: `).
 */
export class TemplateError extends KilnError {
  constructor(readonly goMessage: string) {
    super(`template parsing error: ${goMessage}`);
  }
}

/** A parsed Go template, ready to execute over any number of values. */
export interface GoTemplate {
  /** The template's output for `data` (dot and `$`). Throws TemplateError. */
  execute(data: unknown): string;
}

/**
 * Parse a Go text/template with docker's template functions (json, split, join, title, lower,
 * upper, pad, truncate) and Go's builtins. The text is used as is, as `docker inspect --format`
 * does: no `\t` escape processing, no trimming. Throws TemplateError on a syntax error.
 */
export function parseTemplate(text: string): GoTemplate {
  const set = parseSet(text, dockerFuncNames);
  return { execute: (data) => runOrThrow(set, data, dockerFuncs) };
}

/**
 * `template` executed over `data`, as `docker inspect --format` does for one object (docker
 * then prints a newline after it; that is the caller's). Throws TemplateError.
 */
export function renderTemplate(template: string, data: unknown): string {
  return parseTemplate(template).execute(data);
}

/**
 * Mark `value` as a Go struct named `typeName` (for instance `*container.State`), so templates
 * treat it as docker's typed objects: an unknown field is an error naming the field and type, a
 * null field prints `<nil>`, `{{.}}` prints `{v1 v2}`, and `{{json .}}` keeps the key order of the
 * object. Returns `value` itself.
 */
export function goStruct<T extends object>(value: T, typeName: string): T {
  structTypes.set(value, typeName);
  return value;
}

export interface FormatRowsOptions {
  /** The user's `--format`; empty or undefined means `table` (the verb's default table). */
  format?: string | undefined;
  /** The verb's default format, e.g. `table {{.Repository}}\t{{.Tag}}\t{{.ID}}` (with real tabs or `\t`). */
  defaultTable: string;
  /** Column titles per field for the table header, e.g. `{ ID: 'IMAGE ID', Repository: 'REPOSITORY' }`. */
  headers: Readonly<Record<string, string>>;
  /** One object per row, keys being docker's field names (`ID`, `Repository`, …); see the file comment. */
  rows: readonly object[];
  /** `-q`: with no format or `table`, print `quietFormat` per row and no header (a custom format wins, as in docker). */
  quiet?: boolean | undefined;
  /** The quiet format; docker's is `{{.ID}}`. */
  quietFormat?: string | undefined;
  /** The Go type docker names in `can't evaluate field X in type T`, e.g. `*formatter.imageContext`. */
  rowType?: string | undefined;
}

/**
 * The whole text a list verb prints for `--format` (docker's formatter.Context.Write):
 * - `table …` (or nothing, or `table` alone: the verb's default): a header row (the template
 *   executed over the `headers` titles) and one row per object, aligned by docker's tabwriter;
 * - `json`: each row as `{{json .}}` on its own line;
 * - anything else: each row's output followed by a newline, no header.
 * `\t` and `\n` written as two characters become a tab and a newline, and spaces around the format
 * are trimmed, as docker does. Throws TemplateError when the template does not parse or a row fails;
 * then nothing is to be printed (docker prints nothing either).
 */
export function formatRows(options: FormatRowsOptions): string {
  let format = options.format ?? '';
  if (format === '' || format === TABLE) format = options.quiet ? (options.quietFormat ?? '{{.ID}}') : options.defaultTable;
  const isTable = format.startsWith(TABLE);
  const set = parseSet(dockerTemplateString(format), dockerFuncNames);
  const rowType = options.rowType ?? 'row';
  let body = '';
  for (const row of options.rows) body += runOrThrow(set, new RowContext(row, rowType), dockerFuncs) + '\n';
  if (!isTable) return body;
  // docker ignores an error in the header (its output up to the error stays) and executes the
  // header with functions that leave the column titles alone (all but pad).
  const header = execute(set, new HeaderContext(options.headers), headerFuncs).output;
  return tabwrite(header + '\n' + body);
}

/**
 * Align tab-separated columns as docker's tables are aligned: Go's text/tabwriter with docker's
 * settings (minwidth 10, tabwidth 1, padding 3, padchar ' ', no flags). A cell is text ended by a
 * tab; the last cell of a line is not part of a column; a line without tabs ends a column block.
 */
export function tabwrite(text: string): string {
  return new TabWriter(10, 3).write(text);
}

const TABLE = 'table';

/** docker's Format.templateString: the template text of a `--format` value. */
function dockerTemplateString(format: string): string {
  if (format === TABLE) return '';
  if (format === 'json') return '{{json .}}';
  let out = format.startsWith(TABLE) ? format.slice(TABLE.length) : format;
  out = out.replace(/^ +| +$/g, ''); // spaces only: a trailing newline the user wrote stays
  return out.replace(/\\[tn]/g, (esc) => (esc === '\\t' ? '\t' : '\n'));
}

// ---------------------------------------------------------------------------------------------
// Values

/** A float64 written as a literal (`{{1.0}}`, `{{1e6}}`): prints as a float even when integral. */
class GoFloat {
  constructor(readonly value: number) {}
}

/** A nil pointer: a null struct field. Prints `<nil>` (a null map value prints `<no value>`). */
class NilPointer {
  static readonly instance = new NilPointer();
}

/** One row of a list verb: docker's *formatter.xxxContext, whose fields are methods. */
class RowContext {
  constructor(
    readonly row: object,
    readonly typeName: string,
  ) {}
}

/** The table header's dot: docker's SubHeaderContext, a map[string]string with a Label method. */
class HeaderContext {
  constructor(readonly titles: Readonly<Record<string, string>>) {}
}

const structTypes = new WeakMap<object, string>();

type Kind =
  | 'invalid'
  | 'nil'
  | 'nilptr'
  | 'string'
  | 'int'
  | 'float'
  | 'bool'
  | 'slice'
  | 'map'
  | 'struct'
  | 'row'
  | 'header'
  | 'func';

function kindOf(v: unknown): Kind {
  switch (typeof v) {
    case 'undefined':
      return 'invalid';
    case 'string':
      return 'string';
    case 'number':
      return Number.isInteger(v) && Math.abs(v) < 2 ** 63 ? 'int' : 'float';
    case 'bigint':
      return 'int';
    case 'boolean':
      return 'bool';
    case 'function':
      return 'func';
  }
  if (v === null) return 'nil';
  if (v instanceof GoFloat) return 'float';
  if (v instanceof NilPointer) return 'nilptr';
  if (Array.isArray(v)) return 'slice';
  if (v instanceof RowContext) return 'row';
  if (v instanceof HeaderContext) return 'header';
  if (structTypes.has(v as object)) return 'struct';
  return 'map';
}

/** The entries of a map or struct that are data: not methods, not undefined. */
function dataEntries(obj: object): [string, unknown][] {
  return Object.entries(obj).filter(([, v]) => v !== undefined && typeof v !== 'function');
}

function mapEntries(v: unknown): [string, unknown][] {
  if (v instanceof HeaderContext) return Object.entries(v.titles);
  return dataEntries(v as object);
}

function isStringMap(v: object): boolean {
  return v instanceof HeaderContext || dataEntries(v).every(([, x]) => typeof x === 'string');
}

/** A Go-ish type name for error messages (`string`, `int`, `[]interface {}`, `map[string]string`…). */
function goTypeName(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
      return '<nil>';
    case 'nilptr':
      return 'interface {}';
    case 'string':
      return 'string';
    case 'int':
      return 'int';
    case 'float':
      return 'float64';
    case 'bool':
      return 'bool';
    case 'func':
      return 'func';
    case 'slice':
      return (v as unknown[]).length > 0 && (v as unknown[]).every((x) => typeof x === 'string') ? '[]string' : '[]interface {}';
    case 'row':
      return (v as RowContext).typeName;
    case 'header':
      return 'formatter.SubHeaderContext';
    case 'struct':
      return structTypes.get(v as object)!;
    case 'map':
      return isStringMap(v as object) ? 'map[string]string' : 'map[string]interface {}';
  }
}

/** Go's truth: not the zero value of its type. */
function isTrue(v: unknown): boolean {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
    case 'nilptr':
      return false;
    case 'string':
      return (v as string).length > 0;
    case 'int':
      return typeof v === 'bigint' ? v !== 0n : v !== 0;
    case 'float':
      return floatValue(v) !== 0;
    case 'bool':
      return v as boolean;
    case 'slice':
      return (v as unknown[]).length > 0;
    case 'map':
    case 'header':
      return mapEntries(v).length > 0;
    case 'struct':
    case 'row':
    case 'func':
      return true;
  }
}

function floatValue(v: unknown): number {
  return v instanceof GoFloat ? v.value : (v as number);
}

// ---------------------------------------------------------------------------------------------
// Printing values as Go's fmt does with %v

/** fmt.Sprint of one value (%v). */
function sprintValue(v: unknown): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
    case 'nilptr':
      return '<nil>';
    case 'string':
      return v as string;
    case 'int':
      return intString(v as number | bigint);
    case 'float':
      return formatFloatV(floatValue(v));
    case 'bool':
      return String(v);
    case 'func':
      return '0x0'; // Go prints a function's address; there is none to print here
    case 'slice':
      return `[${(v as unknown[]).map(sprintValue).join(' ')}]`;
    case 'map':
    case 'header':
      return `map[${sortedEntries(mapEntries(v))
        .map(([k, x]) => `${k}:${sprintValue(x)}`)
        .join(' ')}]`;
    case 'struct':
      return `{${dataEntries(v as object)
        .map(([, x]) => sprintValue(x))
        .join(' ')}}`;
    case 'row':
      return `{${dataEntries((v as RowContext).row)
        .map(([, x]) => sprintValue(x))
        .join(' ')}}`;
  }
}

function intString(n: number | bigint): string {
  if (typeof n === 'bigint') return n.toString();
  return Object.is(n, -0) ? '0' : BigInt(n).toString();
}

/** The shortest digits that read back as x (JS and Go agree on them). */
function shortestDigits(x: number): Digits {
  const [mantissa, e] = Math.abs(x).toExponential().split('e') as [string, string];
  return { digits: mantissa.replace('.', ''), dp: Number(e) + 1 };
}

/** Go's %v of a float64: strconv's shortest 'g', which uses the e form for exponents below -4 and from 6 ("1e+06"). */
function formatFloatV(x: number): string {
  if (Number.isNaN(x)) return 'NaN';
  if (x === Infinity) return '+Inf';
  if (x === -Infinity) return '-Inf';
  if (x === 0) return Object.is(x, -0) ? '-0' : '0';
  const d = shortestDigits(x);
  const exp = d.dp - 1;
  const s = exp < -4 || exp >= 6 ? expDigits(d, d.digits.length - 1) : fixedDigits(d, Math.max(d.digits.length - d.dp, 0));
  return (x < 0 ? '-' : '') + s;
}

/** Go orders strings by their UTF-8 bytes, which is code point order. */
function compareGoStrings(a: string, b: string): number {
  if (a === b) return 0;
  const ca = Array.from(a);
  const cb = Array.from(b);
  for (let i = 0; i < Math.min(ca.length, cb.length); i++) {
    const d = ca[i]!.codePointAt(0)! - cb[i]!.codePointAt(0)!;
    if (d !== 0) return d;
  }
  return ca.length - cb.length;
}

function sortedEntries<T>(entries: [string, T][]): [string, T][] {
  return [...entries].sort(([a], [b]) => compareGoStrings(a, b));
}

/** strconv.Quote: a double-quoted Go string literal. */
function goQuote(s: string): string {
  let out = '"';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (ch === '"' || ch === '\\') out += '\\' + ch;
    else if (r >= 0xd800 && r <= 0xdfff) out += '\\ufffd';
    else if (isPrint(ch)) out += ch;
    else if (SIMPLE_ESCAPES[ch]) out += SIMPLE_ESCAPES[ch];
    else if (r < 0x20 || r === 0x7f) out += '\\x' + hex(r, 2);
    else if (r < 0x10000) out += '\\u' + hex(r, 4);
    else out += '\\U' + hex(r, 8);
  }
  return out + '"';
}

const SIMPLE_ESCAPES: Record<string, string> = { '\x07': '\\a', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t', '\v': '\\v' };

function hex(n: number, width: number): string {
  return n.toString(16).padStart(width, '0');
}

/** Go's strconv.IsPrint: letters, marks, numbers, punctuation, symbols and the ASCII space. */
function isPrint(ch: string): boolean {
  return ch === ' ' || /^[\p{L}\p{M}\p{N}\p{P}\p{S}]$/u.test(ch);
}

// ---------------------------------------------------------------------------------------------
// Go's encoding/json (docker's json function: SetEscapeHTML(false), no trailing newline)

function goJSON(v: unknown, escapeHTML: boolean): string {
  switch (kindOf(v)) {
    case 'invalid':
    case 'nil':
    case 'nilptr':
      return 'null';
    case 'string':
      return jsonString(v as string, escapeHTML);
    case 'int':
      return intString(v as number | bigint);
    case 'float': {
      const x = floatValue(v);
      if (!Number.isFinite(x)) throw new CallError(`json: unsupported value: ${formatFloatV(x)}`);
      // JS's shortest number form is Go's float64 JSON form (both switch to exponents at 1e21 and 1e-7).
      return Object.is(x, -0) ? '-0' : String(x);
    }
    case 'bool':
      return String(v);
    case 'func':
      throw new CallError('json: unsupported type: func()');
    case 'slice':
      return `[${(v as unknown[]).map((x) => goJSON(x, escapeHTML)).join(',')}]`;
    case 'map':
    case 'header':
      return jsonObject(sortedEntries(mapEntries(v)), escapeHTML);
    case 'struct':
      return jsonObject(dataEntries(v as object), escapeHTML);
    case 'row': {
      // docker marshals a row as a map of its zero-argument methods with json.Marshal, which
      // sorts the keys and escapes <, > and &; docker's encoder keeps those escapes.
      const row = (v as RowContext).row;
      const entries: [string, unknown][] = [];
      for (const [k, x] of Object.entries(row)) {
        if (typeof x === 'function') {
          if (x.length === 0) entries.push([k, (x as () => unknown).call(row)]);
        } else if (x !== undefined) entries.push([k, x]);
      }
      return jsonObject(sortedEntries(entries), true);
    }
  }
}

function jsonObject(entries: [string, unknown][], escapeHTML: boolean): string {
  return `{${entries.map(([k, x]) => `${jsonString(k, escapeHTML)}:${goJSON(x, escapeHTML)}`).join(',')}}`;
}

const JSON_ESCAPES: Record<string, string> = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function jsonString(s: string, escapeHTML: boolean): string {
  let out = '"';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (JSON_ESCAPES[ch]) out += JSON_ESCAPES[ch];
    else if (r < 0x20 || (escapeHTML && (ch === '<' || ch === '>' || ch === '&'))) out += '\\u' + hex(r, 4);
    else if (r === 0x2028 || r === 0x2029) out += '\\u' + hex(r, 4); // Go always escapes these two
    else if (r >= 0xd800 && r <= 0xdfff) out += '\\ufffd'; // a lone surrogate: invalid UTF-8 in Go
    else out += ch;
  }
  return out + '"';
}

// ---------------------------------------------------------------------------------------------
// Lexer: the template text to tokens, as Go's text/template/parse lexer splits it.

type TokenType =
  | 'text'
  | 'leftDelim'
  | 'rightDelim'
  | 'space'
  | 'field'
  | 'dot'
  | 'variable'
  | 'identifier'
  | 'keyword'
  | 'nil'
  | 'bool'
  | 'number'
  | 'complex'
  | 'charConstant'
  | 'string'
  | 'rawString'
  | 'char'
  | 'pipe'
  | 'assign'
  | 'declare'
  | 'leftParen'
  | 'rightParen'
  | 'eof'
  | 'error';

interface Token {
  type: TokenType;
  val: string;
  /** Offset in the template text (UTF-16 units). */
  pos: number;
}

const KEYWORDS = new Set(['block', 'break', 'continue', 'define', 'else', 'end', 'if', 'range', 'template', 'with']);
const SPACE = ' \t\r\n';
const isSpaceChar = (ch: string | undefined): boolean => ch !== undefined && ch !== '' && SPACE.includes(ch);
const isAlphaNumeric = (ch: string | undefined): boolean => ch !== undefined && /^[\p{L}\p{Nd}_]$/u.test(ch);

/** Go's %#U of a character: `U+0023 '#'`. */
function describeChar(ch: string): string {
  const r = ch.codePointAt(0)!;
  const u = 'U+' + r.toString(16).toUpperCase().padStart(4, '0');
  return isPrint(ch) ? `${u} '${ch}'` : u;
}

function lex(input: string): Token[] {
  const tokens: Token[] = [];
  let pos = 0;
  let start = 0;
  const emit = (type: TokenType): void => {
    tokens.push({ type, val: input.slice(start, pos), pos: start });
    start = pos;
  };
  const fail = (message: string): Token[] => {
    tokens.push({ type: 'error', val: message, pos: start });
    return tokens;
  };
  const charAt = (i: number): string | undefined => {
    if (i >= input.length) return undefined;
    const cp = input.codePointAt(i)!;
    return String.fromCodePoint(cp);
  };
  // A trim marker is "-" plus a space after "{{", or a space plus "-" before "}}".
  const leftTrimAt = (i: number): boolean => input[i] === '-' && isSpaceChar(input[i + 1]);
  const rightDelimAt = (i: number): { at: boolean; trim: boolean } => {
    if (isSpaceChar(input[i]) && input[i + 1] === '-' && input.startsWith('}}', i + 2)) return { at: true, trim: true };
    return { at: input.startsWith('}}', i), trim: false };
  };
  const skipSpaces = (i: number): number => {
    while (isSpaceChar(input[i])) i++;
    return i;
  };
  const atTerminator = (): boolean => {
    const ch = input[pos];
    return ch === undefined || isSpaceChar(ch) || '.,|:()'.includes(ch) || input.startsWith('}}', pos);
  };

  for (;;) {
    // Text up to the next "{{".
    const delim = input.indexOf('{{', pos);
    if (delim < 0) {
      pos = input.length;
      if (pos > start) emit('text');
      emit('eof');
      return tokens;
    }
    const trimLeft = leftTrimAt(delim + 2);
    pos = trimLeft ? start + input.slice(start, delim).replace(/[ \t\r\n]+$/, '').length : delim;
    if (pos > start) emit('text');
    pos = start = delim;
    pos += 2;
    const afterMarker = trimLeft ? 2 : 0;
    if (input.startsWith('/*', pos + afterMarker)) {
      // A comment: {{/* … */}}, nothing else may be in the action.
      pos += afterMarker;
      start = pos;
      const end = input.indexOf('*/', pos + 2);
      if (end < 0) return fail('unclosed comment');
      pos = end + 2;
      const right = rightDelimAt(pos);
      if (!right.at) return fail('comment ends before closing delimiter');
      pos += (right.trim ? 2 : 0) + 2;
      if (right.trim) pos = skipSpaces(pos);
      start = pos;
      continue;
    }
    emit('leftDelim');
    pos += afterMarker;
    start = pos;
    let parenDepth = 0;
    // Inside the action.
    for (;;) {
      const right = rightDelimAt(pos);
      if (right.at) {
        if (parenDepth !== 0) return fail('unclosed left paren');
        if (right.trim) pos += 2;
        start = pos;
        pos += 2;
        emit('rightDelim');
        if (right.trim) pos = skipSpaces(pos);
        start = pos;
        break;
      }
      const ch = charAt(pos);
      if (ch === undefined) return fail('unclosed action');
      if (isSpaceChar(ch)) {
        let end = skipSpaces(pos);
        // " -}}" closes the action: the space before the marker belongs to the delimiter.
        if (input[end - 1] !== undefined && rightDelimAt(end - 1).trim) {
          end--;
          if (end === pos) continue; // just that one space: the delimiter comes next
        }
        pos = end;
        emit('space');
        continue;
      }
      pos += ch.length;
      switch (ch) {
        case '=':
          emit('assign');
          continue;
        case ':':
          if (input[pos] !== '=') return fail('expected :=');
          pos++;
          emit('declare');
          continue;
        case '|':
          emit('pipe');
          continue;
        case '"': {
          for (;;) {
            const c = input[pos++];
            if (c === '\\') {
              const n = input[pos++];
              if (n !== undefined && n !== '\n') continue;
              return fail('unterminated quoted string');
            }
            if (c === undefined || c === '\n') return fail('unterminated quoted string');
            if (c === '"') break;
          }
          emit('string');
          continue;
        }
        case '`': {
          const end = input.indexOf('`', pos);
          if (end < 0) return fail('unterminated raw quoted string');
          pos = end + 1;
          emit('rawString');
          continue;
        }
        case "'": {
          for (;;) {
            const c = input[pos++];
            if (c === '\\') {
              const n = input[pos++];
              if (n !== undefined && n !== '\n') continue;
              return fail('unterminated character constant');
            }
            if (c === undefined || c === '\n') return fail('unterminated character constant');
            if (c === "'") break;
          }
          emit('charConstant');
          continue;
        }
        case '$':
        case '.': {
          if (ch === '.' && (input[pos] === undefined || /[0-9]/.test(input[pos]!))) {
            pos--; // ".5" is a number
            if (!lexNumber()) return fail(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
            continue;
          }
          if (atTerminator()) {
            emit(ch === '$' ? 'variable' : 'dot');
            continue;
          }
          while (isAlphaNumeric(charAt(pos))) pos += charAt(pos)!.length;
          if (!atTerminator()) return fail(`bad character ${describeChar(charAt(pos)!)}`);
          emit(ch === '$' ? 'variable' : 'field');
          continue;
        }
        case '(':
          emit('leftParen');
          parenDepth++;
          continue;
        case ')':
          if (--parenDepth < 0) return fail('unexpected right paren');
          emit('rightParen');
          continue;
      }
      if (ch === '+' || ch === '-' || /[0-9]/.test(ch)) {
        pos--;
        if (!lexNumber()) return fail(`bad number syntax: ${goQuote(input.slice(start, pos))}`);
        continue;
      }
      if (isAlphaNumeric(ch)) {
        while (isAlphaNumeric(charAt(pos))) pos += charAt(pos)!.length;
        if (!atTerminator()) return fail(`bad character ${describeChar(charAt(pos)!)}`);
        const word = input.slice(start, pos);
        emit(KEYWORDS.has(word) ? 'keyword' : word === 'nil' ? 'nil' : word === 'true' || word === 'false' ? 'bool' : 'identifier');
        continue;
      }
      const r = ch.codePointAt(0)!;
      if (r < 0x80 && r >= 0x20 && r < 0x7f) {
        emit('char');
        continue;
      }
      return fail(`unrecognized character in action: ${describeChar(ch)}`);
    }
  }

  /** A number or complex number token; false when what is there is not number-like. */
  function lexNumber(): boolean {
    if (!scanNumber()) return false;
    if (input[pos] === '+' || input[pos] === '-') {
      // A complex number, 1+2i: no spaces, ends in 'i'.
      if (!scanNumber() || input[pos - 1] !== 'i') return false;
      emit('complex');
    } else emit('number');
    return true;
  }

  // Like Go's lexer, this accepts a superset of number syntax ("089", "."); the parser rejects
  // what strconv would not parse.
  function scanNumber(): boolean {
    const accept = (valid: string): boolean => {
      if (input[pos] !== undefined && valid.includes(input[pos]!)) {
        pos++;
        return true;
      }
      return false;
    };
    const acceptRun = (valid: string): void => {
      while (accept(valid));
    };
    accept('+-');
    let base = 10;
    if (accept('0')) {
      if (accept('xX')) base = 16;
      else if (accept('oO')) base = 8;
      else if (accept('bB')) base = 2;
    }
    const digits = { 2: '01_', 8: '01234567_', 10: '0123456789_', 16: '0123456789abcdefABCDEF_' }[base]!;
    acceptRun(digits);
    if (accept('.')) acceptRun(digits);
    if ((base === 10 && accept('eE')) || (base === 16 && accept('pP'))) {
      accept('+-');
      acceptRun('0123456789_');
    }
    accept('i');
    if (isAlphaNumeric(charAt(pos))) {
      pos += charAt(pos)!.length;
      return false;
    }
    return true;
  }
}

// ---------------------------------------------------------------------------------------------
// Parser: tokens to a tree of nodes, as Go's text/template/parse builds it.

interface ListNode {
  type: 'list';
  pos: number;
  nodes: Node[];
}
interface PipeNode {
  type: 'pipe';
  pos: number;
  isAssign: boolean;
  decl: VariableNode[];
  cmds: CommandNode[];
}
interface CommandNode {
  type: 'command';
  pos: number;
  args: Node[];
}
interface VariableNode {
  type: 'variable';
  pos: number;
  ident: string[];
}
interface FieldNode {
  type: 'field';
  pos: number;
  ident: string[];
}
interface ChainNode {
  type: 'chain';
  pos: number;
  node: Node;
  field: string[];
}
interface NumberNode {
  type: 'number';
  pos: number;
  text: string;
  isInt: boolean;
  isFloat: boolean;
  int: number;
  float: number;
}
interface BranchNode {
  type: 'if' | 'range' | 'with';
  pos: number;
  pipe: PipeNode;
  list: ListNode;
  elseList: ListNode | undefined;
}
type Node =
  | ListNode
  | PipeNode
  | CommandNode
  | VariableNode
  | FieldNode
  | ChainNode
  | NumberNode
  | BranchNode
  | { type: 'text'; pos: number; text: string }
  | { type: 'action'; pos: number; pipe: PipeNode }
  | { type: 'template'; pos: number; name: string; pipe: PipeNode | undefined }
  | { type: 'break' | 'continue' | 'dot' | 'nil' | 'end' | 'else'; pos: number }
  | { type: 'identifier'; pos: number; ident: string }
  | { type: 'bool'; pos: number; value: boolean }
  | { type: 'string'; pos: number; quoted: string; text: string };

/** A parsed template and the templates it defines ({{define}}, {{block}}), by name; "" is the main one. */
interface TemplateSet {
  text: string;
  trees: Map<string, ListNode>;
}

/** Go's Node.String(): the source form of a node, used in error messages. */
function nodeString(n: Node): string {
  switch (n.type) {
    case 'list':
      return n.nodes.map(nodeString).join('');
    case 'text':
      return n.text;
    case 'action':
      return `{{${nodeString(n.pipe)}}}`;
    case 'pipe': {
      let s = '';
      if (n.decl.length > 0) s = n.decl.map(nodeString).join(', ') + (n.isAssign ? ' = ' : ' := ');
      return s + n.cmds.map(nodeString).join(' | ');
    }
    case 'command':
      return n.args.map((a) => (a.type === 'pipe' ? `(${nodeString(a)})` : nodeString(a))).join(' ');
    case 'variable':
      return n.ident.join('.');
    case 'field':
      return n.ident.map((id) => '.' + id).join('');
    case 'chain':
      return (n.node.type === 'pipe' ? `(${nodeString(n.node)})` : nodeString(n.node)) + n.field.map((f) => '.' + f).join('');
    case 'number':
      return n.text;
    case 'string':
      return n.quoted;
    case 'bool':
      return String(n.value);
    case 'identifier':
      return n.ident;
    case 'dot':
      return '.';
    case 'nil':
      return 'nil';
    case 'break':
    case 'continue':
    case 'end':
    case 'else':
      return `{{${n.type}}}`;
    case 'template':
      return n.pipe ? `{{template ${goQuote(n.name)} ${nodeString(n.pipe)}}}` : `{{template ${goQuote(n.name)}}}`;
    case 'if':
    case 'range':
    case 'with':
      return (
        `{{${n.type} ${nodeString(n.pipe)}}}${nodeString(n.list)}` + (n.elseList ? `{{else}}${nodeString(n.elseList)}` : '') + '{{end}}'
      );
  }
}

/** 1-based line and Go's column (bytes from the start of the line, 0-based) of an offset. */
function lineAndColumn(text: string, pos: number): { line: number; col: number } {
  const before = text.slice(0, pos);
  const nl = before.lastIndexOf('\n');
  const line = before.split('\n').length;
  return { line, col: Buffer.byteLength(nl < 0 ? before : before.slice(nl + 1)) };
}

function parseSet(text: string, funcNames: ReadonlySet<string>): TemplateSet {
  return new Parser(text, funcNames).parse();
}

class Parser {
  private readonly tokens: Token[];
  private index = 0;
  /** The furthest token read: Go reports parse errors at its line. */
  private lastRead = 0;
  private vars = ['$'];
  private rangeDepth = 0;
  private actionLine = 0;
  private readonly trees = new Map<string, ListNode>();

  constructor(
    private readonly text: string,
    private readonly funcNames: ReadonlySet<string>,
  ) {
    this.tokens = lex(text);
  }

  parse(): TemplateSet {
    const root: ListNode = { type: 'list', pos: this.peek().pos, nodes: [] };
    while (this.peek().type !== 'eof') {
      if (this.peek().type === 'leftDelim') {
        const mark = this.index;
        this.next();
        const t = this.nextNonSpace();
        if (t.type === 'keyword' && t.val === 'define') {
          this.parseDefinition();
          continue;
        }
        this.index = mark;
      }
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') this.fail(`unexpected ${nodeString(n)}`);
      root.nodes.push(n);
    }
    this.addTree('', root);
    return { text: this.text, trees: this.trees };
  }

  private line(t: Token): number {
    return lineAndColumn(this.text, t.pos).line;
  }

  private fail(message: string): never {
    const t = this.tokens[this.lastRead] ?? this.tokens[this.tokens.length - 1]!;
    throw new TemplateError(`template: :${this.line(t)}: ${message}`);
  }

  private next(): Token {
    const i = Math.min(this.index, this.tokens.length - 1); // the stream ends with EOF or an error
    this.index++;
    this.lastRead = Math.max(this.lastRead, i);
    return this.tokens[i]!;
  }

  private backup(): void {
    this.index--;
  }

  private peek(): Token {
    const t = this.next();
    this.backup();
    return t;
  }

  private nextNonSpace(): Token {
    let t = this.next();
    while (t.type === 'space') t = this.next();
    return t;
  }

  private peekNonSpace(): Token {
    const t = this.nextNonSpace();
    this.backup();
    return t;
  }

  private tokenString(t: Token): string {
    if (t.type === 'eof') return 'EOF';
    if (t.type === 'error') return t.val;
    if (t.type === 'keyword' || t.type === 'dot' || t.type === 'nil') return `<${t.val}>`;
    if (Buffer.byteLength(t.val) > 10) return goQuote(Array.from(t.val).slice(0, 10).join('')) + '...';
    return goQuote(t.val);
  }

  private unexpected(t: Token, context: string): never {
    if (t.type === 'error') {
      let extra = '';
      const line = this.line(t);
      if (this.actionLine !== 0 && this.actionLine !== line) {
        extra = ` in action started at :${this.actionLine}`;
        if (t.val.endsWith(' action')) extra = extra.slice(' in action'.length);
      }
      this.fail(t.val + extra);
    }
    this.fail(`unexpected ${this.tokenString(t)} in ${context}`);
  }

  private expect(type: TokenType, context: string): Token {
    const t = this.nextNonSpace();
    if (t.type !== type) this.unexpected(t, context);
    return t;
  }

  private isKeyword(t: Token, word: string): boolean {
    return t.type === 'keyword' && t.val === word;
  }

  private addTree(name: string, root: ListNode): void {
    const existing = this.trees.get(name);
    if (existing && !isEmptyTree(existing) && !isEmptyTree(root)) this.fail(`template: multiple definition of template ${goQuote(name)}`);
    if (!existing || isEmptyTree(existing)) this.trees.set(name, root);
  }

  /** {{define "name"}} … {{end}}; "define" has been read. */
  private parseDefinition(): void {
    const context = 'define clause';
    const t = this.nextNonSpace();
    if (t.type !== 'string' && t.type !== 'rawString') this.unexpected(t, context);
    const name = this.unquote(t.val);
    this.expect('rightDelim', context);
    const [root, end] = this.inNewScope(() => this.itemList());
    if (end.type !== 'end') this.fail(`unexpected ${nodeString(end)} in ${context}`);
    this.addTree(name, root);
  }

  private inNewScope<T>(f: () => T): T {
    const vars = this.vars;
    const depth = this.rangeDepth;
    this.vars = ['$'];
    this.rangeDepth = 0;
    try {
      return f();
    } finally {
      this.vars = vars;
      this.rangeDepth = depth;
    }
  }

  /** Nodes up to {{end}} or {{else}}, which is returned separately. */
  private itemList(): [ListNode, Node] {
    const list: ListNode = { type: 'list', pos: this.peekNonSpace().pos, nodes: [] };
    while (this.peekNonSpace().type !== 'eof') {
      const n = this.textOrAction();
      if (n.type === 'end' || n.type === 'else') return [list, n];
      list.nodes.push(n);
    }
    this.fail('unexpected EOF');
  }

  private textOrAction(): Node {
    const t = this.nextNonSpace();
    if (t.type === 'text') return { type: 'text', pos: t.pos, text: t.val };
    if (t.type === 'leftDelim') {
      this.actionLine = this.line(t);
      try {
        return this.action();
      } finally {
        this.actionLine = 0;
      }
    }
    this.unexpected(t, 'input');
  }

  private action(): Node {
    const t = this.nextNonSpace();
    if (t.type === 'keyword') {
      switch (t.val) {
        case 'block':
          return this.blockControl();
        case 'break':
        case 'continue': {
          const after = this.nextNonSpace();
          if (after.type !== 'rightDelim') this.unexpected(after, `{{${t.val}}}`);
          if (this.rangeDepth === 0) this.fail(`{{${t.val}}} outside {{range}}`);
          return { type: t.val, pos: t.pos };
        }
        case 'else': {
          // {{else if …}} and {{else with …}}: the "if"/"with" is left for the caller to read.
          const peek = this.peekNonSpace();
          if (this.isKeyword(peek, 'if') || this.isKeyword(peek, 'with')) return { type: 'else', pos: peek.pos };
          return { type: 'else', pos: this.expect('rightDelim', 'else').pos };
        }
        case 'end':
          return { type: 'end', pos: this.expect('rightDelim', 'end').pos };
        case 'if':
        case 'range':
        case 'with':
          return this.control(t.val);
        case 'template': {
          const context = 'template clause';
          const nameToken = this.nextNonSpace();
          const name = this.templateName(nameToken, context);
          let pipe: PipeNode | undefined;
          if (this.nextNonSpace().type !== 'rightDelim') {
            this.backup();
            pipe = this.pipeline(context, 'rightDelim');
          }
          return { type: 'template', pos: nameToken.pos, name, pipe };
        }
      }
    }
    this.backup();
    const first = this.peek();
    return { type: 'action', pos: first.pos, pipe: this.pipeline('command', 'rightDelim') };
  }

  private templateName(t: Token, context: string): string {
    if (t.type !== 'string' && t.type !== 'rawString') this.unexpected(t, context);
    return this.unquote(t.val);
  }

  /** {{block "name" pipeline}} … {{end}}: defines "name" and executes it here. */
  private blockControl(): Node {
    const context = 'block clause';
    const nameToken = this.nextNonSpace();
    const name = this.templateName(nameToken, context);
    const pipe = this.pipeline(context, 'rightDelim');
    const [root, end] = this.inNewScope(() => this.itemList());
    if (end.type !== 'end') this.fail(`unexpected ${nodeString(end)} in ${context}`);
    this.addTree(name, root);
    return { type: 'template', pos: nameToken.pos, name, pipe };
  }

  /** {{if|range|with pipeline}} list [{{else}} list] {{end}}; the keyword has been read. */
  private control(type: 'if' | 'range' | 'with'): BranchNode {
    const vars = this.vars.length;
    const pipe = this.pipeline(type, 'rightDelim');
    if (type === 'range') this.rangeDepth++;
    const [list, next] = this.itemList();
    if (type === 'range') this.rangeDepth--;
    let elseList: ListNode | undefined;
    if (next.type === 'else') {
      const peek = this.peek();
      if ((type === 'if' && this.isKeyword(peek, 'if')) || (type === 'with' && this.isKeyword(peek, 'with'))) {
        // {{else if x}} is {{else}}{{if x}}…{{end}}{{end}} with one {{end}} for both.
        this.next();
        elseList = { type: 'list', pos: next.pos, nodes: [this.control(type)] };
      } else {
        let end: Node;
        [elseList, end] = this.itemList();
        if (end.type !== 'end') this.fail(`expected end; found ${nodeString(end)}`);
      }
    }
    this.vars.length = vars;
    return { type, pos: pipe.pos, pipe, list, elseList };
  }

  /** [declarations] command ('|' command)*, up to `end`. */
  private pipeline(context: string, end: TokenType): PipeNode {
    const pipe: PipeNode = { type: 'pipe', pos: this.peekNonSpace().pos, isAssign: false, decl: [], cmds: [] };
    // Declarations: "$x :=", "$x =", "$i, $e :=" (range only).
    for (;;) {
      const mark = this.index;
      const v = this.peekNonSpace();
      if (v.type !== 'variable') break;
      this.next();
      const next = this.peekNonSpace();
      if (next.type === 'assign' || next.type === 'declare') {
        pipe.isAssign = next.type === 'assign';
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        break;
      }
      if (next.type === 'char' && next.val === ',') {
        this.nextNonSpace();
        pipe.decl.push({ type: 'variable', pos: v.pos, ident: [v.val] });
        this.vars.push(v.val);
        if (context === 'range' && pipe.decl.length < 2) {
          const t = this.peekNonSpace().type;
          if (t === 'variable' || t === 'rightDelim' || t === 'rightParen') continue;
          this.fail('range can only initialize variables');
        }
        this.fail(`too many declarations in ${context}`);
      }
      // "$x" is an operand, not a declaration.
      this.index = mark;
      break;
    }
    for (;;) {
      const t = this.nextNonSpace();
      if (t.type === end) {
        if (pipe.cmds.length === 0) this.fail(`missing value for ${context}`);
        pipe.cmds.slice(1).forEach((c, i) => {
          if (['bool', 'dot', 'nil', 'number', 'string'].includes(c.args[0]!.type)) this.fail(`non executable command in pipeline stage ${i + 2}`);
        });
        return pipe;
      }
      switch (t.type) {
        case 'bool':
        case 'charConstant':
        case 'complex':
        case 'dot':
        case 'field':
        case 'identifier':
        case 'number':
        case 'nil':
        case 'rawString':
        case 'string':
        case 'variable':
        case 'leftParen':
          this.backup();
          pipe.cmds.push(this.command());
          break;
        default:
          this.unexpected(t, context);
      }
    }
  }

  /** Operands separated by spaces, up to '|' (read) or the end of the action (left). */
  private command(): CommandNode {
    const cmd: CommandNode = { type: 'command', pos: this.peekNonSpace().pos, args: [] };
    for (;;) {
      this.peekNonSpace();
      const operand = this.operand();
      if (operand) cmd.args.push(operand);
      const t = this.next();
      if (t.type === 'space') continue;
      if (t.type === 'rightDelim' || t.type === 'rightParen') this.backup();
      else if (t.type !== 'pipe') this.unexpected(t, 'operand');
      break;
    }
    if (cmd.args.length === 0) this.fail('empty command');
    return cmd;
  }

  /** A term and any .Field accesses after it. */
  private operand(): Node | undefined {
    const node = this.term();
    if (!node) return undefined;
    if (this.peek().type !== 'field') return node;
    const chain: ChainNode = { type: 'chain', pos: this.peek().pos, node, field: [] };
    while (this.peek().type === 'field') chain.field.push(this.next().val.slice(1));
    switch (node.type) {
      case 'field':
        return { type: 'field', pos: chain.pos, ident: [...node.ident, ...chain.field] };
      case 'variable':
        return { type: 'variable', pos: chain.pos, ident: [...node.ident, ...chain.field] };
      case 'bool':
      case 'string':
      case 'number':
      case 'nil':
      case 'dot':
        this.fail(`unexpected . after term ${goQuote(nodeString(node))}`);
    }
    return chain;
  }

  private term(): Node | undefined {
    const t = this.nextNonSpace();
    switch (t.type) {
      case 'identifier':
        if (!this.funcNames.has(t.val)) this.fail(`function ${goQuote(t.val)} not defined`);
        return { type: 'identifier', pos: t.pos, ident: t.val };
      case 'dot':
        return { type: 'dot', pos: t.pos };
      case 'nil':
        return { type: 'nil', pos: t.pos };
      case 'variable': {
        const ident = t.val.split('.');
        if (!this.vars.includes(ident[0]!)) this.fail(`undefined variable ${goQuote(ident[0]!)}`);
        return { type: 'variable', pos: t.pos, ident };
      }
      case 'field':
        return { type: 'field', pos: t.pos, ident: t.val.slice(1).split('.') };
      case 'bool':
        return { type: 'bool', pos: t.pos, value: t.val === 'true' };
      case 'charConstant':
      case 'number':
      case 'complex':
        return this.number(t);
      case 'leftParen':
        return this.pipeline('parenthesized pipeline', 'rightParen');
      case 'string':
      case 'rawString':
        return { type: 'string', pos: t.pos, quoted: t.val, text: this.unquote(t.val) };
    }
    this.backup();
    return undefined;
  }

  /** A number literal: Go's NumberNode (int and/or float), char constants are ints. */
  private number(t: Token): NumberNode {
    const text = t.val;
    const node: NumberNode = { type: 'number', pos: t.pos, text, isInt: false, isFloat: false, int: 0, float: 0 };
    if (t.type === 'complex' || text.endsWith('i')) this.fail(`complex numbers are not supported: ${goQuote(text)}`);
    if (t.type === 'charConstant') {
      const { value, rest } = unquoteChar(text.slice(1), "'");
      if (value === undefined || rest !== "'") this.fail(`malformed character constant: ${text}`);
      return { ...node, isInt: true, isFloat: true, int: value, float: value };
    }
    const i = parseGoInt(text);
    if (i !== undefined) return { ...node, isInt: true, isFloat: true, int: i, float: i };
    const f = parseGoFloat(text);
    if (f !== undefined) {
      if (!/[.eEpP]/.test(text)) this.fail(`integer overflow: ${goQuote(text)}`);
      return { ...node, isFloat: true, float: f, isInt: Number.isInteger(f) && Math.abs(f) < 2 ** 63, int: f };
    }
    this.fail(`illegal number syntax: ${goQuote(text)}`);
  }

  private unquote(quoted: string): string {
    if (quoted.startsWith('`')) return quoted.slice(1, -1).replace(/\r/g, '');
    let out = '';
    let rest = quoted.slice(1, -1);
    while (rest.length > 0) {
      const { value, rest: after } = unquoteChar(rest, '"');
      if (value === undefined) this.fail('invalid syntax');
      out += String.fromCodePoint(value);
      rest = after;
    }
    return out;
  }
}

function isEmptyTree(list: ListNode): boolean {
  return list.nodes.every((n) => n.type === 'text' && n.text.trim() === '');
}

const CHAR_ESCAPES: Record<string, number> = { a: 7, b: 8, f: 12, n: 10, r: 13, t: 9, v: 11, '\\': 92 };

/** strconv.UnquoteChar: the first character of a Go literal's body, escapes decoded. */
function unquoteChar(s: string, quote: string): { value: number | undefined; rest: string } {
  const bad = { value: undefined, rest: s };
  const c = s.codePointAt(0);
  if (c === undefined) return bad;
  const ch = String.fromCodePoint(c);
  if (ch === quote && (quote === "'" || quote === '"')) return bad;
  if (ch !== '\\') return { value: c, rest: s.slice(ch.length) };
  const e = s[1];
  if (e === undefined) return bad;
  if (CHAR_ESCAPES[e] !== undefined) return { value: CHAR_ESCAPES[e], rest: s.slice(2) };
  if (e === quote) return { value: e.codePointAt(0)!, rest: s.slice(2) };
  const digits = { x: 2, u: 4, U: 8 }[e as 'x' | 'u' | 'U'];
  if (digits !== undefined) {
    const h = s.slice(2, 2 + digits);
    if (!new RegExp(`^[0-9a-fA-F]{${digits}}$`).test(h)) return bad;
    const v = parseInt(h, 16);
    if (v > 0x10ffff || (v >= 0xd800 && v <= 0xdfff)) return bad;
    return { value: v, rest: s.slice(2 + digits) };
  }
  if (/[0-7]/.test(e)) {
    const o = s.slice(1, 4);
    if (!/^[0-7]{3}$/.test(o) || parseInt(o, 8) > 255) return bad;
    return { value: parseInt(o, 8), rest: s.slice(4) };
  }
  return bad;
}

/** strconv.ParseInt(text, 0, 64) as a JS number (precision beyond 2^53 is lost). */
function parseGoInt(text: string): number | undefined {
  const sign = /^[+-]/.test(text) ? text[0]! : '';
  const body = text.slice(sign.length);
  // Go's literal forms; "_" may follow the base prefix or separate digits.
  let n: bigint;
  if (/^0[xX](_?[0-9a-fA-F])+$/.test(body) || /^0[oO](_?[0-7])+$/.test(body) || /^0[bB](_?[01])+$/.test(body)) {
    n = BigInt(body.replace(/_/g, '').toLowerCase());
  } else if (/^0(_?[0-7])*$/.test(body)) n = BigInt('0o' + (body.replace(/_/g, '').slice(1) || '0'));
  else if (/^[1-9](_?[0-9])*$/.test(body)) n = BigInt(body.replace(/_/g, ''));
  else return undefined;
  if (sign === '-') n = -n;
  if (n > 2n ** 63n - 1n || n < -(2n ** 63n)) return undefined;
  return Number(n);
}

function parseGoFloat(text: string): number | undefined {
  if (!/^[+-]?([0-9](_?[0-9])*\.?([0-9](_?[0-9])*)?|\.[0-9](_?[0-9])*)([eE][+-]?[0-9](_?[0-9])*)?$/.test(text)) return undefined;
  return Number(text.replace(/_/g, ''));
}

// ---------------------------------------------------------------------------------------------
// Functions available to templates

type ParamType = 'any' | 'value' | 'string' | 'int' | 'untyped';

/** A Go function as the evaluator sees it: parameter types (for Go's argument checks) and a body. */
interface GoFunc {
  params: ParamType[];
  /** The type of a variadic last parameter's elements, when there is one. */
  variadic?: ParamType;
  call(args: unknown[]): unknown;
}

/** An error a function returns; the evaluator reports it as `error calling NAME: MESSAGE`. */
class CallError extends Error {}

// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each body declares its own parameter types
type Body = (...args: any[]) => unknown;

/** A GoFunc from a JS function of the same parameters. */
function fn(params: ParamType[], body: Body, variadic?: ParamType): GoFunc {
  return { params, ...(variadic ? { variadic } : {}), call: (args) => body(...args) };
}

function indirect(v: unknown): unknown {
  return v === null || v instanceof NilPointer ? undefined : v;
}

/** Go's index builtin. */
function indexFn(item: unknown, ...indexes: unknown[]): unknown {
  item = indirect(item);
  if (item === undefined) throw new CallError('index of untyped nil');
  for (const ix of indexes.map(indirect)) {
    if (item === undefined || item === null || item instanceof NilPointer) throw new CallError('index of nil pointer');
    const k = kindOf(item);
    if (k === 'slice' || k === 'string') {
      const seq = k === 'string' ? Buffer.from(item as string) : (item as unknown[]);
      const i = indexArg(ix, seq.length);
      if (i >= seq.length) throw new CallError(`reflect: ${k === 'string' ? 'string' : 'slice'} index out of range`);
      item = k === 'string' ? (seq as Buffer)[i]! : (seq as unknown[])[i];
    } else if (k === 'map' || k === 'header') {
      if (ix === undefined) throw new CallError('value is nil; should be of type string');
      if (typeof ix !== 'string') throw new CallError(`value has type ${goTypeName(ix)}; should be string`);
      const found = mapEntries(item).find(([key]) => key === ix);
      item = found ? found[1] : isStringMap(item as object) ? '' : undefined;
    } else throw new CallError(`can't index item of type ${goTypeName(item).replace(/^\*/, '')}`);
  }
  return item;
}

function indexArg(ix: unknown, cap: number): number {
  if (ix === undefined) throw new CallError('cannot index slice/array with nil');
  if (kindOf(ix) !== 'int') throw new CallError(`cannot index slice/array with type ${goTypeName(ix)}`);
  const x = Number(ix);
  if (x < 0 || x > cap) throw new CallError(`index out of range: ${x}`);
  return x;
}

function sliceFn(item: unknown, ...indexes: unknown[]): unknown {
  item = indirect(item);
  if (item === undefined) throw new CallError('slice of untyped nil');
  if (indexes.length > 3) throw new CallError(`too many slice indexes: ${indexes.length}`);
  const k = kindOf(item);
  if (k === 'string' && indexes.length === 3) throw new CallError('cannot 3-index slice a string');
  if (k !== 'string' && k !== 'slice') throw new CallError(`can't slice item of type ${goTypeName(item)}`);
  const seq = k === 'string' ? Buffer.from(item as string) : (item as unknown[]);
  const idx = [0, seq.length, seq.length];
  indexes.forEach((ix, i) => (idx[i] = indexArg(indirect(ix), seq.length)));
  if (idx[0]! > idx[1]!) throw new CallError(`invalid slice index: ${idx[0]} > ${idx[1]}`);
  if (indexes.length === 3 && idx[1]! > idx[2]!) throw new CallError(`invalid slice index: ${idx[1]} > ${idx[2]}`);
  return k === 'string' ? (seq as Buffer).subarray(idx[0], idx[1]).toString() : (seq as unknown[]).slice(idx[0], idx[1]);
}

function lenFn(item: unknown): number {
  if (item === undefined) throw new CallError('reflect: call of reflect.Value.Type on zero Value');
  if (item === null || item instanceof NilPointer) throw new CallError('len of nil pointer');
  switch (kindOf(item)) {
    case 'string':
      return Buffer.byteLength(item as string);
    case 'slice':
      return (item as unknown[]).length;
    case 'map':
    case 'header':
      return mapEntries(item).length;
  }
  throw new CallError(`len of type ${goTypeName(item).replace(/^\*/, '')}`);
}

/** The kinds Go's comparison functions know. */
function basicKind(v: unknown): 'bool' | 'int' | 'float' | 'string' | undefined {
  const k = kindOf(v);
  return k === 'bool' || k === 'int' || k === 'float' || k === 'string' ? k : undefined;
}

function eqFn(arg1: unknown, ...rest: unknown[]): boolean {
  arg1 = arg1 === null ? undefined : arg1;
  if (rest.length === 0) throw new CallError('missing argument for comparison');
  const k1 = basicKind(arg1);
  for (let arg of rest) {
    arg = arg === null ? undefined : arg;
    const k2 = basicKind(arg);
    let truth = false;
    if (k1 !== k2) {
      if (arg1 !== undefined && arg !== undefined) throw new CallError('incompatible types for comparison');
    } else if (k1 === 'float') truth = floatValue(arg1) === floatValue(arg);
    else if (k1 === 'int') truth = BigInt(arg1 as number) === BigInt(arg as number);
    else if (k1 !== undefined) truth = arg1 === arg;
    else {
      const nil1 = arg1 === undefined || arg1 instanceof NilPointer;
      const nil2 = arg === undefined || arg instanceof NilPointer;
      if (!nil1 && !nil2 && kindOf(arg1) !== kindOf(arg)) {
        throw new CallError(`non-comparable types ${sprintValue(arg1)}: ${goTypeName(arg1)}, ${goTypeName(arg)}: ${sprintValue(arg)}`);
      }
      if (nil1 || nil2) truth = nil1 === nil2;
      else if (['slice', 'map', 'func', 'header'].includes(kindOf(arg))) throw new CallError(`non-comparable type ${sprintValue(arg)}: ${goTypeName(arg)}`);
      else truth = arg1 === arg;
    }
    if (truth) return true;
  }
  return false;
}

function ltFn(arg1: unknown, arg2: unknown): boolean {
  const k1 = basicKind(arg1);
  const k2 = basicKind(arg2);
  if (k1 === undefined || k2 === undefined) throw new CallError('invalid type for comparison');
  if (k1 !== k2) throw new CallError('incompatible types for comparison');
  switch (k1) {
    case 'bool':
      throw new CallError('invalid type for comparison');
    case 'float':
      return floatValue(arg1) < floatValue(arg2);
    case 'int':
      return BigInt(arg1 as number) < BigInt(arg2 as number);
    case 'string':
      return compareGoStrings(arg1 as string, arg2 as string) < 0;
  }
}

const leFn = (a: unknown, b: unknown): boolean => ltFn(a, b) || eqFn(a, b);

/** Go's call builtin: a function value called with the rest. */
function callFn(f: unknown, ...args: unknown[]): unknown {
  f = indirect(f);
  if (f === undefined) throw new CallError('call of nil');
  if (typeof f !== 'function') throw new CallError(`non-function of type ${goTypeName(f)}`);
  if (args.length !== f.length) throw new CallError(`wrong number of args: got ${args.length} want ${f.length}`);
  return (f as (...a: unknown[]) => unknown)(...args);
}

/** fmt.Sprint: spaces between operands when neither is a string. */
function sprint(args: unknown[]): string {
  let out = '';
  args.forEach((a, i) => {
    if (i > 0 && typeof a !== 'string' && typeof args[i - 1] !== 'string') out += ' ';
    out += sprintValue(a);
  });
  return out;
}

/** The text html, js and urlquery work on: the single string argument, or fmt.Sprint of them all. */
function escaperInput(args: unknown[]): string {
  if (args.length === 1 && typeof args[0] === 'string') return args[0];
  return sprint(args.map((a) => (a === undefined || a === null ? '<no value>' : a)));
}

function htmlEscape(s: string): string {
  return s.replace(/[\0"'&<>]/g, (c) => ({ '\0': '\uFFFD', '"': '&#34;', "'": '&#39;', '&': '&amp;', '<': '&lt;', '>': '&gt;' })[c]!);
}

function jsEscape(s: string): string {
  let out = '';
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    const special = { '\\': '\\\\', "'": "\\'", '"': '\\"', '<': '\\u003C', '>': '\\u003E', '&': '\\u0026', '=': '\\u003D' }[ch];
    if (special) out += special;
    else if (r < 0x20 || (r >= 0x80 && !isPrint(ch))) out += '\\u' + hex(r, 4).toUpperCase();
    else out += ch;
  }
  return out;
}

function urlQueryEscape(s: string): string {
  let out = '';
  for (const b of Buffer.from(s)) {
    const c = String.fromCharCode(b);
    if (/[A-Za-z0-9\-_.~]/.test(c)) out += c;
    else if (c === ' ') out += '+';
    else out += '%' + hex(b, 2).toUpperCase();
  }
  return out;
}

/** Go's unicode simple case mapping of one character (JS maps some to several, e.g. ß to SS). */
function mapRunes(s: string, f: (ch: string) => string): string {
  let out = '';
  for (const ch of s) {
    if (ch === '\u0130' && f === lowerRune) {
      out += 'i'; // İ lowercases to a plain i in Go
      continue;
    }
    const m = f(ch);
    out += Array.from(m).length === 1 ? m : ch;
  }
  return out;
}
const lowerRune = (ch: string): string => ch.toLowerCase();
const upperRune = (ch: string): string => ch.toUpperCase();

/** strings.Title: upper-case the first letter of each word (after a separator). */
function title(s: string): string {
  let out = '';
  let prev = ' ';
  for (const ch of s) {
    out += isTitleSeparator(prev) ? mapRunes(ch, upperRune) : ch;
    prev = ch;
  }
  return out;
}

function isTitleSeparator(ch: string): boolean {
  if (ch.codePointAt(0)! <= 0x7f) return !/[0-9a-zA-Z_]/.test(ch);
  if (/[\p{L}\p{Nd}]/u.test(ch)) return false;
  return /\s/u.test(ch);
}

/** strings.Split: "" as separator splits into characters; an empty string is [""]. */
function split(s: string, sep: string): string[] {
  return sep === '' ? Array.from(s) : s.split(sep);
}

/** docker's join: strings joined; other slices via fmt.Sprint of each; a map's values sorted. */
function join(elems: unknown, sep: string): string {
  if (elems === null || elems === undefined) return '';
  switch (kindOf(elems)) {
    case 'slice':
      return (elems as unknown[]).map(sprintValue).join(sep);
    case 'map':
    case 'header':
      return mapEntries(elems)
        .map(([, v]) => sprintValue(v))
        .sort(compareGoStrings)
        .join(sep);
  }
  throw new CallError(`expected slice, got ${goTypeName(elems)}`);
}

function repeat(n: number): string {
  if (n < 0) throw new CallError('strings: negative Repeat count');
  return ' '.repeat(n);
}

/** docker's truncate: the first `length` bytes, unless the string is shorter. */
function truncate(s: string, length: number): string {
  const bytes = Buffer.from(s);
  if (bytes.length < length) return s;
  if (length < 0) throw new CallError(`runtime error: slice bounds out of range [:${length}]`);
  return bytes.subarray(0, length).toString();
}

/** fmt.Sprintf, for the verbs and flags templates use: %v %s %q %d %t %x %X %o %b %c %f %e %g %%. */
function sprintf(format: string, args: unknown[]): string {
  let out = '';
  let argi = 0;
  const re = /%([-+# 0]*)(\*|\d+)?(?:\.(\*|\d*))?(.)?/gsy;
  let last = 0;
  for (let i = format.indexOf('%'); i >= 0; i = format.indexOf('%', last)) {
    out += format.slice(last, i);
    re.lastIndex = i;
    const m = re.exec(format)!;
    last = re.lastIndex;
    const flags = m[1]!;
    const takeInt = (spec: string | undefined): number | undefined => {
      if (spec === undefined || spec === '') return spec === '' ? 0 : undefined;
      if (spec !== '*') return Number(spec);
      const a = args[argi++];
      return typeof a === 'number' ? a : undefined;
    };
    let width = takeInt(m[2]);
    const prec = m[3] === undefined ? undefined : takeInt(m[3]);
    let minus = flags.includes('-');
    if (width !== undefined && width < 0) {
      minus = true;
      width = -width;
    }
    const verb = m[4];
    if (verb === undefined) {
      out += '%!(NOVERB)';
      continue;
    }
    if (verb === '%') {
      out += '%';
      continue;
    }
    if (argi >= args.length) {
      out += `%!${verb}(MISSING)`;
      continue;
    }
    const arg = args[argi++];
    const formatted = formatDeep(verb, arg, flags, prec);
    out += pad(formatted, width, minus, flags.includes('0') && !minus && /[dxXobfeEgG]/.test(verb));
  }
  out += format.slice(last);
  if (argi < args.length) {
    out += `%!(EXTRA ${args
      .slice(argi)
      .map((a) => (a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${sprintValue(a)}`))
      .join(', ')})`;
  }
  return out;
}

/** Decimal digits (no trailing zeros) and point position: value = 0.digits × 10^dp. */
interface Digits {
  digits: string;
  dp: number;
}

/** The exact decimal expansion of a finite non-negative double. */
function exactDigits(x: number): Digits {
  if (x === 0) return { digits: '', dp: 0 };
  const view = new DataView(new ArrayBuffer(8));
  view.setFloat64(0, x);
  const hi = view.getUint32(0);
  const expBits = (hi >>> 20) & 0x7ff;
  let mant = (BigInt(hi & 0xfffff) << 32n) | BigInt(view.getUint32(4));
  if (expBits !== 0) mant |= 1n << 52n;
  const e = (expBits === 0 ? 1 : expBits) - 1075; // x = mant × 2^e
  const [n, scale] = e >= 0 ? [mant << BigInt(e), 0] : [mant * 5n ** BigInt(-e), -e]; // x = n / 10^scale
  const digits = n.toString();
  return { digits: digits.replace(/0+$/, ''), dp: digits.length - scale };
}

/** `d` rounded to its first `n` digits, ties to even (as strconv rounds an exact tie). */
function roundDigits(d: Digits, n: number): Digits {
  if (n >= d.digits.length) return d;
  if (n < 0) return { digits: '', dp: d.dp };
  const keep = d.digits.slice(0, n);
  const rest = d.digits.slice(n);
  const last = n > 0 ? Number(keep[n - 1]) : 0;
  const up = rest[0]! > '5' || (rest[0] === '5' && (/[1-9]/.test(rest.slice(1)) || last % 2 === 1));
  if (!up) return { digits: keep.replace(/0+$/, ''), dp: d.dp };
  const bumped = (BigInt('1' + keep) + 1n).toString().slice(1) || '';
  if (keep === '' || /^0+$/.test(bumped)) return { digits: '1', dp: d.dp + 1 }; // 9.99 -> 10.0
  return { digits: bumped.replace(/0+$/, ''), dp: d.dp };
}

/** %e form with `prec` digits after the point. */
function expDigits(d: Digits, prec: number): string {
  const all = d.digits.padEnd(prec + 1, '0');
  const exp = d.digits === '' ? 0 : d.dp - 1;
  return twoDigitExponent(`${all[0]}${prec > 0 ? '.' + all.slice(1, prec + 1) : ''}e${exp < 0 ? '-' : '+'}${Math.abs(exp)}`);
}

/** %f form with `prec` digits after the point. */
function fixedDigits(d: Digits, prec: number): string {
  const digit = (i: number): string => (i >= 0 && i < d.digits.length ? d.digits[i]! : '0');
  let int = '';
  for (let i = 0; i < d.dp; i++) int += digit(i);
  let frac = '';
  for (let i = 0; i < prec; i++) frac += digit(d.dp + i);
  return (int || '0') + (prec > 0 ? '.' + frac : '');
}

/** JS writes 1e+6, Go 1e+06. */
function twoDigitExponent(s: string): string {
  return s.replace(/e([+-])(\d)$/, (_, sign: string, d: string) => `e${sign}0${d}`);
}

/** fmt applies a verb to each element of a slice and to each key and value of a map. */
function formatDeep(verb: string, arg: unknown, flags: string, prec: number | undefined): string {
  const k = kindOf(arg);
  if (verb !== 'v' && k === 'slice') return `[${(arg as unknown[]).map((x) => formatDeep(verb, x, flags, prec)).join(' ')}]`;
  if (verb !== 'v' && (k === 'map' || k === 'header')) {
    const entries = sortedEntries(mapEntries(arg)).map(([key, x]) => `${formatDeep(verb, key, flags, prec)}:${formatDeep(verb, x, flags, prec)}`);
    return `map[${entries.join(' ')}]`;
  }
  return formatVerb(verb, arg, flags, prec) ?? badVerb(verb, arg);
}

function badVerb(verb: string, a: unknown): string {
  return `%!${verb}(${a === null || a === undefined ? '<nil>' : `${goTypeName(a)}=${sprintValue(a)}`})`;
}

function pad(s: string, width: number | undefined, left: boolean, zero: boolean): string {
  const n = width === undefined ? 0 : width - Array.from(s).length;
  if (n <= 0) return s;
  if (left) return s + ' '.repeat(n);
  if (zero) {
    const sign = /^[+-]/.test(s) ? s[0]! : '';
    return sign + '0'.repeat(n) + s.slice(sign.length);
  }
  return ' '.repeat(n) + s;
}

function formatVerb(verb: string, arg: unknown, flags: string, prec: number | undefined): string | undefined {
  const k = kindOf(arg);
  const plus = flags.includes('+');
  const signed = (s: string, neg: boolean): string => (neg ? '-' : plus ? '+' : flags.includes(' ') ? ' ' : '') + s;
  switch (verb) {
    case 'v':
      return k === 'float' ? signed(formatFloatV(Math.abs(floatValue(arg))), floatValue(arg) < 0 || Object.is(floatValue(arg), -0)) : sprintValue(arg);
    case 's':
      if (k === 'string') return prec === undefined ? (arg as string) : Array.from(arg as string).slice(0, prec).join('');
      return undefined;
    case 'q':
      if (k === 'string') return goQuote(arg as string);
      if (k === 'int') return `'${String.fromCodePoint(Number(arg))}'`;
      return undefined;
    case 't':
      return k === 'bool' ? String(arg) : undefined;
    case 'c':
      return k === 'int' ? String.fromCodePoint(Number(arg)) : undefined;
    case 'U':
      return k === 'int' ? 'U+' + Number(arg).toString(16).toUpperCase().padStart(4, '0') : undefined;
    case 'd':
    case 'x':
    case 'X':
    case 'o':
    case 'b': {
      if (k === 'string' && (verb === 'x' || verb === 'X')) {
        const h = Buffer.from(arg as string).toString('hex');
        return verb === 'X' ? h.toUpperCase() : h;
      }
      if (k !== 'int') return undefined;
      const n = BigInt(arg as number);
      const abs = n < 0n ? -n : n;
      const radix = { d: 10, x: 16, X: 16, o: 8, b: 2 }[verb];
      let digits = abs.toString(radix);
      if (verb === 'X') digits = digits.toUpperCase();
      if (flags.includes('#')) digits = ({ x: '0x', X: '0X', o: '0', b: '0b' }[verb as 'x'] ?? '') + digits;
      return signed(digits, n < 0n);
    }
    case 'f':
    case 'F':
    case 'e':
    case 'E':
    case 'g':
    case 'G': {
      if (k !== 'float') return undefined;
      const x = floatValue(arg);
      const neg = x < 0 || Object.is(x, -0);
      const abs = Math.abs(x);
      if (!Number.isFinite(abs)) return Number.isNaN(abs) ? (plus ? '+NaN' : 'NaN') : signed('Inf', neg);
      let s: string;
      const exact = exactDigits(abs);
      if (verb === 'f' || verb === 'F') {
        const p = prec ?? 6;
        s = fixedDigits(roundDigits(exact, exact.dp + p), p);
      } else if (verb === 'e' || verb === 'E') {
        const p = prec ?? 6;
        s = expDigits(roundDigits(exact, p + 1), p);
      } else if (prec === undefined) s = formatFloatV(abs);
      else {
        // strconv's %g with a precision: p significant digits, trailing zeros dropped.
        let p = prec === 0 ? 1 : prec;
        const d = roundDigits(exact, p);
        const nd = d.digits.length;
        const eprec = p > nd && nd >= d.dp ? nd : p;
        const exp = d.dp - 1;
        if (exp < -4 || exp >= eprec) s = expDigits(d, Math.min(p, nd) - 1);
        else {
          if (p > d.dp) p = nd;
          s = fixedDigits(d, Math.max(p - d.dp, 0));
        }
      }
      if (verb === 'E' || verb === 'G') s = s.toUpperCase();
      return signed(s, neg);
    }
  }
  return undefined;
}

/** Go's text/template builtins. */
const builtins: Record<string, GoFunc> = {
  and: fn(['value'], () => undefined, 'value'), // short-circuits: evaluated in State.evalCall
  or: fn(['value'], () => undefined, 'value'),
  not: fn(['value'], (a: unknown) => !isTrue(a)),
  len: fn(['value'], lenFn),
  index: fn(['value'], indexFn, 'value'),
  slice: fn(['value'], sliceFn, 'value'),
  call: fn(['value'], callFn, 'value'),
  print: fn([], (...args: unknown[]) => sprint(args), 'any'),
  println: fn([], (...args: unknown[]) => args.map(sprintValue).join(' ') + '\n', 'any'),
  printf: fn(['string'], (format: string, ...args: unknown[]) => sprintf(format, args), 'any'),
  html: fn([], (...args: unknown[]) => htmlEscape(escaperInput(args)), 'any'),
  js: fn([], (...args: unknown[]) => jsEscape(escaperInput(args)), 'any'),
  urlquery: fn([], (...args: unknown[]) => urlQueryEscape(escaperInput(args)), 'any'),
  eq: fn(['value'], eqFn, 'value'),
  ne: fn(['value', 'value'], (a: unknown, b: unknown) => !eqFn(a, b)),
  lt: fn(['value', 'value'], ltFn),
  le: fn(['value', 'value'], leFn),
  gt: fn(['value', 'value'], (a: unknown, b: unknown) => !leFn(a, b)),
  ge: fn(['value', 'value'], (a: unknown, b: unknown) => !ltFn(a, b)),
};

/** docker/cli's templates.basicFunctions, with Go's builtins. */
const dockerFuncs: Record<string, GoFunc> = {
  ...builtins,
  json: fn(['any'], (v: unknown) => goJSON(v, false)),
  split: fn(['string', 'string'], split),
  join: fn(['any', 'string'], join),
  title: fn(['string'], title),
  lower: fn(['string'], (s: string) => mapRunes(s, lowerRune)),
  upper: fn(['string'], (s: string) => mapRunes(s, upperRune)),
  pad: fn(['string', 'int', 'int'], (s: string, before: number, after: number) => (s === '' ? s : repeat(before) + s + repeat(after))),
  truncate: fn(['string', 'int'], truncate),
};

/** docker's templates.HeaderFunctions: the column title passes through unchanged (pad is not replaced). */
const headerFuncs: Record<string, GoFunc> = {
  ...dockerFuncs,
  json: fn(['string'], (v: string) => v),
  split: fn(['string', 'string'], (v: string) => v),
  join: fn(['string', 'string'], (v: string) => v),
  title: fn(['string'], (v: string) => v),
  lower: fn(['string'], (v: string) => v),
  upper: fn(['string'], (v: string) => v),
  truncate: fn(['string', 'int'], (v: string) => v),
};

const dockerFuncNames: ReadonlySet<string> = new Set(Object.keys(dockerFuncs));

/** SubHeaderContext.Label: the title of a `.Label "com.example.some-name"` column: "some name". */
const headerLabel: GoFunc = fn(['string'], (name: string) => name.split('.').pop()!.replace(/[-_]/g, ' '));

// ---------------------------------------------------------------------------------------------
// Evaluator: walks the tree over a value, as Go's text/template exec does.

/** "No previous command in this pipeline", distinct from undefined (Go's invalid value). */
const MISSING = Symbol('missing');
/** The value of the previous command of a pipeline, passed as the last argument, or MISSING. */
type Final = unknown;

class ExecError extends Error {}
class BreakSignal {}
class ContinueSignal {}

/** Go's limit on nested {{template}} calls; JS's stack usually runs out first, reported the same way. */
const MAX_DEPTH = 100000;

function runOrThrow(set: TemplateSet, data: unknown, funcs: Record<string, GoFunc>): string {
  const { output, error } = execute(set, data, funcs);
  if (error) throw error;
  return output;
}

/** Execute the main template; on error, the output written before it and the error. */
function execute(set: TemplateSet, data: unknown, funcs: Record<string, GoFunc>): { output: string; error?: TemplateError } {
  if (data === null) data = undefined; // Go's Execute(nil): no value
  const state = new State(set, funcs, '', data);
  try {
    state.walk(data, set.trees.get('')!);
    return { output: state.output.join('') };
  } catch (e) {
    if (e instanceof ExecError) return { output: state.output.join(''), error: new TemplateError(e.message) };
    throw e;
  }
}

class State {
  output: string[] = [];
  private node: Node | undefined;
  private vars: { name: string; value: unknown }[];
  private depth = 0;
  private overflow: { node: Node; name: string } | undefined;

  constructor(
    private readonly set: TemplateSet,
    private readonly funcs: Record<string, GoFunc>,
    private name: string,
    data: unknown,
  ) {
    this.vars = [{ name: '$', value: data }];
  }

  private at(node: Node): void {
    this.node = node;
  }

  private errorf(message: string): never {
    if (!this.node) throw new ExecError(`template: ${this.name}: ${message}`);
    const { line, col } = lineAndColumn(this.set.text, this.node.pos);
    throw new ExecError(`template: :${line}:${col}: executing ${goQuote(this.name)} at <${nodeString(this.node)}>: ${message}`);
  }

  walk(dot: unknown, node: Node): void {
    this.at(node);
    switch (node.type) {
      case 'action': {
        // A declaration prints nothing; its variables live until the enclosing {{end}}.
        const val = this.evalPipeline(dot, node.pipe);
        if (node.pipe.decl.length === 0) this.printValue(node, val);
        return;
      }
      case 'break':
        throw new BreakSignal();
      case 'continue':
        throw new ContinueSignal();
      case 'if':
      case 'with':
        return this.walkIfOrWith(node, dot);
      case 'list':
        for (const n of node.nodes) this.walk(dot, n);
        return;
      case 'range':
        return this.walkRange(node, dot);
      case 'template':
        return this.walkTemplate(node, dot);
      case 'text':
        this.output.push(node.text);
        return;
    }
    this.errorf(`unknown node: ${nodeString(node)}`);
  }

  private walkIfOrWith(node: BranchNode, dot: unknown): void {
    const mark = this.vars.length;
    const val = this.evalPipeline(dot, node.pipe);
    if (isTrue(val)) this.walk(node.type === 'with' ? val : dot, node.list);
    else if (node.elseList) this.walk(dot, node.elseList);
    this.vars.length = mark;
  }

  private walkRange(node: BranchNode, dot: unknown): void {
    this.at(node);
    const mark0 = this.vars.length;
    const val = indirect(this.evalPipeline(dot, node.pipe));
    const mark = this.vars.length;
    const decl = node.pipe.decl.length;
    const oneIteration = (index: unknown, elem: unknown): void => {
      // With "$i, $e :=", $e (the top variable) gets the element and $i the index or key.
      if (decl > 0) this.vars[this.vars.length - 1]!.value = elem;
      if (decl > 1) this.vars[this.vars.length - 2]!.value = index;
      try {
        this.walk(elem, node.list);
      } catch (e) {
        if (!(e instanceof ContinueSignal)) throw e;
      } finally {
        this.vars.length = mark;
      }
    };
    let ran = false;
    try {
      switch (kindOf(val)) {
        case 'slice':
          (val as unknown[]).forEach((elem, i) => {
            ran = true;
            oneIteration(i, elem);
          });
          break;
        case 'map':
        case 'header':
          for (const [k, v] of sortedEntries(mapEntries(val))) {
            ran = true;
            oneIteration(k, v);
          }
          break;
        case 'int': // Go 1.22: range over an integer n is 0…n-1
          if (decl > 1) this.errorf(`can't use ${sprintValue(val)} to iterate over more than one variable`);
          for (let i = 0; i < Number(val); i++) {
            ran = true;
            oneIteration(undefined, i);
          }
          break;
        case 'invalid':
          break; // nil: like an empty map
        default:
          this.errorf(`range can't iterate over ${sprintValue(val)}`);
      }
    } catch (e) {
      if (!(e instanceof BreakSignal)) throw e;
    }
    if (!ran && node.elseList) this.walk(dot, node.elseList);
    this.vars.length = mark0;
  }

  private walkTemplate(node: Extract<Node, { type: 'template' }>, dot: unknown): void {
    this.at(node);
    const tree = this.set.trees.get(node.name);
    if (!tree) this.errorf(`template ${goQuote(node.name)} not defined`);
    if (this.depth >= MAX_DEPTH) this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
    const value = node.pipe ? this.evalPipeline(dot, node.pipe) : undefined;
    // The named template sees no variables of the caller, only $ (its dot).
    const saved = { vars: this.vars, name: this.name };
    this.vars = [{ name: '$', value }];
    this.name = node.name;
    this.depth++;
    try {
      this.walk(value, tree);
    } catch (e) {
      // The JS stack ran out (a template calling itself): no calls can be made this deep, so note
      // the innermost call and report it once unwound to the first {{template}}.
      if (e instanceof RangeError) {
        this.overflow ??= { node, name: saved.name };
        if (this.depth === 1) {
          this.name = this.overflow.name;
          this.at(this.overflow.node);
          this.errorf(`exceeded maximum template depth (${MAX_DEPTH})`);
        }
      }
      throw e;
    } finally {
      this.vars = saved.vars;
      this.name = saved.name;
      this.depth--;
    }
  }

  private evalPipeline(dot: unknown, pipe: PipeNode): unknown {
    this.at(pipe);
    let value: unknown = MISSING;
    for (const cmd of pipe.cmds) {
      value = this.evalCommand(dot, cmd, value);
      // An interface holding nil (a null map value) is no value at all.
      if (value === null) value = undefined;
    }
    for (const v of pipe.decl) {
      if (pipe.isAssign) this.setVar(v.ident[0]!, value);
      else this.vars.push({ name: v.ident[0]!, value });
    }
    return value;
  }

  private setVar(name: string, value: unknown): void {
    for (let i = this.vars.length - 1; i >= 0; i--) {
      if (this.vars[i]!.name === name) {
        this.vars[i]!.value = value;
        return;
      }
    }
    this.errorf(`undefined variable: ${name}`);
  }

  private varValue(name: string): unknown {
    for (let i = this.vars.length - 1; i >= 0; i--) if (this.vars[i]!.name === name) return this.vars[i]!.value;
    this.errorf(`undefined variable: ${name}`);
  }

  private notAFunction(args: Node[], final: Final): void {
    if (args.length > 1 || final !== MISSING) this.errorf(`can't give argument to non-function ${nodeString(args[0]!)}`);
  }

  private evalCommand(dot: unknown, cmd: CommandNode, final: Final): unknown {
    const first = cmd.args[0]!;
    switch (first.type) {
      case 'field':
        return this.evalFieldNode(dot, first, cmd.args, final);
      case 'chain':
        return this.evalChainNode(dot, first, cmd.args, final);
      case 'identifier':
        return this.evalFunction(dot, first, cmd, cmd.args, final);
      case 'pipe':
        this.notAFunction(cmd.args, final);
        return this.evalPipeline(dot, first);
      case 'variable':
        return this.evalVariableNode(dot, first, cmd.args, final);
    }
    this.at(first);
    this.notAFunction(cmd.args, final);
    switch (first.type) {
      case 'bool':
        return first.value;
      case 'dot':
        return dot;
      case 'nil':
        return this.errorf('nil is not a command');
      case 'number':
        return this.idealConstant(first);
      case 'string':
        return first.text;
    }
    this.errorf(`can't evaluate command ${goQuote(nodeString(first))}`);
  }

  /** A number literal where no type is expected: float64 if written as one, else int. */
  private idealConstant(n: NumberNode): unknown {
    this.at(n);
    const isHexInt = /^[+-]?0[xX]/.test(n.text) && !/[pP]/.test(n.text);
    if (n.isFloat && !isHexInt && !n.text.startsWith("'") && /[.eEpP]/.test(n.text)) return new GoFloat(n.float);
    if (n.isInt) return n.int;
    this.errorf(`${n.text} overflows int`);
  }

  private evalFieldNode(dot: unknown, field: FieldNode, args: Node[] | undefined, final: Final): unknown {
    this.at(field);
    return this.evalFieldChain(dot, dot, field, field.ident, args, final);
  }

  private evalChainNode(dot: unknown, chain: ChainNode, args: Node[] | undefined, final: Final): unknown {
    this.at(chain);
    if (chain.node.type === 'nil') this.errorf(`indirection through explicit nil in ${nodeString(chain)}`);
    const receiver = this.evalArg(dot, 'untyped', chain.node);
    return this.evalFieldChain(dot, receiver, chain, chain.field, args, final);
  }

  private evalVariableNode(dot: unknown, v: VariableNode, args: Node[] | undefined, final: Final): unknown {
    this.at(v);
    const value = this.varValue(v.ident[0]!);
    if (v.ident.length === 1) {
      this.notAFunction(args ?? [v], final);
      return value;
    }
    return this.evalFieldChain(dot, value, v, v.ident.slice(1), args, final);
  }

  private evalFieldChain(dot: unknown, receiver: unknown, node: Node, ident: string[], args: Node[] | undefined, final: Final): unknown {
    let staticType: string | undefined;
    for (let i = 0; i < ident.length - 1; i++) {
      // A value read from a map[string]any is, to Go, of type interface {} (error messages say so).
      const parentIsAnyMap = kindOf(receiver) === 'map' && !isStringMap(receiver as object);
      receiver = this.evalField(dot, ident[i]!, node, undefined, MISSING, receiver, staticType);
      staticType = parentIsAnyMap ? 'interface {}' : undefined;
    }
    return this.evalField(dot, ident[ident.length - 1]!, node, args, final, receiver, staticType);
  }

  private evalFunction(dot: unknown, node: Extract<Node, { type: 'identifier' }>, cmd: Node, args: Node[] | undefined, final: Final): unknown {
    this.at(node);
    const f = this.funcs[node.ident];
    if (!f) this.errorf(`${goQuote(node.ident)} is not a defined function`);
    return this.evalCall(dot, f, node.ident in builtins, cmd, node.ident, args, final);
  }

  /** `.Name` (with arguments when it is a method) of `receiver`. */
  private evalField(
    dot: unknown,
    name: string,
    node: Node,
    args: Node[] | undefined,
    final: Final,
    receiver: unknown,
    staticType?: string,
  ): unknown {
    if (receiver === undefined) return undefined;
    if (receiver === null || receiver instanceof NilPointer) this.errorf(`nil pointer evaluating interface {}.${name}`);
    const hasArgs = (args !== undefined && args.length > 1) || final !== MISSING;
    const numArgs = (args ? args.length - 1 : 0) + (final !== MISSING ? 1 : 0);
    const kind = kindOf(receiver);
    const asMethod = (obj: object, m: (...a: unknown[]) => unknown): unknown =>
      this.evalCall(dot, { params: Array<ParamType>(m.length).fill('any'), call: (a) => m.apply(obj, a) }, false, node, name, args, final);
    switch (kind) {
      case 'header': {
        if (name === 'Label') return this.evalCall(dot, headerLabel, false, node, name, args, final);
        if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
        const titles = (receiver as HeaderContext).titles;
        return Object.hasOwn(titles, name) ? titles[name] : undefined;
      }
      case 'row': {
        const row = (receiver as RowContext).row as Record<string, unknown>;
        const value = Object.hasOwn(row, name) ? row[name] : undefined;
        if (typeof value === 'function') return asMethod(row, value as (...a: unknown[]) => unknown);
        // docker's row fields are methods without parameters.
        if (value !== undefined && hasArgs) this.errorf(`wrong number of args for ${name}: want 0 got ${numArgs}`);
        if (value !== undefined) return value;
        break;
      }
      case 'struct':
      case 'map': {
        const obj = receiver as Record<string, unknown>;
        const value = Object.hasOwn(obj, name) ? obj[name] : undefined;
        if (typeof value === 'function') return asMethod(obj, value as (...a: unknown[]) => unknown);
        if (kind === 'map') {
          if (hasArgs) this.errorf(`${name} is not a method but has arguments`);
          return value;
        }
        if (value !== undefined) {
          if (hasArgs) this.errorf(`${name} has arguments but cannot be invoked as function`);
          return value === null ? NilPointer.instance : value;
        }
        break;
      }
    }
    this.errorf(`can't evaluate field ${name} in type ${staticType ?? goTypeName(receiver)}`);
  }

  private evalCall(dot: unknown, f: GoFunc, isBuiltin: boolean, node: Node, name: string, args: Node[] | undefined, final: Final): unknown {
    const argNodes = args ? args.slice(1) : [];
    const numIn = argNodes.length + (final !== MISSING ? 1 : 0);
    let numFixed = argNodes.length;
    if (f.variadic) {
      numFixed = f.params.length;
      if (numIn < numFixed) this.errorf(`wrong number of args for ${name}: want at least ${f.params.length} got ${argNodes.length}`);
    } else if (numIn !== f.params.length) this.errorf(`wrong number of args for ${name}: want ${f.params.length} got ${numIn}`);

    if (isBuiltin && (name === 'and' || name === 'or')) {
      // and/or return the first argument that decides, evaluating no further.
      let v: unknown;
      for (const arg of argNodes) {
        v = this.evalArg(dot, 'value', arg);
        if (isTrue(v) === (name === 'or')) return v;
      }
      if (final !== MISSING) v = this.validateType(final, 'value');
      return v;
    }
    const argv: unknown[] = [];
    let i = 0;
    for (; i < numFixed && i < argNodes.length; i++) argv.push(this.evalArg(dot, f.params[i]!, argNodes[i]!));
    for (; i < argNodes.length; i++) argv.push(this.evalArg(dot, f.variadic!, argNodes[i]!));
    if (final !== MISSING) {
      const t = f.variadic && numIn - 1 >= numFixed ? f.variadic : f.params[numIn - 1]!;
      argv.push(this.validateType(final, t));
    }
    try {
      return f.call(argv);
    } catch (e) {
      if (e instanceof ExecError || e instanceof BreakSignal || e instanceof ContinueSignal) throw e;
      this.at(node);
      this.errorf(`error calling ${name}: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /** Check a computed value against a parameter type, as Go's reflect would. */
  private validateType(value: unknown, type: ParamType): unknown {
    if (type === 'untyped') return value;
    if (value === undefined) {
      if (type === 'any') return null;
      if (type === 'value') return undefined;
      this.errorf(`invalid value; expected ${type}`);
    }
    // A null here is a nil read from a map[string]any: to Go, a value of type interface {}.
    const got = value === null ? 'interface {}' : goTypeName(value);
    if (type === 'string' && typeof value !== 'string') this.errorf(`wrong type for value; expected string; got ${got}`);
    if (type === 'int' && kindOf(value) !== 'int') this.errorf(`wrong type for value; expected int; got ${got}`);
    return value;
  }

  private evalArg(dot: unknown, type: ParamType, n: Node): unknown {
    this.at(n);
    switch (n.type) {
      case 'dot':
        return this.validateType(dot, type);
      case 'nil':
        if (type === 'any') return null;
        if (type === 'value') return undefined;
        return this.errorf(`cannot assign nil to ${type}`);
      case 'field':
        return this.validateType(this.evalFieldNode(dot, n, [n], MISSING), type);
      case 'variable':
        return this.validateType(this.evalVariableNode(dot, n, undefined, MISSING), type);
      case 'pipe':
        return this.validateType(this.evalPipeline(dot, n), type);
      case 'identifier':
        return this.validateType(this.evalFunction(dot, n, n, undefined, MISSING), type);
      case 'chain':
        return this.validateType(this.evalChainNode(dot, n, undefined, MISSING), type);
    }
    switch (type) {
      case 'int':
        if (n.type === 'number' && n.isInt) return n.int;
        return this.errorf(`expected integer; found ${nodeString(n)}`);
      case 'string':
        if (n.type === 'string') return n.text;
        return this.errorf(`expected string; found ${nodeString(n)}`);
      default:
        if (n.type === 'bool') return n.value;
        if (n.type === 'number') return this.idealConstant(n);
        if (n.type === 'string') return n.text;
    }
    this.errorf(`can't handle ${nodeString(n)} for arg of type ${type}`);
  }

  private printValue(node: Node, v: unknown): void {
    this.at(node);
    if (v === undefined) {
      this.output.push('<no value>');
      return;
    }
    if (typeof v === 'function') this.errorf(`can't print ${nodeString(node)} of type func`);
    this.output.push(sprintValue(v));
  }
}

// ---------------------------------------------------------------------------------------------
// Go's text/tabwriter (docker's copy, which measures cells in terminal columns)

interface Cell {
  text: string;
  width: number;
  /** Ended by a tab (not a newline or a vertical tab). */
  htab: boolean;
}

class TabWriter {
  private out = '';
  private lines: Cell[][] = [[]];
  private cell = '';
  private widths: number[] = [];

  constructor(
    private readonly minwidth: number,
    private readonly padding: number,
  ) {}

  write(text: string): string {
    for (const ch of text) {
      switch (ch) {
        case '\t':
        case '\v':
          this.terminateCell(ch === '\t');
          break;
        case '\n':
        case '\f': {
          const ncells = this.terminateCell(false);
          this.lines.push([]);
          // A line of one cell is in no column: everything before it can be laid out now.
          if (ch === '\f' || ncells === 1) this.flush();
          break;
        }
        default:
          this.cell += ch;
      }
    }
    if (this.cell.length > 0) this.terminateCell(false);
    this.flush();
    return this.out;
  }

  private terminateCell(htab: boolean): number {
    const line = this.lines[this.lines.length - 1]!;
    line.push({ text: this.cell, width: displayWidth(this.cell), htab });
    this.cell = '';
    return line.length;
  }

  private flush(): void {
    this.format(0, this.lines.length);
    this.lines = [[]];
    this.widths = [];
  }

  /** Lay out lines [line0, line1) for the column after those whose widths are known. */
  private format(line0: number, line1: number): void {
    const column = this.widths.length;
    for (let t = line0; t < line1; t++) {
      if (column >= this.lines[t]!.length - 1) continue;
      // A block of consecutive lines with a cell in this column starts here.
      this.writeLines(line0, t);
      line0 = t;
      let width = this.minwidth;
      for (; t < line1; t++) {
        const line = this.lines[t]!;
        if (column >= line.length - 1) break;
        width = Math.max(width, line[column]!.width + this.padding);
      }
      this.widths.push(width);
      this.format(line0, t);
      this.widths.pop();
      line0 = t;
    }
    this.writeLines(line0, line1);
  }

  private writeLines(line0: number, line1: number): void {
    for (let i = line0; i < line1; i++) {
      const line = this.lines[i]!;
      line.forEach((c, j) => {
        this.out += c.text;
        if (j < this.widths.length) this.out += ' '.repeat(this.widths[j]! - c.width);
      });
      // The last line is the unfinished one: it has no newline yet.
      if (i + 1 < this.lines.length) this.out += '\n';
    }
  }
}

/**
 * Terminal columns of a string, as docker's tabwriter measures cells (go-runewidth): East Asian
 * wide and fullwidth characters and emoji take 2, combining marks and controls 0, the rest 1.
 */
function displayWidth(s: string): number {
  let width = 0;
  for (const ch of s) {
    const r = ch.codePointAt(0)!;
    if (r < 0x20 || (r >= 0x7f && r < 0xa0) || /[\p{Mn}\p{Me}\u200b-\u200f\u2028-\u202e\u2060-\u2064\ufeff]/u.test(ch)) continue;
    width += isWide(r) || /\p{Emoji_Presentation}/u.test(ch) ? 2 : 1;
  }
  return width;
}

const WIDE_RANGES: [number, number][] = [
  [0x1100, 0x115f],
  [0x231a, 0x231b],
  [0x2329, 0x232a],
  [0x2e80, 0x303e],
  [0x3041, 0x33ff],
  [0x3400, 0x4dbf],
  [0x4e00, 0x9fff],
  [0xa000, 0xa4cf],
  [0xa960, 0xa97f],
  [0xac00, 0xd7a3],
  [0xf900, 0xfaff],
  [0xfe10, 0xfe19],
  [0xfe30, 0xfe6f],
  [0xff00, 0xff60],
  [0xffe0, 0xffe6],
  [0x1f300, 0x1f64f],
  [0x1f900, 0x1f9ff],
  [0x20000, 0x2fffd],
  [0x30000, 0x3fffd],
];

function isWide(r: number): boolean {
  return WIDE_RANGES.some(([lo, hi]) => r >= lo && r <= hi);
}
