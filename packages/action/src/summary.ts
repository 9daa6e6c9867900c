// The job summary: one table with what a CI maintainer looks for after a build.

import type { BuildResult } from '@kiln/core';

export interface SummaryFacts {
  result: BuildResult;
  /** The registry's digest when every tag was pushed (layers gzipped, so not the store's). */
  pushedDigest: string | undefined;
  /** The layer cache: the key restored (if any) and whether it was made for the same inputs. */
  cache: { enabled: boolean; restoredKey: string | undefined; exactHit: boolean };
  durationMs: number;
}

export function formatBytes(n: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB'];
  let value = n;
  let unit = 0;
  while (value >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit++;
  }
  return unit === 0 ? `${n} B` : `${value.toFixed(1)} ${units[unit]}`;
}

const escapeHtml = (s: string) => s.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');

/** The summary's rows: [label, HTML value]. */
export function summaryRows(facts: SummaryFacts): [string, string][] {
  const { result } = facts;
  const steps = result.steps;
  const cached = steps.filter((s) => s.cached).length;
  // Every platform's layers, each blob counted once (platforms share the layers they have in common).
  const layers = new Map((result.platforms?.flatMap((p) => p.layers) ?? result.layers).map((layer) => [layer.digest, layer.size]));
  const size = [...layers.values()].reduce((sum, bytes) => sum + bytes, 0);
  const cacheText = !facts.cache.enabled
    ? 'off'
    : facts.cache.restoredKey === undefined
      ? 'nothing restored (first run for this image)'
      : `restored <code>${escapeHtml(facts.cache.restoredKey)}</code>${facts.cache.exactHit ? '' : ' (from an older Dockerfile or lock file)'}`;
  return [
    ['Image', result.tags.length ? result.tags.map((t) => `<code>${escapeHtml(t)}</code>`).join('<br>') : '(no tags)'],
    ['Digest', `<code>${facts.pushedDigest ?? result.manifestDigest}</code>`],
    ['Image ID', `<code>${result.imageId}</code>`],
    ...(result.platforms ? [['Platforms', result.platforms.map((p) => `<code>${p.platform}</code>`).join(', ')] as [string, string]] : []),
    ['Size', `${formatBytes(size)} in ${layers.size} layer${layers.size === 1 ? '' : 's'}`],
    ['Steps', `${cached} cached, ${steps.length - cached} built`],
    ['Pushed', facts.pushedDigest !== undefined ? 'yes' : 'no'],
    ['Layer cache', cacheText],
    ['Time', `${(facts.durationMs / 1000).toFixed(1)} s (build ${(result.durationMs / 1000).toFixed(1)} s)`],
  ];
}
