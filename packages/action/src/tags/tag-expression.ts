/**
 * The `tags` input: one tag rule per line, e.g. `type=semver,pattern={{major}}.{{minor}}` or
 * `type=raw,value=latest,enable={{is_default_branch}}`, parsed into typed rules with
 * docker/metadata-action's defaults. A line without `type=` is a raw tag (`acustomtag`).
 */
import { alternatives, MetadataInputError, nonBlankLines, parseAttributes } from './attribute-list.js';

export const TAG_TYPES = ['schedule', 'semver', 'pep440', 'match', 'edge', 'ref', 'raw', 'sha'] as const;
export type TagType = (typeof TAG_TYPES)[number];

export const REF_EVENTS = ['branch', 'tag', 'pr'] as const;
export type RefEvent = (typeof REF_EVENTS)[number];

export const SHA_FORMATS = ['short', 'long'] as const;
export type ShaFormat = (typeof SHA_FORMATS)[number];

/** Rules run from the highest priority down; the first one that yields a tag gives the main version. */
export const DEFAULT_TAG_PRIORITIES: Readonly<Record<TagType, number>> = {
  schedule: 1000,
  semver: 900,
  pep440: 900,
  match: 800,
  edge: 700,
  ref: 600,
  raw: 200,
  sha: 100,
};

/** What an empty `tags` input means. */
export const DEFAULT_TAG_EXPRESSIONS: readonly string[] = [
  'type=schedule',
  'type=ref,event=branch',
  'type=ref,event=tag',
  'type=ref,event=pr',
];

interface TagRuleBase {
  /** The line as written, for messages. */
  source: string;
  priority: number;
  /** An expression that must evaluate to 'true' or 'false', e.g. '{{is_default_branch}}'. */
  enable: string;
  /** When present (even empty) it replaces the flavor prefix for this rule. */
  prefix?: string;
  /** When present (even empty) it replaces the flavor suffix for this rule. */
  suffix?: string;
}

export interface ScheduleTagRule extends TagRuleBase {
  type: 'schedule';
  /** Only `{{date ...}}` and `{{commit_date ...}}` are available here. */
  pattern: string;
}

export interface VersionTagRule extends TagRuleBase {
  type: 'semver' | 'pep440';
  /** Rendered with the parsed version: `{{version}}`, `{{major}}`, `{{minor}}`, `{{patch}}`, `{{raw}}`. */
  pattern: string;
  /** Version to use instead of the pushed tag; '' for the tag. */
  value: string;
  /** Regular expression whose group 1 is the version inside the value; '' for the whole value. */
  match: string;
}

export interface MatchTagRule extends TagRuleBase {
  type: 'match';
  /** A regular expression, either bare (`v(\d+)`) or as a literal with flags (`/^v(\d+)$/i`). */
  pattern: string;
  /** Capture group to use; 0 is the whole match. */
  group: number;
  value: string;
}

export interface EdgeTagRule extends TagRuleBase {
  type: 'edge';
  /** Branch that gets the `edge` tag; '' for the repository's default branch. */
  branch: string;
}

export interface RefTagRule extends TagRuleBase {
  type: 'ref';
  event: RefEvent;
}

export interface RawTagRule extends TagRuleBase {
  type: 'raw';
  value: string;
}

export interface ShaTagRule extends TagRuleBase {
  type: 'sha';
  format: ShaFormat;
}

export type TagRule =
  | ScheduleTagRule
  | VersionTagRule
  | MatchTagRule
  | EdgeTagRule
  | RefTagRule
  | RawTagRule
  | ShaTagRule;

const COMMON_ATTRIBUTES = ['type', 'priority', 'enable', 'prefix', 'suffix'];
const TYPE_ATTRIBUTES: Readonly<Record<TagType, readonly string[]>> = {
  schedule: ['pattern'],
  semver: ['pattern', 'value', 'match'],
  pep440: ['pattern', 'value', 'match'],
  match: ['pattern', 'group', 'value'],
  edge: ['branch'],
  ref: ['event'],
  raw: ['value'],
  sha: ['format'],
};

/** Parses the `tags` input: blank lines are skipped, no lines means the default set; sorted by priority. */
export function parseTagRules(lines: readonly string[]): TagRule[] {
  const given = nonBlankLines(lines);
  const rules = (given.length > 0 ? given : DEFAULT_TAG_EXPRESSIONS).map(parseTagRule);
  // Array.prototype.sort is stable: rules of equal priority keep the order they were written in.
  return rules.sort((a, b) => b.priority - a.priority);
}

/** Parses one line of the `tags` input. Throws MetadataInputError when it is not a valid rule. */
export function parseTagRule(line: string): TagRule {
  const fail = (reason: string) => new MetadataInputError('tags', line, reason);

  const attrs = new Map<string, string>();
  let bareValue = false;
  for (const { key, value } of parseAttributes('tags', line)) {
    const name = key ?? 'value'; // `type=raw,foo` means value=foo
    if (attrs.has(name)) throw fail(`${name} is given twice`);
    attrs.set(name, value);
    if (key === undefined) bareValue = true;
  }

  const type = attrs.get('type') ?? 'raw';
  if (!isTagType(type)) throw fail(`unknown type "${type}" (use ${alternatives(TAG_TYPES)})`);
  const allowed = [...COMMON_ATTRIBUTES, ...TYPE_ATTRIBUTES[type]];
  for (const name of attrs.keys()) {
    if (allowed.includes(name)) continue;
    if (name === 'value' && bareValue) throw fail(`type=${type} takes no value, but "${attrs.get('value')}" is given`);
    throw fail(`type=${type} has no attribute "${name}" (use ${alternatives(allowed.filter((a) => a !== 'type'))})`);
  }

  const base: TagRuleBase = {
    source: line,
    priority: parsePriority(attrs.get('priority'), type, fail),
    enable: attrs.get('enable') ?? 'true',
    prefix: attrs.get('prefix'),
    suffix: attrs.get('suffix'),
  };

  switch (type) {
    case 'schedule':
      return { ...base, type, pattern: attrs.get('pattern') ?? 'nightly' };
    case 'semver':
    case 'pep440': {
      const pattern = attrs.get('pattern');
      if (pattern === undefined) throw fail(`type=${type} needs a pattern, e.g. pattern={{version}}`);
      const match = attrs.get('match') ?? '';
      if (match !== '') {
        const regex = compileRegExp(match, 'match', fail);
        if (captureGroupCount(regex) < 1) {
          throw fail(`match "${match}" has no capture group; the version is taken from group 1, e.g. "match=v(\\d+\\.\\d+\\.\\d+)$"`);
        }
      }
      return { ...base, type, pattern, value: attrs.get('value') ?? '', match };
    }
    case 'match': {
      const pattern = attrs.get('pattern');
      if (pattern === undefined) throw fail('type=match needs a pattern, e.g. "pattern=v(\\d+\\.\\d+)",group=1');
      compileRegExp(pattern, 'pattern', fail, matchPatternRegExp);
      const group = attrs.get('group') ?? '0';
      if (!/^\d+$/.test(group)) throw fail(`group "${group}" is not a capture group number (use e.g. group=1; group=0 is the whole match)`);
      return { ...base, type, pattern, group: Number(group), value: attrs.get('value') ?? '' };
    }
    case 'edge':
      return { ...base, type, branch: attrs.get('branch') ?? '' };
    case 'ref': {
      const event = attrs.get('event');
      if (event === undefined) throw fail(`type=ref needs an event (use ${alternatives(REF_EVENTS.map((e) => `event=${e}`))})`);
      if (!isOneOf(REF_EVENTS, event)) throw fail(`unknown event "${event}" (use ${alternatives(REF_EVENTS)})`);
      return { ...base, type, event, prefix: base.prefix ?? (event === 'pr' ? 'pr-' : undefined) };
    }
    case 'raw': {
      const value = attrs.get('value');
      if (value === undefined) throw fail('type=raw needs a value, e.g. type=raw,value=latest');
      return { ...base, type, value };
    }
    case 'sha': {
      const format = attrs.get('format') ?? 'short';
      if (!isOneOf(SHA_FORMATS, format)) throw fail(`unknown format "${format}" (use ${alternatives(SHA_FORMATS)})`);
      return { ...base, type, format, prefix: base.prefix ?? 'sha-' };
    }
  }
}

/** A `type=match` pattern: `/source/flags` is a regular expression literal, anything else is the source. */
export function matchPatternRegExp(pattern: string): RegExp {
  const literal = /^\/(.+)\/(.*)$/.exec(pattern);
  if (!literal) return new RegExp(pattern);
  const [, source = '', flags] = literal;
  return new RegExp(source, flags);
}

function compileRegExp(
  source: string,
  attribute: string,
  fail: (reason: string) => Error,
  compile: (source: string) => RegExp = (s) => new RegExp(s),
): RegExp {
  try {
    return compile(source);
  } catch (err) {
    throw fail(`${attribute} "${source}" is not a valid regular expression (${(err as Error).message})`);
  }
}

function captureGroupCount(regex: RegExp): number {
  // An empty alternative always matches '', and the match array has one slot per group.
  return new RegExp(`${regex.source}|`, regex.flags.replace(/[gy]/g, '')).exec('')!.length - 1;
}

function parsePriority(text: string | undefined, type: TagType, fail: (reason: string) => Error): number {
  if (text === undefined) return DEFAULT_TAG_PRIORITIES[type];
  if (!/^[+-]?\d+$/.test(text)) throw fail(`priority "${text}" is not a whole number (rules with a higher priority come first)`);
  return Number(text);
}

function isTagType(value: string): value is TagType {
  return isOneOf(TAG_TYPES, value);
}

function isOneOf<T extends string>(values: readonly T[], value: string): value is T {
  return (values as readonly string[]).includes(value);
}
