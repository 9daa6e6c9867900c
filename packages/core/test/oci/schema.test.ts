// The OCI image-spec schemas and their upstream vectors (shared conformance suite
// oci-image-spec), then the documents Kiln's oci/ room writes, validated against them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describeSuite } from '../helpers/conformance.js';
import { validateOciDocument } from '../helpers/oci-schema.js';
import { sha256Digest } from '../../src/oci/digest.js';
import { indexFor, manifestFor, normalizeManifest } from '../../src/oci/image.js';
import { ociLayoutFileContent } from '../../src/oci/layout.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import type { ImageConfig } from '../../src/oci/types.js';

interface SchemaVector {
  id: string;
  mediaType: string;
  fail: boolean;
  comment: string;
  note?: string;
  doc: string;
}
interface SpecExample {
  source: string;
  line: number;
  title: string;
  mediaType: string;
  doc: string;
}
interface DockerCompat {
  mediaTypeReplacements: Record<string, string>;
  cases: { test: string; mediaTypeAfterConversion: string; sha256OfDoc: string; failAfterConversion: boolean; doc: string }[];
}

describeSuite('oci-image-spec', (dir) => {
  const vectors = JSON.parse(readFileSync(join(dir, 'schema-vectors.json'), 'utf8')) as SchemaVector[];
  const examples = JSON.parse(readFileSync(join(dir, 'spec-examples.json'), 'utf8')) as SpecExample[];
  const compat = JSON.parse(readFileSync(join(dir, 'docker-compat.json'), 'utf8')) as DockerCompat;
  const ran = { vectors: 0, notes: 0, examples: 0, compat: 0 };

  afterAll(() => {
    console.log(
      `oci-image-spec: ${ran.vectors}/${vectors.length} schema vectors (${ran.notes} with extra checks), ` +
        `${ran.examples}/${examples.length} spec examples, ${ran.compat}/${compat.cases.length} docker-compat cases`,
    );
  });

  it('has the expected number of cases', () => {
    expect(vectors).toHaveLength(65);
    expect(vectors.filter((v) => v.note)).toHaveLength(4);
    expect(examples).toHaveLength(10);
    expect(compat.cases).toHaveLength(4);
  });

  describe('schema vectors', () => {
    it.each(vectors.map((v) => [v.id, v] as const))('%s', (_id, v) => {
      const r = validateOciDocument(v.mediaType, v.doc);
      if (v.fail) expect({ valid: r.valid, comment: v.comment }).toEqual({ valid: false, comment: v.comment });
      else expect({ errors: r.errors, comment: v.comment }).toEqual({ errors: [], comment: v.comment });
      ran.vectors++;
      if (v.note) ran.notes++;
    });
  });

  describe('spec examples', () => {
    it.each(examples.map((e) => [`${e.source}:${e.line} ${e.title}`, e] as const))('%s', (_name, e) => {
      expect(validateOciDocument(e.mediaType, e.doc).errors).toEqual([]);
      ran.examples++;
    });
  });

  describe('docker compatibility', () => {
    it.each(compat.cases.map((c, i) => [`${i} ${c.test}`, c] as const))('%s', (_name, c) => {
      expect(sha256Digest(Buffer.from(c.doc, 'utf8'))).toBe(c.sha256OfDoc);
      let converted = c.doc;
      for (const [from, to] of Object.entries(compat.mediaTypeReplacements)) converted = converted.split(from).join(to);
      const r = validateOciDocument(c.mediaTypeAfterConversion, converted);
      expect(r.valid).toBe(!c.failAfterConversion);
      ran.compat++;
    });

    it('normalizeManifest turns the Docker manifest and list into documents that validate', () => {
      let checked = 0;
      for (const c of compat.cases) {
        const raw = JSON.parse(c.doc) as { mediaType?: string };
        if (raw.mediaType !== MediaTypes.dockerManifest && raw.mediaType !== MediaTypes.dockerManifestList) continue;
        const doc = normalizeManifest(c.doc);
        expect(validateOciDocument(doc.mediaType, doc).errors).toEqual([]);
        checked++;
      }
      expect(checked).toBe(2);
    });
  });

  describe("documents Kiln's oci/ room writes", () => {
    const layer = { mediaType: MediaTypes.ociLayerGzip, digest: sha256Digest('layer'), size: 5 };
    const config: ImageConfig = {
      created: '2024-01-01T00:00:00Z',
      architecture: 'amd64',
      os: 'linux',
      config: { Env: ['PATH=/usr/bin:/bin'], Cmd: ['/bin/sh'], WorkingDir: '/', Labels: { a: 'b' } },
      rootfs: { type: 'layers', diff_ids: [sha256Digest('diff')] },
      history: [{ created: '2024-01-01T00:00:00Z', created_by: 'COPY . /', empty_layer: false }],
    };
    const configBytes = Buffer.from(JSON.stringify(config));
    const configDesc = { mediaType: MediaTypes.ociConfig, digest: sha256Digest(configBytes), size: configBytes.length };

    it('manifest', () => {
      const m = manifestFor(configDesc, [layer], { 'org.opencontainers.image.source': 'https://example.com/x' });
      expect(validateOciDocument(MediaTypes.ociManifest, JSON.stringify(m)).errors).toEqual([]);
    });

    it('index with platforms and ref names', () => {
      const mBytes = Buffer.from(JSON.stringify(manifestFor(configDesc, [layer])));
      const idx = indexFor([
        {
          mediaType: MediaTypes.ociManifest,
          digest: sha256Digest(mBytes),
          size: mBytes.length,
          platform: { architecture: 'arm64', os: 'linux', variant: 'v8' },
          annotations: { 'org.opencontainers.image.ref.name': 'latest' },
        },
      ]);
      expect(validateOciDocument(MediaTypes.ociIndex, JSON.stringify(idx)).errors).toEqual([]);
    });

    it('config', () => {
      expect(validateOciDocument(MediaTypes.ociConfig, configBytes).errors).toEqual([]);
    });

    it('oci-layout file', () => {
      expect(validateOciDocument(MediaTypes.ociLayoutHeader, ociLayoutFileContent()).errors).toEqual([]);
    });

    it('the validator rejects what it should (sanity)', () => {
      expect(validateOciDocument(MediaTypes.ociManifest, { schemaVersion: 2, config: configDesc, layers: [] }).valid).toBe(false);
      expect(validateOciDocument(MediaTypes.ociConfig, { ...config, config: { Env: ['NOEQUALS'] } }).valid).toBe(false);
      expect(validateOciDocument(MediaTypes.ociLayoutHeader, '{"imageLayoutVersion":"2.0.0"}').valid).toBe(false);
    });
  });
});
