// How a build is reported, shared by every front end (CLI, Nx executor, GitHub Action): docker
// build's plain progress lines for the events, and buildx's metadata JSON for the result.
// Nothing here prints; the front ends decide where the lines go.
import type { PushResult } from '../registry/types.js';
import type { BuildEvent, BuildResult } from './types.js';

/** The line `docker build --progress=plain` would show for an event, or undefined for none. */
export function progressLine(event: BuildEvent): string | undefined {
  switch (event.type) {
    case 'step-start':
      return `#${event.id} [${event.stage} ${event.step}/${event.steps}] ${event.instruction}`;
    case 'step-done':
      return event.cached ? `#${event.id} CACHED` : `#${event.id} DONE ${(event.durationMs / 1000).toFixed(1)}s`;
    case 'step-output': {
      // As `docker build --progress=plain` shows a RUN's output: step number, seconds, the text.
      const at = (event.elapsedMs / 1000).toFixed(3);
      return event.text
        .replace(/\n$/, '')
        .split('\n')
        .map((line) => `#${event.id} ${at} ${line}`)
        .join('\n');
    }
    case 'warning':
      return `WARNING: ${event.message}`;
    case 'output':
      return event.description;
    default:
      return undefined;
  }
}

/** What a push reported, for the metadata. */
export interface PushedImage {
  digest: string;
  tags: string[];
}

/**
 * buildx's `--metadata-file` JSON (`containerimage.digest`, `containerimage.config.digest`,
 * `image.name`) plus Kiln's own keys: the push, every step with its cache hit and time, the duration.
 */
export function buildMetadata(result: BuildResult, pushed?: PushedImage): Record<string, unknown> {
  return {
    // With a push, what the registry has (layers gzipped), as buildx reports it.
    'containerimage.digest': pushed?.digest ?? result.manifestDigest,
    // buildx leaves the config digest out for an index; Kiln lists each platform's instead.
    ...(result.platforms
      ? { 'kiln.platforms': result.platforms.map((p) => ({ platform: p.platform, digest: p.manifestDigest, configDigest: p.configDigest })) }
      : { 'containerimage.config.digest': result.configDigest }),
    'image.name': result.tags.join(','),
    ...(pushed ? { 'kiln.pushed': pushed } : {}),
    'kiln.steps': result.steps,
    'kiln.durationMs': result.durationMs,
  };
}

/** docker build's closing lines: each tag named, then the image ID and manifest written. */
export function resultLines(result: BuildResult): string[] {
  const seconds = (result.durationMs / 1000).toFixed(1);
  if (result.platforms) {
    return [
      ...result.platforms.map((p) => `exporting manifest ${p.manifestDigest} for ${p.platform}`),
      ...result.tags.map((tag) => `naming to ${tag}`),
      `writing image index ${result.manifestDigest} done (${result.platforms.length} platforms) in ${seconds}s`,
    ];
  }
  return [...result.tags.map((tag) => `naming to ${tag}`), `writing image ${result.imageId} done (manifest ${result.manifestDigest}) in ${seconds}s`];
}

/** An onEvent handler that sends each progress line to `out`, warnings to its warn. */
export function progressReporter(out: { info(line: string): void; warn(line: string): void }): (event: BuildEvent) => void {
  return (event) => {
    const line = progressLine(event);
    if (line === undefined) return;
    if (event.type === 'warning') out.warn(line);
    else out.info(line);
  };
}

/** What a push sent, in one line. */
export function pushedLine(tags: readonly string[], push: PushResult): string {
  return `pushed ${tags.join(', ')}: ${push.uploadedBlobs} blobs uploaded (${push.uploadedBytes} bytes), ${push.mountedBlobs} mounted, ${push.existingBlobs} already there`;
}
