// `kiln build`: Docker's build command line, without a daemon.

import { writeFile } from 'node:fs/promises';
import { resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { build } from '../engine/builder.js';
import { buildMetadata, progressLine, pushedLine, resultLines } from '../engine/report.js';
import { sourceDateEpoch } from '../engine/source-date-epoch.js';
import { parseCacheSpec, type CacheSpec } from '../engine/cache-transfer.js';
import { loadSecrets, parseSecretSpec, parseSshSpecs } from '../engine/build-secrets.js';
import { parseEntitlements } from '../engine/entitlements.js';
import { parsePushCompression, pushToRegistry } from '../engine/distribution.js';
import type { BuildEvent, OutputSpec } from '../engine/types.js';
import { parseAnnotations } from '../oci/annotations.js';
import { parseReference } from '../reference/index.js';
import { openStore } from '../store/store.js';
import { registryClient, registryOptions } from './registry-options.js';
import type { CliIo } from './io.js';
import { TtyProgress, type ProgressOutcome } from './progress-tty.js';
import { TransferProgress, transferMode } from './transfer-progress.js';
import { InterruptedError, UsageError } from './usage.js';

function keyValues(flag: string, values: string[] | undefined): Record<string, string> {
  const out: Record<string, string> = {};
  for (const item of values ?? []) {
    const eq = item.indexOf('=');
    if (eq <= 0) {
      // `--build-arg NAME` takes the value from the environment, as docker build does.
      if (flag === '--build-arg' && eq < 0 && process.env[item] !== undefined) out[item] = process.env[item]!;
      else if (flag !== '--build-arg' || eq === 0) throw new UsageError(`${flag} expects KEY=VALUE, got "${item}"`);
      continue;
    }
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}

export function parseOutput(spec: string): OutputSpec {
  const fields = Object.fromEntries(spec.split(',').map((kv) => kv.split('=', 2) as [string, string?]));
  const type = fields.type;
  const dest = fields.dest;
  if ((type !== 'oci' && type !== 'docker') || !dest) {
    throw new UsageError(`--output "${spec}": use type=oci,dest=DIR or type=docker,dest=FILE.tar`);
  }
  return { type, dest };
}

function cacheSpecs(flag: '--cache-to' | '--cache-from', values: string[] | undefined): CacheSpec[] {
  return (values ?? []).map((spec) => {
    try {
      return parseCacheSpec(flag, spec);
    } catch (err) {
      throw new UsageError((err as Error).message);
    }
  });
}

export async function buildCommand(args: string[], io: CliIo): Promise<number> {
  const { values, positionals } = parseArgs({
    args,
    allowPositionals: true,
    options: {
      file: { type: 'string', short: 'f' },
      tag: { type: 'string', short: 't', multiple: true },
      'build-arg': { type: 'string', multiple: true },
      target: { type: 'string' },
      label: { type: 'string', multiple: true },
      annotation: { type: 'string', multiple: true },
      'no-cache': { type: 'boolean' },
      platform: { type: 'string' },
      output: { type: 'string', short: 'o', multiple: true },
      iidfile: { type: 'string' },
      'metadata-file': { type: 'string' },
      progress: { type: 'string' },
      store: { type: 'string' },
      quiet: { type: 'boolean', short: 'q' },
      compression: { type: 'string' },
      push: { type: 'boolean' },
      pull: { type: 'boolean' },
      'cache-from': { type: 'string', multiple: true },
      'cache-to': { type: 'string', multiple: true },
      secret: { type: 'string', multiple: true },
      ssh: { type: 'string', multiple: true },
      allow: { type: 'string', multiple: true },
      ...registryOptions,
    },
  });
  if (positionals.length !== 1) throw new UsageError('kiln build needs exactly one CONTEXT directory (e.g. kiln build .)');
  const progress = values.quiet ? 'quiet' : (values.progress ?? 'auto');
  if (!['auto', 'plain', 'quiet', 'tty'].includes(progress)) throw new UsageError(`--progress must be auto, tty, plain or quiet, not "${progress}"`);
  for (const tag of values.tag ?? []) parseReference(tag); // refuse a bad tag before doing any work
  if (values.push && !values.tag?.length) throw new UsageError('--push needs at least one -t NAME:TAG to push to');
  const context = resolve(positionals[0]!);
  const [compression, level] = (values.compression ?? 'none').split(':', 2) as [string, string?];
  const gzipLevel = level === undefined ? undefined : Number(level);
  if ((compression !== 'none' && compression !== 'gzip') || (gzipLevel !== undefined && !(Number.isInteger(gzipLevel) && gzipLevel >= 0 && gzipLevel <= 9))) {
    throw new UsageError(`--compression must be none or gzip[:LEVEL] with LEVEL 0-9, not "${values.compression}"`);
  }
  // What a push sends: plain layers gzipped (level 1) unless --compression says none, or gzip at
  // a level (then the store has them gzipped already). Refused now, not after the build.
  let pushCompression;
  try {
    pushCompression = parsePushCompression(values.compression ?? 'gzip', '--compression');
  } catch (err) {
    throw new UsageError((err as Error).message);
  }
  const outputs = (values.output ?? []).map((spec) => {
    const output = parseOutput(spec);
    return { ...output, dest: resolve(output.dest) };
  });
  const cacheFrom = cacheSpecs('--cache-from', values['cache-from']);
  const cacheTo = cacheSpecs('--cache-to', values['cache-to']);
  const secrets = loadSecrets((values.secret ?? []).map((spec) => parseSecretSpec(spec)));
  const ssh = parseSshSpecs(values.ssh ?? []);
  const allow = parseEntitlements(values.allow ?? []);
  const store = await openStore(values.store);
  const epoch = sourceDateEpoch();

  // Ctrl-C (or SIGTERM) aborts the build: a running RUN's container is killed and its mounts and
  // directories removed before kiln exits (130). Every store write is a temp file renamed into
  // place, so an interrupted build leaves nothing half-written visible. A second Ctrl-C exits at once.
  const render = progressRenderer(progress, io);
  const registry = registryClient(values);
  const interrupt = new AbortController();
  let received: 'SIGINT' | 'SIGTERM' = 'SIGINT';
  const onSignal = (signal: 'SIGINT' | 'SIGTERM') => {
    if (interrupt.signal.aborted) process.exit(signal === 'SIGINT' ? 130 : 143);
    received = signal;
    interrupt.abort();
  };
  const stopListening = () => {
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };
  try {
    // Only the build listens: before and after it, Ctrl-C ends kiln at once as it always did.
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const result = await build(store, {
      context,
      dockerfile: values.file && values.file !== '-' ? resolve(values.file) : undefined,
      dockerfileContent: values.file === '-' ? await io.readStdin() : undefined,
      tags: values.tag,
      buildArgs: keyValues('--build-arg', values['build-arg']),
      labels: keyValues('--label', values.label),
      annotations: parseAnnotations(values.annotation ?? [], '--annotation'),
      target: values.target,
      noCache: values['no-cache'],
      platform: values.platform,
      compression,
      gzipLevel,
      outputs,
      registry,
      pull: values.pull,
      cacheFrom,
      cacheTo,
      secrets,
      ssh,
      allow,
      epoch,
      onEvent: render.onEvent,
      signal: interrupt.signal,
    })
      .catch((err: unknown) => {
        // The last frame is drawn before the caller prints the error.
        render.stop(interrupt.signal.aborted ? 'canceled' : 'error');
        if (interrupt.signal.aborted) throw new InterruptedError(received);
        throw err;
      })
      .finally(stopListening);
    render.stop('finished');
    let pushed: string | undefined;
    if (values.push) {
      // Per-layer byte progress on stderr, drawn after the build's own display has finished.
      const mode = transferMode(progress, io);
      const transfers = mode
        ? new TransferProgress({
            mode,
            verb: 'push',
            write: (text) => io.stderr(text),
            columns: () => io.stderrColumns,
            rows: () => io.stderrRows,
            color: !process.env.NO_COLOR,
            summary: false, // the pushed line below says it
          })
        : undefined;
      const push = await pushToRegistry(store, registry, result.manifestDigest, result.tags.map((t) => parseReference(t)), {
        compression: pushCompression,
        ...(transfers ? { onProgress: transfers.onProgress } : {}),
      })
        .then(
          (r) => {
            transfers?.stop('finished');
            return r;
          },
          (err: unknown) => {
            transfers?.stop('error');
            throw err;
          },
        );
      pushed = push.digest;
      if (progress !== 'quiet') {
        io.stderr(`${pushedLine(result.tags, push)}\n`);
      }
    }
    if (values.iidfile) await writeFile(values.iidfile, result.imageId);
    if (values['metadata-file']) {
      const metadata = buildMetadata(result, pushed ? { digest: pushed, tags: result.tags } : undefined);
      await writeFile(values['metadata-file'], JSON.stringify(metadata, null, 2) + '\n');
    }
    if (progress === 'quiet') io.stdout(`${result.imageId}\n`);
    else for (const line of resultLines(result)) io.stderr(`${line}\n`);
    return 0;
  } finally {
    render.stop('error'); // nothing if stopped already
    stopListening();
    // Ends what a failed or interrupted build left downloading (base layers fetched ahead for a RUN).
    registry.cancel();
  }
}

interface ProgressRenderer {
  onEvent(event: BuildEvent): void;
  /** The build is over: a live display draws its last frame (before anything else is printed). */
  stop(outcome: ProgressOutcome): void;
}

/**
 * `--progress`: tty is buildx's live display (what auto picks when stderr is a terminal and TERM is
 * not dumb); plain is docker build's plain lines, one when a step starts, one when it ends; quiet
 * shows nothing.
 */
function progressRenderer(progress: string, io: CliIo): ProgressRenderer {
  if (progress === 'quiet') return { onEvent: () => undefined, stop: () => undefined };
  if (progress === 'tty' || (progress === 'auto' && io.stderrIsTTY === true && process.env.TERM !== 'dumb')) {
    return new TtyProgress({
      write: (text) => io.stderr(text),
      columns: () => io.stderrColumns,
      rows: () => io.stderrRows,
      color: !process.env.NO_COLOR,
    });
  }
  return {
    onEvent: (event) => {
      const line = progressLine(event);
      if (line !== undefined) io.stderr(`${line}\n`);
    },
    stop: () => undefined,
  };
}
