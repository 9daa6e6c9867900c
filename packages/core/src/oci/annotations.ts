// Manifest annotations as buildx takes them (`--annotation`, build-push-action's `annotations`):
// `KEY=VALUE`, optionally prefixed with the level `manifest:`. Kiln builds one platform's image
// manifest, so the index and descriptor levels buildx also knows have nothing to attach to here.
import { KilnError } from '../errors.js';

const OTHER_LEVELS = /^(index|manifest-descriptor|index-descriptor)(\[[^\]]*\])?:/;

export function parseAnnotations(items: readonly string[], what: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of items) {
    const item = raw.replace(/^manifest:/, '');
    if (OTHER_LEVELS.test(item)) {
      throw new KilnError(`${what} "${raw}": only manifest annotations are supported (Kiln builds a single-platform image manifest); drop the "${item.slice(0, item.indexOf(':') + 1)}" prefix`);
    }
    const eq = item.indexOf('=');
    if (eq <= 0) throw new KilnError(`${what} "${raw}": expected KEY=VALUE (optionally prefixed with manifest:)`);
    out[item.slice(0, eq)] = item.slice(eq + 1);
  }
  return out;
}
