/**
 * The `images` input: one image per line, either a bare name (`ghcr.io/org/app`) or attributes
 * (`name=ghcr.io/org/app,enable=false`). A single line of bare names is the older
 * comma-separated form (`org/app,ghcr.io/org/app`).
 */
import { MetadataInputError, nonBlankLines, parseAttributes, type Attribute } from './attribute-list.js';

export interface MetadataImage {
  /** As written; tags use it lowercased. */
  name: string;
  enable: boolean;
}

export function parseImages(lines: readonly string[]): MetadataImage[] {
  const given = nonBlankLines(lines);
  const parsed = given.map((line) => ({ line, attributes: parseAttributes('images', line) }));

  const only = parsed.length === 1 ? parsed[0] : undefined;
  if (only && only.attributes.every((attribute) => attribute.key === undefined)) {
    return only.attributes.map((attribute) => ({ name: attribute.value, enable: true }));
  }
  return parsed.map(({ line, attributes }) => parseImage(line, attributes));
}

function parseImage(line: string, attributes: Attribute[]): MetadataImage {
  const fail = (reason: string) => new MetadataInputError('images', line, reason);
  let name: string | undefined;
  let enable = true;
  for (const { key, value } of attributes) {
    switch (key) {
      case undefined:
      case 'name':
        if (name !== undefined) throw fail('the image name is given twice (one image per line)');
        name = value;
        break;
      case 'enable':
        if (value !== 'true' && value !== 'false') throw fail(`enable must be true or false, not "${value}"`);
        enable = value === 'true';
        break;
      default:
        throw fail(`unknown image attribute "${key}" (use name or enable)`);
    }
  }
  if (!name) throw fail('the image name is empty (write e.g. name=ghcr.io/org/app)');
  return { name, enable };
}
