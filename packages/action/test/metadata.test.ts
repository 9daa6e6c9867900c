// Tags, labels and the created date for a run, as the Action computes them.

import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from '@jest/globals';
import { readInputs } from '../src/inputs.js';
import { imageMetadata } from '../src/metadata.js';

function env(event: object, vars: Record<string, string>): NodeJS.ProcessEnv {
  const path = join(mkdtempSync(join(tmpdir(), 'kiln-meta-')), 'event.json');
  writeFileSync(path, JSON.stringify(event));
  return { GITHUB_EVENT_PATH: path, GITHUB_REPOSITORY: 'org/app', GITHUB_SHA: 'a'.repeat(40), ...vars };
}

const inputs = (values: Record<string, string>) => readInputs((name) => values[name] ?? '');
const commitTime = new Date('2024-05-06T07:08:09Z');
const noGit = async () => undefined;

describe('imageMetadata', () => {
  it('expands the tag rules for the images; created is the commit time', async () => {
    const meta = await imageMetadata(
      inputs({ images: 'ghcr.io/org/app', tags: 'type=semver,pattern={{version}}\ntype=semver,pattern={{major}}' }),
      env({ repository: { name: 'app', html_url: 'https://github.com/org/app', default_branch: 'main' } }, { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/tags/v3.4.5' }),
      async () => commitTime,
    );
    expect(meta.tags).toEqual(['ghcr.io/org/app:3.4.5', 'ghcr.io/org/app:3', 'ghcr.io/org/app:latest']);
    expect(meta.version).toBe('3.4.5');
    expect(meta.created).toEqual(commitTime);
    expect(meta.labels['org.opencontainers.image.created']).toBe(commitTime.toISOString());
    expect(meta.annotations['org.opencontainers.image.version']).toBe('3.4.5');
  });

  it('without images, tags are full references, checked; labels input overrides the generated ones', async () => {
    const meta = await imageMetadata(
      inputs({ tags: 'localhost:5000/app:1\nlocalhost:5000/app:latest', labels: 'org.opencontainers.image.title=custom\nteam=core' }),
      env({}, { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main' }),
      noGit,
      commitTime,
    );
    expect(meta.tags).toEqual(['localhost:5000/app:1', 'localhost:5000/app:latest']);
    expect(meta.labels).toMatchObject({ 'org.opencontainers.image.title': 'custom', team: 'core' });
    expect(meta.version).toBe('main');
    expect(meta.warnings).toEqual([]);
    await expect(imageMetadata(inputs({ tags: 'org/app:-1' }), env({}, {}), noGit)).rejects.toThrow(
      /input tags: invalid image reference "org\/app:-1".*each tags line is a full image reference/,
    );
  });

  it('takes the commit time from the payload before asking git', async () => {
    const sha = 'b'.repeat(40);
    let asked = false;
    const meta = await imageMetadata(
      inputs({ images: 'app' }),
      env({ head_commit: { id: sha, timestamp: '2023-01-02T03:04:05Z' } }, { GITHUB_EVENT_NAME: 'push', GITHUB_REF: 'refs/heads/main', GITHUB_SHA: sha }),
      async () => ((asked = true), commitTime),
    );
    expect(asked).toBe(false);
    expect(meta.created.toISOString()).toBe('2023-01-02T03:04:05.000Z');
  });
});
