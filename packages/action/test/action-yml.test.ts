// action.yml, the committed bundle and the workflows that use the action: valid YAML, a node24
// action with main and post, a bundle that matches its sources, and only inputs and outputs that exist.

import { execFile } from 'node:child_process';
import { existsSync, readFileSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import { describe, expect, it } from '@jest/globals';
import { parse as parseYaml } from 'yaml';
import { readActionYml, repoRoot } from './helpers/runner.js';

const action = readActionYml();

interface Step {
  id?: string;
  uses?: string;
  with?: Record<string, unknown>;
  run?: string;
}
interface Workflow {
  on: unknown;
  jobs: Record<string, { 'runs-on': string; steps: Step[] }>;
}

/** Checks every step that uses this action: inputs it passes and outputs later steps read. */
function checkUsesOfThisAction(workflow: Workflow, isThisAction: (uses: string) => boolean): number {
  let uses = 0;
  for (const job of Object.values(workflow.jobs)) {
    const ids = new Set<string>();
    for (const step of job.steps) {
      if (step.uses && isThisAction(step.uses)) {
        uses++;
        for (const input of Object.keys(step.with ?? {})) expect(Object.keys(action.inputs)).toContain(input);
        if (step.id) ids.add(step.id);
      }
    }
    const text = JSON.stringify(job.steps);
    for (const m of text.matchAll(/steps\.([\w-]+)\.outputs\.([\w-]+)/g)) {
      if (ids.has(m[1]!)) expect(Object.keys(action.outputs)).toContain(m[2]);
    }
  }
  return uses;
}

describe('action.yml', () => {
  it('runs the committed bundle on node24, with a post step on success', () => {
    expect(action.runs).toEqual({ using: 'node24', main: 'packages/action/dist/main.js', post: 'packages/action/dist/post.js', 'post-if': 'success()' });
    expect(existsSync(join(repoRoot, action.runs.main))).toBe(true);
    expect(existsSync(join(repoRoot, action.runs.post!))).toBe(true);
  });

  it("has build-push-action's and metadata-action's input names, and the outputs users read", () => {
    for (const name of ['context', 'file', 'build-args', 'target', 'labels', 'annotations', 'platforms', 'push', 'no-cache', 'images', 'tags', 'flavor', 'registry', 'username', 'password', 'cache', 'cache-key', 'summary']) {
      expect(action.inputs[name]?.description).toBeTruthy();
    }
    expect(Object.keys(action.outputs).sort()).toEqual(['annotations', 'cache-hit', 'digest', 'imageid', 'labels', 'metadata', 'tags', 'version']);
  });

  it('the bundle in packages/action/dist is what its sources build (npm run bundle)', async () => {
    await expect(promisify(execFile)(process.execPath, [join(repoRoot, 'packages/action/scripts/bundle.mjs'), '--check'])).resolves.toBeDefined();
    for (const file of readdirSync(join(repoRoot, 'packages/action/dist'), { recursive: true }) as string[]) {
      if (file.endsWith('.js')) expect(readFileSync(join(repoRoot, 'packages/action/dist', file), 'utf8')).not.toContain(repoRoot);
    }
  });
});

describe('workflows', () => {
  it('.github/workflows use the action with real inputs and outputs', () => {
    const dir = join(repoRoot, '.github/workflows');
    let uses = 0;
    for (const file of readdirSync(dir).filter((f) => /\.ya?ml$/.test(f))) {
      const workflow = parseYaml(readFileSync(join(dir, file), 'utf8')) as Workflow;
      expect(workflow.on).toBeDefined();
      for (const job of Object.values(workflow.jobs)) expect(job['runs-on']).toBeTruthy();
      uses += checkUsesOfThisAction(workflow, (u) => u === './');
    }
    expect(uses).toBeGreaterThan(0);
  });

  it("the README's workflow examples are valid YAML with real inputs and outputs", () => {
    const readme = readFileSync(join(repoRoot, 'README.md'), 'utf8');
    const blocks = [...readme.matchAll(/```yaml\n([\s\S]*?)```/g)].map((m) => m[1]!).filter((b) => b.includes('image-action@v1'));
    expect(blocks.length).toBeGreaterThan(0);
    for (const block of blocks) expect(checkUsesOfThisAction(parseYaml(block) as Workflow, (u) => u.endsWith('/image-action@v1'))).toBeGreaterThan(0);
  });
});
