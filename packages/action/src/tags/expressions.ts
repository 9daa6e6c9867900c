/**
 * Handlebars expressions in tag values, prefixes, labels and patterns: `{{branch}}`, `{{tag}}`,
 * `{{sha}}`, `{{base_ref}}`, `{{is_default_branch}}`, `{{is_not_default_branch}}`,
 * `{{date 'YYYYMMDD' tz='Asia/Tokyo'}}` and `{{commit_date ...}}` (moment formats).
 *
 * As in docker/metadata-action the values are plain context properties, not registered helpers,
 * so each kind of template sees only its own names (a semver pattern sees `{{major}}` but not
 * `{{branch}}`), an unquoted argument is a property lookup (`{{date YYYY}}` formats with no
 * format at all), and output is HTML-escaped the way handlebars does by default.
 */
import Handlebars from 'handlebars';
import moment from 'moment-timezone';
import { MetadataInputError } from './attribute-list.js';
import { payloadString, type GitHubContext } from './github-context.js';
import { branchOf, pullRequestOf, tagOf } from './refs.js';

/** Everything a global expression can refer to. */
export interface ExpressionScope {
  ctx: GitHubContext;
  /** The commit described (the PR head with prHeadSha). */
  sha: string;
  shortShaLength: number;
  now: Date;
  commitDate: Date;
  /** The instant of the `created` label. */
  created: Date;
}

/** Where a template came from, for error messages. */
export interface TemplateSite {
  input: string;
  line: string;
}

const handlebars = Handlebars.create();
// The built-in {{log}} writes to the console; library code must not, so it only renders nothing.
handlebars.registerHelper('log', () => '');

// Explicit `false` (rather than the default) makes handlebars deny inherited properties such as
// `{{constructor}}` without logging a warning to the console.
const RUNTIME_OPTIONS: Handlebars.RuntimeOptions = { allowProtoPropertiesByDefault: false, allowProtoMethodsByDefault: false };

/** Renders `template` against `values`; a template that fails names its input and line. */
export function renderTemplate(template: string, values: object, site: TemplateSite): string {
  try {
    return handlebars.compile(template)(values, RUNTIME_OPTIONS);
  } catch (err) {
    throw new MetadataInputError(site.input, site.line, `cannot evaluate ${JSON.stringify(template)}: ${(err as Error).message}`);
  }
}

/** A tag value, prefix, suffix, `enable` or label with the global expressions. */
export function evaluateExpression(template: string, scope: ExpressionScope, site: TemplateSite): string {
  return renderTemplate(template, globalValues(scope), site);
}

/** A `type=schedule` pattern: only the dates are available. */
export function evaluateSchedulePattern(pattern: string, scope: ExpressionScope, site: TemplateSite): string {
  return renderTemplate(pattern, dateValues(scope), site);
}

/** Whether a semver/pep440 pattern is exactly `{{raw}}` (spaces allowed): such a pattern applies to prereleases too. */
export function isRawStatement(pattern: string): boolean {
  let program: hbs.AST.Program;
  try {
    program = handlebars.parseWithoutProcessing(pattern);
  } catch {
    return false;
  }
  const [only] = program.body;
  if (program.body.length !== 1 || only?.type !== 'MustacheStatement') return false;
  const path = (only as hbs.AST.MustacheStatement).path;
  if (path.type !== 'PathExpression') return false;
  const { parts } = path as hbs.AST.PathExpression;
  return parts.length === 1 && parts[0] === 'raw';
}

export function shortSha(sha: string, length: number): string {
  return sha.slice(0, length);
}

function globalValues(scope: ExpressionScope): Record<string, unknown> {
  const { ctx } = scope;
  return {
    branch: () => branchOf(ctx.ref) ?? '',
    tag: () => tagOf(ctx.ref) ?? '',
    sha: () => shortSha(scope.sha, scope.shortShaLength),
    base_ref: () => baseRef(ctx),
    is_default_branch: () => String(isDefaultBranch(ctx)),
    is_not_default_branch: () => String(!isDefaultBranch(ctx)),
    ...dateValues(scope),
  };
}

function dateValues(scope: ExpressionScope): Record<string, unknown> {
  return { date: dateFormatter('date', scope.now), commit_date: dateFormatter('commit_date', scope.commitDate) };
}

/** `{{name 'FORMAT' tz='Zone'}}`; handlebars passes its options object last. */
function dateFormatter(name: string, date: Date): (...args: unknown[]) => string {
  return (...args) => {
    const options = args[args.length - 1] as Handlebars.HelperOptions;
    const format = args.length > 1 && args[0] !== undefined ? String(args[0]) : undefined;
    let zone = 'UTC';
    for (const [key, value] of Object.entries(options.hash as Record<string, unknown>)) {
      if (key !== 'tz') throw new Error(`{{${name}}} has no attribute "${key}" (only tz='Area/City')`);
      zone = String(value);
    }
    // moment-timezone would log to the console and fall back to UTC.
    if (!moment.tz.zone(zone)) throw new Error(`unknown time zone "${zone}" (use an IANA name such as tz='Europe/Paris')`);
    return moment(date).tz(zone).format(format);
  };
}

function baseRef(ctx: GitHubContext): string {
  const pushBase = payloadString(ctx.payload, 'base_ref');
  if (tagOf(ctx.ref) !== undefined && pushBase !== undefined) return branchOf(pushBase) ?? pushBase;
  const prBase = payloadString(ctx.payload, 'pull_request', 'base', 'ref');
  if (pullRequestOf(ctx.ref) !== undefined && prBase !== undefined) return prBase;
  return '';
}

function isDefaultBranch(ctx: GitHubContext): boolean {
  // Like upstream, a non-branch ref is compared as it is, so it never equals the default branch.
  const branch = branchOf(ctx.ref) ?? ctx.ref;
  if (branch === '') return false;
  if (payloadString(ctx.payload, 'repository', 'default_branch') === branch) return true;
  // These events always run on the default branch's last commit.
  return /create|discussion|issues|schedule/.test(ctx.eventName);
}
