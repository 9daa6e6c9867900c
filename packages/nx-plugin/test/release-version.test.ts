// {version}: package.json first, else Nx release's latest git tag for the project.

import { execFileSync } from 'node:child_process';
import { describe, expect, it } from '@jest/globals';
import { projectVersion, releaseTagPattern, versionFromTags } from '../src/executors/shared/release-version.js';
import { tempWorkspace } from './helpers.js';

describe('release tag pattern', () => {
  it('defaults as Nx release does: v{version} fixed, {projectName}@{version} independent', () => {
    expect(releaseTagPattern(undefined, 'app', 'apps/app').pattern).toBe('v{version}');
    expect(releaseTagPattern({ release: { projectsRelationship: 'independent' } }, 'app', 'apps/app').pattern).toBe('{projectName}@{version}');
  });

  it('reads releaseTag.pattern from the group that holds the project, by name or glob', () => {
    const nxJson = {
      release: {
        releaseTag: { pattern: 'release-{version}' },
        groups: {
          images: { projects: ['apps/*'], projectsRelationship: 'independent' as const, releaseTag: { pattern: '{projectName}/v{version}' } },
          libs: { projects: 'lib-*' },
        },
      },
    };
    expect(releaseTagPattern(nxJson, 'app', 'apps/app')).toEqual({ pattern: '{projectName}/v{version}', group: 'images' });
    expect(releaseTagPattern(nxJson, 'lib-a', 'libs/a')).toEqual({ pattern: 'release-{version}', group: 'libs' });
    expect(releaseTagPattern(nxJson, 'other', 'tools/other')).toEqual({ pattern: 'release-{version}', group: undefined });
  });

  it('picks the highest semver among matching tags', () => {
    const tags = ['v1.2.0', 'v1.10.0', 'v1.9.9', 'v2.0.0-rc.1', 'vnext', 'app@3.0.0', 'x1.0.0'];
    expect(versionFromTags(tags, 'v{version}', 'app', undefined)).toBe('2.0.0-rc.1');
    expect(versionFromTags(tags, '{projectName}@{version}', 'app', undefined)).toBe('3.0.0');
    expect(versionFromTags(tags, '{projectName}@{version}', 'other', undefined)).toBeUndefined();
  });
});

describe('projectVersion', () => {
  it('uses package.json, else the git tags reachable from HEAD', () => {
    const ws = tempWorkspace({ 'apps/app/Dockerfile': 'FROM scratch\n', 'apps/lib/package.json': '{"name":"lib","version":"4.5.6"}' });
    try {
      const git = (...args: string[]) =>
        execFileSync('git', ['-c', 'user.name=t', '-c', 'user.email=t@example.com', ...args], { cwd: ws.root, stdio: 'ignore' });
      git('init', '-q');
      git('add', '-A');
      git('commit', '-qm', 'one');
      git('tag', 'app@1.0.0');
      git('tag', 'app@1.1.0');
      const independent = { release: { projectsRelationship: 'independent' as const } };
      expect(projectVersion(ws.root, 'app', 'apps/app', independent)).toBe('1.1.0');
      expect(projectVersion(ws.root, 'app', 'apps/app', undefined)).toBeUndefined(); // looks for v{version}
      expect(projectVersion(ws.root, 'lib', 'apps/lib', independent)).toBe('4.5.6');
    } finally {
      ws.remove();
    }
  });
});
