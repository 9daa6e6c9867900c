import { sha256Digest } from '../../src/oci/digest.js';
import {
  OciError,
  descriptor,
  formatPlatform,
  hostPlatform,
  indexFor,
  isImageIndex,
  manifestFor,
  normalizeManifest,
  parsePlatform,
  platformMatches,
  selectManifest,
} from '../../src/oci/image.js';
import type { OciIndex, OciManifest } from '../../src/oci/image.js';
import { MediaTypes } from '../../src/oci/media-types.js';
import type { Descriptor, ImageIndex, Platform } from '../../src/oci/types.js';

const d = (s: string, mediaType: string = MediaTypes.ociLayerGzip): Descriptor => ({
  mediaType,
  digest: sha256Digest(s),
  size: s.length,
});

describe('manifestFor / indexFor', () => {
  it('writes fields in spec order, whatever order the inputs had', () => {
    const config = { size: 3, digest: sha256Digest('cfg'), mediaType: MediaTypes.ociConfig } as Descriptor;
    const m = manifestFor(config, [d('a'), { annotations: { z: '1', a: '2' }, ...d('b') }], { y: '1', b: '2' });
    expect(JSON.stringify(m)).toBe(
      JSON.stringify({
        schemaVersion: 2,
        mediaType: MediaTypes.ociManifest,
        config: { mediaType: MediaTypes.ociConfig, digest: sha256Digest('cfg'), size: 3 },
        layers: [d('a'), { ...d('b'), annotations: { a: '2', z: '1' } }],
        annotations: { b: '2', y: '1' },
      }),
    );
    expect(Object.keys(m.layers[1] ?? {})).toEqual(['mediaType', 'digest', 'size', 'annotations']);
  });

  it('is deterministic and drops empty optional fields', () => {
    const a = manifestFor(d('c', MediaTypes.ociConfig), [d('l')], {});
    const b = manifestFor(d('c', MediaTypes.ociConfig), [{ ...d('l'), urls: [], annotations: {} }]);
    expect(JSON.stringify(a)).toBe(JSON.stringify(b));
    expect('annotations' in a).toBe(false);
  });

  it('index keeps entry order and orders platform fields', () => {
    const idx = indexFor([
      { ...d('m1', MediaTypes.ociManifest), platform: { variant: 'v8', os: 'linux', architecture: 'arm64' } as Platform },
      d('m2', MediaTypes.ociManifest),
    ]);
    expect(idx.mediaType).toBe(MediaTypes.ociIndex);
    expect(idx.manifests.map((m) => m.digest)).toEqual([sha256Digest('m1'), sha256Digest('m2')]);
    expect(Object.keys(idx.manifests[0]?.platform ?? {})).toEqual(['architecture', 'os', 'variant']);
  });

  it('descriptor() keeps data and artifactType in order', () => {
    expect(Object.keys(descriptor({ artifactType: 'x/y', data: 'e30=', ...d('{}', MediaTypes.ociEmpty) }))).toEqual([
      'mediaType',
      'digest',
      'size',
      'data',
      'artifactType',
    ]);
  });
});

describe('hostPlatform', () => {
  it.each([
    ['x64', 'linux', undefined, { architecture: 'amd64', os: 'linux' }],
    ['arm64', 'linux', undefined, { architecture: 'arm64', os: 'linux', variant: 'v8' }],
    ['arm', 'linux', 7, { architecture: 'arm', os: 'linux', variant: 'v7' }],
    ['arm', 'linux', '6', { architecture: 'arm', os: 'linux', variant: 'v6' }],
    ['arm', 'linux', undefined, { architecture: 'arm', os: 'linux', variant: 'v7' }],
    ['ia32', 'win32', undefined, { architecture: '386', os: 'windows' }],
    ['ppc64', 'linux', undefined, { architecture: 'ppc64le', os: 'linux' }],
    ['s390x', 'linux', undefined, { architecture: 's390x', os: 'linux' }],
    ['arm64', 'darwin', undefined, { architecture: 'arm64', os: 'darwin', variant: 'v8' }],
  ])('%s/%s (arm_version %s)', (arch, platform, armVersion, expected) => {
    expect(hostPlatform(arch, platform, armVersion)).toEqual(expected);
  });

  it('describes this machine', () => {
    const p = hostPlatform();
    expect(p.os).toBe(process.platform === 'win32' ? 'windows' : process.platform);
    expect(typeof p.architecture).toBe('string');
    if (process.arch === 'x64') expect(p).toEqual({ architecture: 'amd64', os: 'linux' });
  });
});

describe('parsePlatform', () => {
  it.each([
    ['linux/amd64', { os: 'linux', architecture: 'amd64' }],
    ['linux/arm64/v8', { os: 'linux', architecture: 'arm64', variant: 'v8' }],
    ['linux/arm/v7', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    ['Linux/AMD64', { os: 'linux', architecture: 'amd64' }],
    ['linux/x86_64', { os: 'linux', architecture: 'amd64' }],
    ['linux/aarch64', { os: 'linux', architecture: 'arm64' }],
    ['linux/armhf', { os: 'linux', architecture: 'arm', variant: 'v7' }],
    [' windows/amd64 ', { os: 'windows', architecture: 'amd64' }],
  ])('%s', (spec, expected) => {
    expect(parsePlatform(spec)).toEqual(expected);
  });

  it.each([
    ['', /it is empty/],
    ['linux', /architecture is missing/],
    ['linux/arm/v7/extra', /4 parts/],
    ['linux//v7', /not an architecture/],
    ['/amd64', /not an OS/],
    ['linux/amd 64', /not an architecture/],
  ])('rejects %j', (spec, message) => {
    expect(() => parsePlatform(spec)).toThrow(OciError);
    expect(() => parsePlatform(spec)).toThrow(message);
    expect(() => parsePlatform(spec)).toThrow(/expected os\/arch\[\/variant\], e\.g\. linux\/amd64/);
  });

  it('round-trips through formatPlatform', () => {
    for (const s of ['linux/amd64', 'linux/arm64/v8', 'linux/arm/v6', 'windows/amd64']) {
      expect(formatPlatform(parsePlatform(s))).toBe(s);
    }
  });
});

describe('selectManifest', () => {
  const entry = (name: string, platform?: Platform, annotations?: Record<string, string>): Descriptor => ({
    ...d(name, MediaTypes.ociManifest),
    ...(platform ? { platform } : {}),
    ...(annotations ? { annotations } : {}),
  });
  const index: ImageIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: [
      entry('amd64', { os: 'linux', architecture: 'amd64' }),
      entry('arm64', { os: 'linux', architecture: 'arm64', variant: 'v8' }),
      entry('armv6', { os: 'linux', architecture: 'arm', variant: 'v6' }),
      entry('armv7', { os: 'linux', architecture: 'arm', variant: 'v7' }),
      entry('win', { os: 'windows', architecture: 'amd64', 'os.version': '10.0.17763.1' }),
      entry('att', { os: 'unknown', architecture: 'unknown' }, { 'vnd.docker.reference.type': 'attestation-manifest' }),
    ],
  };
  const pick = (p: string | Platform): string => {
    const got = selectManifest(index, p).digest;
    return ['amd64', 'arm64', 'armv6', 'armv7', 'win', 'att'].find((n) => sha256Digest(n) === got) ?? got;
  };

  it('matches os, architecture and variant', () => {
    expect(pick('linux/amd64')).toBe('amd64');
    expect(pick('linux/arm64')).toBe('arm64');
    expect(pick('linux/arm64/v8')).toBe('arm64');
    expect(pick('linux/arm/v7')).toBe('armv7');
    expect(pick('linux/arm/v6')).toBe('armv6');
    expect(pick('linux/arm')).toBe('armv7');
    expect(pick('windows/amd64')).toBe('win');
    expect(pick({ os: 'linux', architecture: 'arm64', variant: 'v8' })).toBe('arm64');
  });

  it('falls back to compatible variants', () => {
    const only6: ImageIndex = { ...index, manifests: [entry('armv6', { os: 'linux', architecture: 'arm', variant: 'v6' })] };
    expect(selectManifest(only6, 'linux/arm/v7').digest).toBe(sha256Digest('armv6'));
    expect(() => selectManifest(only6, 'linux/arm/v5')).toThrow(OciError);
    const arm64NoVariant: ImageIndex = { ...index, manifests: [entry('a', { os: 'linux', architecture: 'arm64' })] };
    expect(selectManifest(arm64NoVariant, 'linux/arm64/v8').digest).toBe(sha256Digest('a'));
    expect(platformMatches({ os: 'linux', architecture: 'amd64', variant: 'v3' }, { os: 'linux', architecture: 'amd64', variant: 'v2' })).toBe(true);
    expect(platformMatches({ os: 'linux', architecture: 'amd64', variant: 'v2' }, { os: 'linux', architecture: 'amd64', variant: 'v3' })).toBe(false);
  });

  it('never picks attestations and lists what there is when nothing matches', () => {
    expect(() => selectManifest(index, 'linux/s390x')).toThrow(
      /no image for platform linux\/s390x in the index; it has: linux\/amd64, linux\/arm64\/v8, linux\/arm\/v6, linux\/arm\/v7, windows\/amd64$|--platform/,
    );
    try {
      selectManifest(index, 'linux/s390x');
    } catch (e) {
      expect((e as Error).message).not.toContain('unknown');
    }
  });

  it('takes the only entry of an index without platforms', () => {
    const one: ImageIndex = { ...index, manifests: [entry('x')] };
    expect(selectManifest(one, 'linux/amd64').digest).toBe(sha256Digest('x'));
  });
});

describe('normalizeManifest', () => {
  const dockerManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.dockerManifest,
    config: { mediaType: MediaTypes.dockerConfig, size: 7023, digest: sha256Digest('c') },
    layers: [
      { mediaType: MediaTypes.dockerLayerGzip, size: 32654, digest: sha256Digest('l1') },
      { mediaType: MediaTypes.dockerForeignLayerGzip, size: 1, digest: sha256Digest('l2'), urls: ['https://x/y'] },
    ],
  };

  it('turns a Docker manifest into an OCI-shaped one, keeping layer media types', () => {
    const m = normalizeManifest(dockerManifest, MediaTypes.dockerManifest) as OciManifest;
    expect(isImageIndex(m)).toBe(false);
    expect(m.mediaType).toBe(MediaTypes.ociManifest);
    expect(m.config).toEqual({ mediaType: MediaTypes.ociConfig, digest: sha256Digest('c'), size: 7023 });
    expect(m.layers.map((l) => l.mediaType)).toEqual([MediaTypes.dockerLayerGzip, MediaTypes.dockerForeignLayerGzip]);
    expect(m.layers[1]?.urls).toEqual(['https://x/y']);
    expect(Object.keys(m.layers[0] ?? {})).toEqual(['mediaType', 'digest', 'size']);
  });

  it('reads a Docker manifest list, dropping Docker-only platform fields', () => {
    const list = {
      schemaVersion: 2,
      mediaType: MediaTypes.dockerManifestList,
      manifests: [
        {
          mediaType: MediaTypes.dockerManifest,
          size: 7143,
          digest: sha256Digest('m'),
          platform: { architecture: 'ppc64le', os: 'linux', features: ['sse4'] },
        },
      ],
    };
    const idx = normalizeManifest(JSON.stringify(list)) as OciIndex;
    expect(isImageIndex(idx)).toBe(true);
    expect(idx.mediaType).toBe(MediaTypes.ociIndex);
    expect(idx.manifests[0]).toEqual({
      mediaType: MediaTypes.dockerManifest,
      digest: sha256Digest('m'),
      size: 7143,
      platform: { architecture: 'ppc64le', os: 'linux' },
    });
  });

  it('passes OCI documents through, with subject, artifactType and annotations', () => {
    const oci = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociManifest,
      artifactType: 'application/vnd.example+type',
      config: { mediaType: MediaTypes.ociEmpty, digest: sha256Digest('{}'), size: 2, data: 'e30=' },
      layers: [d('x')],
      subject: d('s', MediaTypes.ociManifest),
      annotations: { k: 'v' },
    };
    const m = normalizeManifest(Buffer.from(JSON.stringify(oci))) as OciManifest;
    expect(m).toEqual(oci);
    expect(Object.keys(m)).toEqual(['schemaVersion', 'mediaType', 'artifactType', 'config', 'layers', 'subject', 'annotations']);
  });

  it('infers the kind from the shape when no media type is given', () => {
    const { mediaType: _drop, ...noType } = dockerManifest;
    expect(normalizeManifest(noType).mediaType).toBe(MediaTypes.ociManifest);
    expect(normalizeManifest({ schemaVersion: 2, manifests: [] }).mediaType).toBe(MediaTypes.ociIndex);
  });

  it.each([
    [{ schemaVersion: 1, name: 'x', fsLayers: [] }, undefined, /schema 1 is not supported/],
    [{ schemaVersion: 3 }, undefined, /schemaVersion 3/],
    [dockerManifest, MediaTypes.ociIndex, /served as .*index.* but the document says/],
    [{ schemaVersion: 2, mediaType: 'text/plain' }, undefined, /unsupported manifest media type text\/plain/],
    [{ schemaVersion: 2 }, undefined, /neither an image manifest nor an image index/],
    [{ ...dockerManifest, layers: [{ mediaType: 'x/y', size: 1, digest: 'sha256:ABC' }] }, undefined, /layers\[0\] has an invalid sha256 digest/],
    [{ ...dockerManifest, layers: [{ mediaType: 'x/y', size: -1, digest: sha256Digest('') }] }, undefined, /invalid size -1/],
    ['{not json', undefined, /not valid JSON/],
    [[1, 2], undefined, /must be a JSON object/],
  ])('rejects %j', (doc, mediaType, message) => {
    expect(() => normalizeManifest(doc, mediaType)).toThrow(message);
  });
});
