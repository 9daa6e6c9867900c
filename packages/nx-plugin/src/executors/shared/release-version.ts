// `{version}` for a project: its package.json version (what `nx release version` writes for JS
// projects), else the version Nx release last tagged in git for it: the highest semver among the
// tags reachable from HEAD that match the release tag pattern of nx.json (`release.releaseTag.pattern`,
// per release group or top level; Nx's defaults are "v{version}" for fixed releases and
// "{projectName}@{version}" for independent ones).

import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import type { NxJsonConfiguration } from '@nx/devkit';
import type SemVer from 'semver';

// semver is loaded only when a version must come from git tags: every image task would otherwise
// pay for loading it.
const loadSemver = (): typeof SemVer => createRequire(import.meta.url)('semver') as typeof SemVer;

type Json = Record<string, unknown>;

function asObject(value: unknown): Json | undefined {
  return value !== null && typeof value === 'object' && !Array.isArray(value) ? (value as Json) : undefined;
}

function str(value: unknown): string | undefined {
  return typeof value === 'string' && value !== '' ? value : undefined;
}

/** The version in `<root>/<projectRoot>/package.json`, if any. */
export function packageJsonVersion(root: string, projectRoot: string): string | undefined {
  try {
    return str((JSON.parse(readFileSync(join(root, projectRoot, 'package.json'), 'utf8')) as Json)['version']);
  } catch {
    return undefined;
  }
}

/** Whether a release group's `projects` (names or globs such as "apps/*" or "app-*") include the project. */
function groupHasProject(projects: unknown, projectName: string, projectRoot: string): boolean {
  const patterns = typeof projects === 'string' ? [projects] : Array.isArray(projects) ? projects : [];
  return patterns.some((p) => {
    if (typeof p !== 'string') return false;
    const re = new RegExp(`^${p.split('*').map(escapeRegExp).join('.*')}$`);
    return re.test(projectName) || re.test(projectRoot);
  });
}

function escapeRegExp(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
}

/** The release tag pattern Nx release uses for the project, with the group it belongs to. */
export function releaseTagPattern(
  nxJson: NxJsonConfiguration | undefined,
  projectName: string,
  projectRoot: string,
): { pattern: string; group: string | undefined } {
  const release = asObject((nxJson as Json | undefined)?.['release']) ?? {};
  const patternOf = (config: Json) => str(asObject(config['releaseTag'])?.['pattern']) ?? str(config['releaseTagPattern']);
  for (const [group, value] of Object.entries(asObject(release['groups']) ?? {})) {
    const config = asObject(value);
    if (!config || !groupHasProject(config['projects'], projectName, projectRoot)) continue;
    const relationship = str(config['projectsRelationship']) ?? str(release['projectsRelationship']) ?? 'fixed';
    return { pattern: patternOf(config) ?? patternOf(release) ?? defaultPattern(relationship), group };
  }
  const relationship = str(release['projectsRelationship']) ?? 'fixed';
  return { pattern: patternOf(release) ?? defaultPattern(relationship), group: undefined };
}

function defaultPattern(relationship: string): string {
  return relationship === 'independent' ? '{projectName}@{version}' : 'v{version}';
}

/** The highest semver version among `tags` that match `pattern` for the project. */
export function versionFromTags(tags: string[], pattern: string, projectName: string, group: string | undefined): string | undefined {
  const source = pattern
    .split(/(\{version\}|\{projectName\}|\{releaseGroupName\})/)
    .map((part) => {
      if (part === '{version}') return '(.+)';
      if (part === '{projectName}') return escapeRegExp(projectName);
      if (part === '{releaseGroupName}') return escapeRegExp(group ?? '__default__');
      return escapeRegExp(part);
    })
    .join('');
  const re = new RegExp(`^${source}$`);
  const semver = loadSemver();
  const versions = tags.flatMap((tag) => {
    const version = re.exec(tag)?.[1];
    return version !== undefined && semver.valid(version) ? [version] : [];
  });
  return semver.rsort(versions)[0];
}

/** The project's version: package.json, else Nx release's latest git tag for it. */
export function projectVersion(
  root: string,
  projectName: string,
  projectRoot: string,
  nxJson: NxJsonConfiguration | undefined,
): string | undefined {
  const fromPackage = packageJsonVersion(root, projectRoot);
  if (fromPackage) return fromPackage;
  const { pattern, group } = releaseTagPattern(nxJson, projectName, projectRoot);
  let tags: string[];
  try {
    tags = execFileSync('git', ['tag', '--list', '--merged', 'HEAD'], {
      cwd: root,
      encoding: 'utf8',
      stdio: ['ignore', 'pipe', 'ignore'],
      timeout: 10_000,
    }).split('\n');
  } catch {
    return undefined;
  }
  return versionFromTags(tags.map((t) => t.trim()).filter(Boolean), pattern, projectName, group);
}
