// Dockerfile text -> syntax tree, with BuildKit's line handling: parser directives, comments,
// continuation lines (also through comments and empty lines), heredocs, CRLF and a UTF-8 BOM.

import type { Directives, DockerfileAst, EscapeChar, InstructionNode, ParseWarning } from './ast.js';
import { DockerfileError } from './errors.js';
import { heredocsFromLine, readsHeredocs } from './heredoc.js';
import { LineSyntaxError, parseArguments, splitCommand } from './line-parsers.js';
import { trimLeftSpace } from './text.js';

/** BuildKit reads lines with a 64 KiB scanner buffer; longer lines are refused. */
export const MAX_LINE_BYTES = 65535;

export interface ParseOptions {
  /** Name used in error messages (default `Dockerfile`). */
  file?: string;
}

const DIRECTIVE = /^#[\t\n\f\r ]*([a-zA-Z][a-zA-Z0-9]*)[\t\n\f\r ]*=[\t\n\f\r ]*(.+?)[\t\n\f\r ]*$/;
const KNOWN_DIRECTIVES = new Set(['syntax', 'escape', 'check']);
const CONTINUATION: Record<EscapeChar, RegExp> = {
  '\\': /([^\\])\\[ \t]*$|^\\[ \t]*$/,
  '`': /([^`])`[ \t]*$|^`[ \t]*$/,
};

/** Parse a Dockerfile. Throws DockerfileError with file:line for anything BuildKit would refuse. */
export function parseDockerfile(source: string | Uint8Array, options: ParseOptions = {}): DockerfileAst {
  const file = options.file ?? 'Dockerfile';
  const warnings: ParseWarning[] = [];
  const text = typeof source === 'string' ? source : decodeText(source, file, warnings);
  return new Parser(text, file, warnings).parse();
}

/**
 * BuildKit reads the bytes as they are, and Go's JSON writes each byte that is not UTF-8 as
 * U+FFFD into the image config: a Latin-1 `LABEL` builds, with U+FFFD in the label. Kiln reads
 * such bytes as U+FFFD too, with a warning. A NUL byte means a binary file, never a Dockerfile.
 */
function decodeText(bytes: Uint8Array, file: string, warnings: ParseWarning[]): string {
  try {
    return new TextDecoder('utf-8', { fatal: true, ignoreBOM: true }).decode(bytes);
  } catch {
    const nul = bytes.indexOf(0);
    if (nul >= 0) {
      throw new DockerfileError('the file is not text (it holds a NUL byte: is it a binary file?); a Dockerfile must be UTF-8 text', {
        file,
        line: countLines(bytes, nul),
      });
    }
    warnings.push({
      line: countLines(bytes, firstInvalidUtf8(bytes)),
      message:
        'the file is not UTF-8: bytes that are not UTF-8 read as U+FFFD (docker build writes them into the image config the same way); save the Dockerfile as UTF-8',
    });
    return new TextDecoder('utf-8', { fatal: false, ignoreBOM: true }).decode(bytes);
  }
}

function countLines(bytes: Uint8Array, upTo: number): number {
  let line = 1;
  for (let i = 0; i < upTo; i++) if (bytes[i] === 0x0a) line++;
  return line;
}

/** Offset of the first byte that does not start or continue a well-formed UTF-8 sequence. */
function firstInvalidUtf8(bytes: Uint8Array): number {
  for (let i = 0; i < bytes.length; ) {
    const b = bytes[i]!;
    const length = b < 0x80 ? 1 : b >= 0xc2 && b <= 0xdf ? 2 : b >= 0xe0 && b <= 0xef ? 3 : b >= 0xf0 && b <= 0xf4 ? 4 : 0;
    if (length === 0) return i;
    // Continuation bytes only; the TextDecoder already refused the stricter cases (overlongs, surrogates).
    for (let k = 1; k < length; k++) if (((bytes[i + k] ?? 0) & 0xc0) !== 0x80) return i;
    i += length;
  }
  return bytes.length;
}

class Parser {
  private readonly lines: string[];
  private next = 0;
  private escape: EscapeChar = '\\';
  private directivesDone = false;
  private readonly directives: Directives = {};
  constructor(
    text: string,
    private readonly file: string,
    private readonly warnings: ParseWarning[] = [],
  ) {
    this.lines = splitLinesKeepingNewlines(text.startsWith('\ufeff') ? text.slice(1) : text);
  }

  parse(): DockerfileAst {
    const instructions: InstructionNode[] = [];
    while (this.next < this.lines.length) {
      const raw = this.readLine();
      let first = this.processLine(raw, true);
      const startLine = this.next;
      let { text: line, continues } = this.trimContinuation(first);
      if (!continues && line === '') continue;
      let sawEmptyContinuation = false;
      while (continues && this.next < this.lines.length) {
        const rawNext = this.readLine();
        first = this.processLine(rawNext, false);
        if (isComment(rawNext)) continue;
        if (trimLeftSpace(first) === '') {
          sawEmptyContinuation = true;
          continue;
        }
        const part = this.trimContinuation(first);
        line += part.text;
        continues = part.continues;
      }
      if (sawEmptyContinuation) {
        this.warnings.push({ message: `Empty continuation line found in: ${line}`, line: this.next, rule: 'NoEmptyContinuation' });
      }
      const node = this.nodeFromLine(line, startLine);
      this.readHeredocs(node, line, startLine);
      node.endLine = this.next;
      instructions.push(node);
    }
    if (instructions.length === 0) {
      throw new DockerfileError('file with no instructions', { file: this.file, line: Math.max(1, this.next) });
    }
    return {
      file: this.file,
      instructions,
      escapeToken: this.escape,
      directives: this.directives,
      warnings: this.warnings,
      startLine: instructions[0]!.startLine,
      endLine: instructions[instructions.length - 1]!.endLine,
    };
  }

  private readLine(): string {
    const line = this.lines[this.next++]!;
    if (line.length > MAX_LINE_BYTES / 3 && Buffer.byteLength(trimNewline(line)) > MAX_LINE_BYTES) {
      this.fail(`dockerfile line greater than max allowed size of ${MAX_LINE_BYTES}`, this.next);
    }
    return line;
  }

  /** Strip the newline (and leading space on a first line), notice directives, drop comments. */
  private processLine(raw: string, stripLeft: boolean): string {
    let token = trimNewline(raw);
    if (stripLeft) token = trimLeftSpace(token);
    this.possibleDirective(token);
    return isComment(token) ? '' : token;
  }

  private possibleDirective(line: string): void {
    if (this.directivesDone) return;
    const match = DIRECTIVE.exec(line);
    const name = match?.[1]?.toLowerCase();
    if (!match || !name || !KNOWN_DIRECTIVES.has(name)) {
      this.directivesDone = true;
      return;
    }
    const key = name as keyof Directives;
    if (this.directives[key] !== undefined) this.fail(`only one ${name} parser directive can be used`, this.next);
    const value = match[2]!;
    this.directives[key] = value;
    if (key === 'escape') {
      if (value !== '\\' && value !== '`') {
        this.fail(`invalid escape token '${value}' does not match \` or \\`, this.next);
      }
      this.escape = value;
    }
  }

  private trimContinuation(line: string): { text: string; continues: boolean } {
    const re = CONTINUATION[this.escape];
    if (!re.test(line)) return { text: line, continues: false };
    return { text: line.replace(re, '$1'), continues: true };
  }

  private nodeFromLine(line: string, startLine: number): InstructionNode {
    try {
      return buildNode(line, this.escape, startLine);
    } catch (err) {
      if (err instanceof LineSyntaxError) {
        throw new DockerfileError(err.message, { file: this.file, line: startLine, endLine: this.next }, line);
      }
      throw err;
    }
  }

  private readHeredocs(node: InstructionNode, line: string, startLine: number): void {
    if (!readsHeredocs(node) || !line.includes('<<')) return;
    let heredocs;
    try {
      heredocs = heredocsFromLine(line);
    } catch (err) {
      this.fail(err instanceof Error ? err.message : String(err), startLine, this.next);
    }
    for (const heredoc of heredocs) {
      let terminated = false;
      const body: string[] = [];
      while (this.next < this.lines.length) {
        const raw = this.readLine();
        let candidate = trimNewline(raw);
        if (heredoc.chomp) candidate = candidate.replace(/^\t+/, '');
        if (candidate === heredoc.name) {
          terminated = true;
          break;
        }
        body.push(raw);
      }
      if (!terminated) {
        this.fail(`unterminated heredoc: no line '${heredoc.name}' ends the heredoc started here`, startLine, this.next);
      }
      heredoc.content = body.join('');
      node.heredocs.push(heredoc);
    }
  }

  private fail(message: string, line: number, endLine?: number): never {
    throw new DockerfileError(message, { file: this.file, line: Math.max(1, line), endLine });
  }
}

function buildNode(line: string, escape: EscapeChar, startLine: number): InstructionNode {
  const { keyword, flags, rest } = splitCommand(line, escape);
  const node: InstructionNode = {
    keyword,
    flags,
    args: [],
    json: false,
    original: line,
    heredocs: [],
    startLine,
    endLine: startLine,
  };
  if (keyword.toLowerCase() === 'onbuild') {
    if (rest !== '') node.sub = buildNode(rest, escape, startLine);
    return node;
  }
  const parsed = parseArguments(keyword, rest, escape);
  node.args = parsed.args;
  node.json = parsed.json;
  return node;
}

function splitLinesKeepingNewlines(text: string): string[] {
  const lines: string[] = [];
  let start = 0;
  while (start < text.length) {
    const nl = text.indexOf('\n', start);
    const end = nl < 0 ? text.length : nl + 1;
    lines.push(text.slice(start, end));
    start = end;
  }
  return lines;
}

/** Go's bytes.TrimRight(line, "\r\n"). */
function trimNewline(line: string): string {
  let end = line.length;
  while (end > 0 && (line.charCodeAt(end - 1) === 10 || line.charCodeAt(end - 1) === 13)) end--;
  return end === line.length ? line : line.slice(0, end);
}

function isComment(line: string): boolean {
  return trimLeftSpace(trimNewline(line)).startsWith('#');
}
