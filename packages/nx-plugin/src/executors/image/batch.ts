// The `image` executor's batch implementation (executors.json: batchImplementation, preferBatch).
// Nx forks one process per task for a plain executor, and that fork costs more than a cached Kiln
// build (~0.3 s of loading Nx and ~0.1 s of loading Kiln); in a batch, one process builds every
// image task of the run, several at once, each task's output kept apart for Nx to show.

import { availableParallelism } from 'node:os';
import type { ExecutorContext, TaskGraph } from '@nx/devkit';
import { bufferedLog } from '../shared/log.js';
import { buildImage } from './executor.js';
import type { ImageExecutorOptions } from './schema.js';

interface BatchTaskResult {
  task: string;
  result: { success: boolean; terminalOutput: string; startTime: number; endTime: number; status: 'success' | 'failure' | 'skipped' };
}

/** How many builds run at once: they read, hash and write files, so about one per core. */
export function batchConcurrency(): number {
  const fromEnv = Number(process.env['KILN_NX_BATCH_CONCURRENCY']);
  return Number.isInteger(fromEnv) && fromEnv > 0 ? fromEnv : Math.max(2, availableParallelism());
}

export default async function* imageBatchExecutor(
  taskGraph: TaskGraph,
  options: Record<string, ImageExecutorOptions>,
  _overrides: ImageExecutorOptions,
  context: ExecutorContext,
): AsyncGenerator<BatchTaskResult> {
  const ids = Object.keys(taskGraph.tasks);
  // Dependencies inside the batch (another project's image, with `dependsOn: ["^image"]`); the
  // others (a `build` target) Nx has run before the batch starts.
  // others (a `build` target) Nx has run before the batch starts. Nx 24 lists edges ({ id }),
  // older versions task ids.
  const deps = (id: string): string[] =>
    ((taskGraph.dependencies[id] ?? []) as (string | { id: string })[]).map((e) => (typeof e === 'string' ? e : e.id)).filter((d) => d in taskGraph.tasks);
  const finished = new Map<string, boolean>();
  const running = new Map<string, Promise<BatchTaskResult>>();
  const limit = batchConcurrency();

  const run = async (id: string): Promise<BatchTaskResult> => {
    const task = taskGraph.tasks[id]!;
    const out = bufferedLog();
    const startTime = Date.now();
    const taskContext: ExecutorContext = {
      ...context,
      projectName: task.target.project,
      targetName: task.target.target,
      ...(task.target.configuration ? { configurationName: task.target.configuration } : {}),
    };
    const { success } = await buildImage(options[id] ?? {}, taskContext, out, task.hash);
    return { task: id, result: { success, terminalOutput: out.text(), startTime, endTime: Date.now(), status: success ? 'success' : 'failure' } };
  };

  while (finished.size < ids.length) {
    let skipped = false;
    for (const id of ids) {
      if (finished.has(id) || running.has(id)) continue;
      const waitingOn = deps(id);
      if (waitingOn.some((d) => finished.get(d) === false)) {
        finished.set(id, false);
        skipped = true;
        const now = Date.now();
        const failed = waitingOn.filter((d) => finished.get(d) === false).join(', ');
        yield { task: id, result: { success: false, terminalOutput: `skipped: ${failed} failed\n`, startTime: now, endTime: now, status: 'skipped' } };
        continue;
      }
      if (running.size >= limit || !waitingOn.every((d) => finished.get(d) === true)) continue;
      running.set(id, run(id));
    }
    if (running.size === 0) {
      if (skipped) continue; // a skip may free others; look again
      throw new Error(`the image tasks ${ids.filter((id) => !finished.has(id)).join(', ')} wait on each other`);
    }
    const done = await Promise.race(running.values());
    running.delete(done.task);
    finished.set(done.task, done.result.success);
    yield done;
  }
}
