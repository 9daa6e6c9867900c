// Heredoc detection (`RUN <<EOF`, `COPY <<-'EOF' /dest`), with BuildKit's rules: the line is
// split into shell words keeping quotes, escapes and unset variables, and each word of the form
// [N]<<[-]NAME names a heredoc whose body follows the instruction.

import type { Heredoc, InstructionNode } from './ast.js';
import { ShellLex } from './shell.js';

const HEREDOC_WORD = /^(\d*)<<(-?)[\t\n\f\r ]*([^<]*)$/;
const NO_ENV: ReadonlyMap<string, string> = new Map();
const HEREDOC_KEYWORDS = new Set(['add', 'copy', 'run']);

const lineLexer = new ShellLex('\\', { rawQuotes: true, rawEscapes: true, skipUnsetEnv: true });
const nameLexer = new ShellLex('\\', { skipUnsetEnv: true });
const rawNameLexer = new ShellLex('\\', { skipUnsetEnv: true, rawQuotes: true });

/** RUN, COPY and ADD in shell form (also under ONBUILD) may carry heredocs. */
export function readsHeredocs(node: InstructionNode): boolean {
  const target = node.keyword.toLowerCase() === 'onbuild' && node.sub ? node.sub : node;
  return HEREDOC_KEYWORDS.has(target.keyword.toLowerCase()) && !target.json;
}

/**
 * The heredoc a single word opens, or undefined when the word is no heredoc.
 * Throws on an unterminated quote in the delimiter.
 */
export function parseHeredocWord(word: string): Heredoc | undefined {
  const match = HEREDOC_WORD.exec(word);
  if (!match) return undefined;
  const rest = match[3]!;
  if (rest === '') return undefined;
  const words = nameLexer.processWords(rest, NO_ENV);
  if (words.length !== 1) return undefined;
  const rawWords = rawNameLexer.processWords(rest, NO_ENV);
  const name = words[0]!;
  // Quoting any part of the delimiter turns expansion off: compare quote counts with and
  // without quote removal (escaped quotes count the same in both).
  const expand = countQuotes(name) === countQuotes(rawWords[0] ?? '');
  return { name, fileDescriptor: Number(match[1] || '0'), expand, chomp: match[2] === '-', content: '' };
}

function countQuotes(s: string): number {
  let n = 0;
  for (const ch of s) if (ch === '"' || ch === "'") n++;
  return n;
}

/** Every heredoc an instruction line opens, in order. */
export function heredocsFromLine(line: string): Heredoc[] {
  let words: string[];
  try {
    words = lineLexer.processWords(line, NO_ENV);
  } catch {
    return [];
  }
  const heredocs: Heredoc[] = [];
  for (const word of words) {
    const heredoc = parseHeredocWord(word);
    if (heredoc) heredocs.push(heredoc);
  }
  return heredocs;
}

/** `<<-` bodies lose the leading tabs of every line when they are used. */
export function chompHeredocContent(content: string): string {
  return content.replace(/^\t+/gm, '');
}
