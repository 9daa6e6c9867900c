/**
 * Image version, tags, OCI labels and annotations from the metadata inputs and a GitHub run,
 * with docker/metadata-action's semantics: the enabled tag rules run from the highest priority
 * down, each one that applies to the event yields a tag, the first tag is the main version and
 * decides `latest` (flavor latest=auto), and the labels are the org.opencontainers.image.* set
 * merged with the `labels` input.
 */
import * as pep440 from '@renovatebot/pep440';
import * as semver from 'semver';
import { KilnError } from '@kiln/core';
import { MetadataInputError, nonBlankLines } from './attribute-list.js';
import {
  evaluateExpression,
  evaluateSchedulePattern,
  isRawStatement,
  renderTemplate,
  shortSha,
  type ExpressionScope,
  type TemplateSite,
} from './expressions.js';
import { parseFlavor, type TagFlavor } from './flavor.js';
import { effectiveSha, type GitHubContext } from './github-context.js';
import { parseImages } from './images.js';
import { branchOf, pullRequestOf, tagOf } from './refs.js';
import type { RepoInfo } from './repo-info.js';
import { matchPatternRegExp, parseTagRules, type MatchTagRule, type TagRule, type VersionTagRule } from './tag-expression.js';

/** docker/metadata-action's inputs, as lists of lines (the Action splits them). */
export interface MetadataInputs {
  images?: readonly string[];
  tags?: readonly string[];
  flavor?: readonly string[];
  labels?: readonly string[];
  annotations?: readonly string[];
  sepTags?: string;
  sepLabels?: string;
  sepAnnotations?: string;
  bakeTarget?: string;
}

export const DEFAULT_METADATA_INPUTS: Readonly<Required<MetadataInputs>> = {
  images: [],
  tags: [],
  flavor: [],
  labels: [],
  annotations: [],
  sepTags: '\n',
  sepLabels: '\n',
  sepAnnotations: '\n',
  bakeTarget: 'docker-metadata-action',
};

/** Switches upstream reads from the environment; see metadataOptionsFromEnv. */
export interface MetadataOptions {
  /** DOCKER_METADATA_PR_HEAD_SHA: on pull request events describe the PR head, not the merge commit. */
  prHeadSha?: boolean;
  /** DOCKER_METADATA_SHORT_SHA_LENGTH: length of `{{sha}}` and type=sha,format=short (default 7). */
  shortShaLength?: number;
}

/** The instants `{{date}}`, `{{commit_date}}` and the `created` label use. */
export interface MetadataClock {
  now: Date;
  commitDate: Date;
  /**
   * The `org.opencontainers.image.created` label; default `now`, as upstream. The Action passes
   * the commit date so that a rebuild of the same commit gives the same image.
   */
  created?: Date;
}

export interface MetadataVersion {
  /** The first tag generated; undefined when no rule applied. */
  main: string | undefined;
  /** The other tags, without duplicates and without `latest`. */
  partial: string[];
  latest: boolean;
}

export interface MetadataResult {
  version: MetadataVersion;
  /** `image:tag` for every enabled image, or the bare tags when no image is enabled. */
  tags: string[];
  /** The tags without image names (the `tag-names` output). */
  tagNames: string[];
  /** The enabled images, lowercased. */
  images: string[];
  /** `key=value`, sorted by key. */
  labels: string[];
  annotations: string[];
  /** What upstream only logs as a warning: a tag value that is not a version, a pattern that does not match, ... */
  warnings: string[];
}

const DEFAULT_SHORT_SHA_LENGTH = 7;

export function computeMetadata(
  inputs: MetadataInputs,
  ctx: GitHubContext,
  repo: RepoInfo,
  clock: MetadataClock,
  options: MetadataOptions = {},
): MetadataResult {
  const images = parseImages(inputs.images ?? []);
  const rules = parseTagRules(inputs.tags ?? []);
  const flavor = parseFlavor(inputs.flavor ?? []);
  const scope: ExpressionScope = {
    ctx,
    sha: effectiveSha(ctx, options.prHeadSha),
    shortShaLength: checkShortShaLength(options.shortShaLength ?? DEFAULT_SHORT_SHA_LENGTH),
    now: clock.now,
    commitDate: clock.commitDate,
    created: clock.created ?? clock.now,
  };
  const warnings: string[] = [];

  const version = computeVersion(rules, flavor, scope, repo, warnings);
  if (version.main === undefined) warnings.push('no image version was generated: no tag rule applies to this event (check the tags input)');
  const tagNames =
    version.main === undefined ? [] : [version.main, ...version.partial, ...(version.latest ? [latestTag(flavor, scope)] : [])];
  const imageNames = images.filter((image) => image.enable).map((image) => image.name.toLowerCase());
  const tags = imageNames.length > 0 ? imageNames.flatMap((image) => tagNames.map((tag) => `${image}:${tag}`)) : [...tagNames];

  const oci = ociAnnotations(repo, version, scope);
  return {
    version,
    tags,
    tagNames,
    images: imageNames,
    labels: mergeAnnotations(oci, inputs.labels ?? [], 'labels', scope, warnings),
    annotations: mergeAnnotations(oci, inputs.annotations ?? [], 'annotations', scope, warnings),
    warnings,
  };
}

/** What one rule contributes before prefix, suffix and sanitizing. */
interface Candidate {
  value: string;
  /** Whether this tag, as the main version, gets `latest` under flavor latest=auto. */
  autoLatest: boolean;
}

function computeVersion(rules: TagRule[], flavor: TagFlavor, scope: ExpressionScope, repo: RepoInfo, warnings: string[]): MetadataVersion {
  let main: string | undefined;
  const partial: string[] = [];
  let latest: boolean | undefined;

  for (const rule of rules) {
    const enabled = evaluateExpression(rule.enable, scope, ruleSite(rule));
    if (enabled !== 'true' && enabled !== 'false') {
      const given = enabled === rule.enable ? `not "${enabled}"` : `but ${JSON.stringify(rule.enable)} gives "${enabled}"`;
      throw new MetadataInputError('tags', rule.source, `enable must be true or false, ${given}`);
    }
    if (enabled === 'false') continue;

    const candidate = ruleCandidate(rule, scope, repo, (text) => warnings.push(`tags: ${JSON.stringify(rule.source)}: ${text}`));
    if (!candidate) continue;
    const value = withAffixes(candidate.value, rule, flavor, scope);
    if (value === '') continue;

    const tag = sanitizeTag(value);
    if (main === undefined) main = tag;
    else if (tag !== main && !partial.includes(tag)) partial.push(tag);
    latest ??= flavor.latest === 'auto' ? candidate.autoLatest : flavor.latest === 'true';
  }
  return { main, partial, latest: latest ?? false };
}

function ruleCandidate(rule: TagRule, scope: ExpressionScope, repo: RepoInfo, warn: (text: string) => void): Candidate | undefined {
  const { ctx } = scope;
  switch (rule.type) {
    case 'schedule':
      if (!/schedule/.test(ctx.eventName)) return undefined;
      return { value: evaluateSchedulePattern(rule.pattern, scope, ruleSite(rule)), autoLatest: false };
    case 'semver':
    case 'pep440':
      return versionCandidate(rule, scope, warn);
    case 'match':
      return matchCandidate(rule, scope, warn);
    case 'edge': {
      const branch = branchOf(ctx.ref);
      if (branch === undefined) return undefined;
      const edgeBranch = rule.branch || repo.defaultBranch;
      if (edgeBranch === '') {
        warn("the repository's default branch is unknown, so there is no edge tag; name the branch, e.g. type=edge,branch=main");
        return undefined;
      }
      return edgeBranch === branch ? { value: 'edge', autoLatest: false } : undefined;
    }
    case 'ref': {
      const name = rule.event === 'branch' ? branchOf(ctx.ref) : rule.event === 'tag' ? tagOf(ctx.ref) : pullRequestOf(ctx.ref);
      return name === undefined ? undefined : { value: name, autoLatest: rule.event === 'tag' };
    }
    case 'raw':
      return { value: evaluateExpression(rule.value, scope, ruleSite(rule)), autoLatest: false };
    case 'sha':
      if (!scope.sha) return undefined;
      return { value: rule.format === 'short' ? shortSha(scope.sha, scope.shortShaLength) : scope.sha, autoLatest: false };
  }
}

/** What semver, pep440 and match rules read: their value attribute, else the pushed tag (none on other refs). */
function versionSource(rule: VersionTagRule | MatchTagRule, scope: ExpressionScope): string | undefined {
  return rule.value !== '' ? evaluateExpression(rule.value, scope, ruleSite(rule)) : tagOf(scope.ctx.ref);
}

function versionCandidate(rule: VersionTagRule, scope: ExpressionScope, warn: (text: string) => void): Candidate | undefined {
  let raw = versionSource(rule, scope);
  if (raw === undefined) return undefined;
  if (rule.match !== '') {
    const found = raw.match(new RegExp(rule.match))?.[1];
    if (found === undefined) warn(`match "${rule.match}" does not match "${raw}", so the whole value is used`);
    else raw = found;
  }
  raw = raw.replace(/\//g, '-');
  const site = ruleSite(rule);

  if (rule.type === 'semver') {
    const parsed = semver.valid(raw) ? semver.parse(raw, { loose: true }) : null;
    if (!parsed) {
      warn(`"${raw}" is not a semantic version, so this rule gives no tag (see https://semver.org/)`);
      return undefined;
    }
    // A prerelease gets its full version only (or {{raw}}): no {{major}}.{{minor}} tag, no latest.
    if (semver.prerelease(raw)) {
      return { value: renderTemplate(isRawStatement(rule.pattern) ? rule.pattern : '{{version}}', parsed, site), autoLatest: false };
    }
    return { value: renderTemplate(rule.pattern, parsed, site), autoLatest: true };
  }

  const explained = pep440.valid(raw) ? pep440.explain(raw) : null;
  if (!explained) {
    warn(`"${raw}" is not a PEP 440 version, so this rule gives no tag (see https://peps.python.org/pep-0440/)`);
    return undefined;
  }
  const version = pep440.clean(raw) ?? raw;
  if (explained.is_prerelease || explained.is_postrelease || explained.is_devrelease) {
    return { value: isRawStatement(rule.pattern) ? raw : version, autoLatest: false };
  }
  const fields = {
    raw: () => raw,
    version: () => version,
    major: () => pep440.major(raw),
    minor: () => pep440.minor(raw),
    patch: () => pep440.patch(raw),
  };
  return { value: renderTemplate(rule.pattern, fields, site), autoLatest: true };
}

function matchCandidate(rule: MatchTagRule, scope: ExpressionScope, warn: (text: string) => void): Candidate | undefined {
  const raw = versionSource(rule, scope);
  if (raw === undefined) return undefined;
  const found = raw.match(matchPatternRegExp(rule.pattern));
  if (!found) {
    warn(`pattern "${rule.pattern}" does not match "${raw}"`);
    return undefined;
  }
  const group = found[rule.group];
  if (group === undefined) {
    warn(`pattern "${rule.pattern}" has no group ${rule.group} in its match of "${raw}"`);
    return undefined;
  }
  return { value: group, autoLatest: true };
}

/** The rule's own prefix/suffix when it has one (even empty), else the flavor's. */
function withAffixes(value: string, rule: TagRule, flavor: TagFlavor, scope: ExpressionScope): string {
  const affix = (own: string | undefined, kind: 'prefix' | 'suffix') =>
    own !== undefined ? evaluateExpression(own, scope, ruleSite(rule)) : evaluateExpression(flavor[kind], scope, flavorSite(flavor, kind));
  return `${affix(rule.prefix, 'prefix')}${value}${affix(rule.suffix, 'suffix')}`;
}

function latestTag(flavor: TagFlavor, scope: ExpressionScope): string {
  const affix = (kind: 'prefix' | 'suffix', onLatest: boolean) =>
    onLatest ? evaluateExpression(flavor[kind], scope, flavorSite(flavor, kind)) : '';
  return sanitizeTag(`${affix('prefix', flavor.prefixLatest)}latest${affix('suffix', flavor.suffixLatest)}`);
}

function ociAnnotations(repo: RepoInfo, version: MetadataVersion, scope: ExpressionScope): string[] {
  return [
    `org.opencontainers.image.title=${repo.name}`,
    `org.opencontainers.image.description=${repo.description}`,
    `org.opencontainers.image.url=${repo.htmlUrl}`,
    `org.opencontainers.image.source=${repo.htmlUrl}`,
    `org.opencontainers.image.version=${version.main ?? ''}`,
    `org.opencontainers.image.created=${scope.created.toISOString()}`,
    `org.opencontainers.image.revision=${scope.sha}`,
    `org.opencontainers.image.licenses=${repo.license ?? ''}`,
  ];
}

/** The OCI set overridden by the input's `key=value` lines (expressions evaluated), sorted by key. */
function mergeAnnotations(
  oci: string[],
  custom: readonly string[],
  input: 'labels' | 'annotations',
  scope: ExpressionScope,
  warnings: string[],
): string[] {
  const entries = new Map(oci.map((entry) => splitEntry(entry)!));
  for (const line of nonBlankLines(custom)) {
    const entry = splitEntry(evaluateExpression(line, scope, { input, line }));
    if (entry) entries.set(...entry);
    else warnings.push(`${input}: ${JSON.stringify(line)}: not key=value, so it is ignored`);
  }
  return [...entries].sort(([a], [b]) => a.localeCompare(b)).map(([key, value]) => `${key}=${value}`);
}

function splitEntry(entry: string): [string, string] | undefined {
  const eq = entry.indexOf('=');
  return eq < 0 ? undefined : [entry.slice(0, eq), entry.slice(eq + 1)];
}

/** Docker tags allow [A-Za-z0-9_.-]; every other run of characters becomes one '-'. */
function sanitizeTag(tag: string): string {
  return tag.replace(/[^a-zA-Z0-9._-]+/g, '-');
}

function ruleSite(rule: TagRule): TemplateSite {
  return { input: 'tags', line: rule.source };
}

function flavorSite(flavor: TagFlavor, kind: 'prefix' | 'suffix'): TemplateSite {
  return { input: 'flavor', line: `${kind}=${flavor[kind]}` };
}

function checkShortShaLength(length: number): number {
  if (!Number.isInteger(length) || length < 1) throw new KilnError(`shortShaLength must be a positive whole number, not ${length}`);
  return length;
}
