/**
 * The grammar shared by the `tags`, `flavor` and `images` inputs: one line is a CSV record
 * (so a field holding a comma can be double-quoted: `type=match,"pattern=\d{1,3}"`), each
 * field is `key=value` (split at the first `=`) or a bare value. Keys are case-insensitive;
 * keys and values are trimmed. A field whose text before the first `=` is not a word is a bare
 * value, so `type=raw,{{date 'YYYYMMDD' tz='Asia/Tokyo'}}` needs no `value=`.
 */
import { parse } from 'csv-parse/sync';
import { KilnError } from '@kiln/core';

/** A bad line in one of the metadata inputs. `message` names the input, the line, the problem and the fix. */
export class MetadataInputError extends KilnError {
  constructor(
    /** The input's name as the Action spells it: 'tags', 'flavor', 'images', 'labels', ... */
    readonly input: string,
    /** The offending line, exactly as given. */
    readonly line: string,
    /** What is wrong and what to do, without the input and line prefix. */
    readonly reason: string,
  ) {
    super(`${input}: ${JSON.stringify(line)}: ${reason}`);
  }
}

export interface Attribute {
  /** Lowercased key, or undefined for a bare value (`type=raw,foo` has the bare value 'foo'). */
  key: string | undefined;
  value: string;
}

/** Splits one input line into its attributes. Empty fields (a trailing comma) are skipped. */
export function parseAttributes(input: string, line: string): Attribute[] {
  let records: string[][];
  try {
    records = parse(line, { relaxColumnCount: true, skipEmptyLines: true });
  } catch (err) {
    const hint = 'put a field that holds commas or quotes in double quotes, doubling the quotes inside';
    throw new MetadataInputError(input, line, `not a valid comma-separated list (${(err as Error).message}); ${hint}`);
  }
  if (records.length > 1) {
    throw new MetadataInputError(input, line, 'holds more than one line; give each entry on a line of its own');
  }
  const attributes: Attribute[] = [];
  for (const field of records[0] ?? []) {
    const text = field.trim();
    if (text === '') continue;
    const eq = text.indexOf('=');
    const key = eq < 0 ? '' : text.slice(0, eq).trim();
    if (/^[A-Za-z][\w-]*$/.test(key)) attributes.push({ key: key.toLowerCase(), value: text.slice(eq + 1).trim() });
    else attributes.push({ key: undefined, value: text });
  }
  return attributes;
}

/**
 * A multi-line Action input (`images`, `tags`, `flavor`, `labels`, `annotations`) as its lines:
 * trimmed, without blank lines and `#` comment lines. A `#` inside a line is kept (`foo=a#b`),
 * and so are quotes: each line is parsed on its own, so `"pattern=\d{1,3}"` keeps its comma.
 */
export function splitInputList(value: string): string[] {
  return value
    .split(/\r?\n/)
    .map((line) => line.trim())
    .filter((line) => line !== '' && !line.startsWith('#'));
}

/** The input's lines without blank ones (the Action's list inputs may end with an empty line). */
export function nonBlankLines(lines: readonly string[]): string[] {
  return lines.filter((line) => line.trim() !== '');
}

/** `a`, `a or b`, `a, b or c`: for "use ..." hints. */
export function alternatives(values: readonly string[]): string {
  return values.length <= 1 ? (values[0] ?? '') : `${values.slice(0, -1).join(', ')} or ${values[values.length - 1]}`;
}
