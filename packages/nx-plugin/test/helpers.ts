// A temp Nx workspace on disk, a minimal ExecutorContext for it, and the executors' console output captured.

import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { jest } from '@jest/globals';
import type { ExecutorContext } from '@nx/devkit';

export function tempWorkspace(files: Record<string, string>): { root: string; remove(): void } {
  const root = mkdtempSync(join(tmpdir(), 'kiln-nx-'));
  for (const [path, content] of Object.entries(files)) {
    mkdirSync(dirname(join(root, path)), { recursive: true });
    writeFileSync(join(root, path), content);
  }
  return { root, remove: () => rmSync(root, { recursive: true, force: true }) };
}

export function executorContext(
  root: string,
  projectName = 'app',
  projectRoot = 'apps/app',
  targets: Record<string, { options?: Record<string, unknown> }> = {},
): ExecutorContext {
  return {
    root,
    cwd: root,
    projectName,
    targetName: 'image',
    isVerbose: false,
    projectsConfigurations: { version: 2, projects: { [projectName]: { root: projectRoot, targets } } },
    nxJsonConfiguration: {},
    projectGraph: { nodes: {}, dependencies: {} },
  };
}

/** Every line the executors write to the console (what Nx shows as the task's output) while `fn` runs. */
export async function captureLog<T>(fn: () => Promise<T>): Promise<{ result: T; log: string }> {
  const lines: string[] = [];
  const spies = (['info', 'warn', 'error', 'log'] as const).map((level) =>
    jest.spyOn(console, level).mockImplementation((...args: unknown[]) => {
      lines.push(args.map(String).join(' '));
    }),
  );
  try {
    const result = await fn();
    return { result, log: lines.join('\n') };
  } finally {
    for (const spy of spies) spy.mockRestore();
  }
}
