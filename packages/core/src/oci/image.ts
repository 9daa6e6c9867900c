// Building and reading image documents: manifests and indexes in the OCI shape, with their fields
// in the spec's order so the bytes (and so the digests) depend only on the content; platforms
// (host, parsing, matching); and Docker v2 schema 2 documents normalized to the OCI shape.

import { KilnError } from '../errors.js';
import { isDigest } from './digest.js';
import { MediaTypes, isIndex, isManifest } from './media-types.js';
import type { Descriptor, ImageIndex, ImageManifest, Platform } from './types.js';

/** A malformed or unsupported image document, image layout or archive. */
export class OciError extends KilnError {}

/** A descriptor with the OCI 1.1 fields that `Descriptor` leaves out. */
export interface OciDescriptor extends Descriptor {
  /** Base64 of the content, embedded. */
  data?: string;
  artifactType?: string;
}

/** An image manifest with the OCI 1.1 fields that `ImageManifest` leaves out. */
export interface OciManifest extends ImageManifest {
  artifactType?: string;
  subject?: Descriptor;
}

/** An image index with the OCI 1.1 fields that `ImageIndex` leaves out. */
export interface OciIndex extends ImageIndex {
  artifactType?: string;
  subject?: Descriptor;
}

/** Annotation naming an image in an OCI layout's index.json. */
export const REF_NAME_ANNOTATION = 'org.opencontainers.image.ref.name';
/** Annotation containerd and Docker 25+ put next to the ref name: the full image name. */
export const CONTAINERD_IMAGE_NAME_ANNOTATION = 'io.containerd.image.name';

// ---------------------------------------------------------------------------
// Building documents

/** Keys sorted, so that the same annotations always serialize to the same bytes. */
function sortedRecord(record: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const key of Object.keys(record).sort()) out[key] = record[key] as string;
  return out;
}

function cleanPlatform(p: Platform & { 'os.features'?: string[] }): Platform {
  // Field order of the image-spec's Go types: architecture, os, os.version, os.features, variant.
  const out: Platform & { 'os.features'?: string[] } = { architecture: p.architecture, os: p.os };
  if (p['os.version'] !== undefined && p['os.version'] !== '') out['os.version'] = p['os.version'];
  if (p['os.features'] !== undefined && p['os.features'].length > 0) out['os.features'] = [...p['os.features']];
  if (p.variant !== undefined && p.variant !== '') out.variant = p.variant;
  return out;
}

/**
 * A descriptor with only the spec's fields, in the spec's order (mediaType, digest, size, urls,
 * annotations, data, platform, artifactType); empty optional fields are dropped.
 */
export function descriptor(d: OciDescriptor): OciDescriptor {
  const out: OciDescriptor = { mediaType: d.mediaType, digest: d.digest, size: d.size };
  if (d.urls !== undefined && d.urls.length > 0) out.urls = [...d.urls];
  if (d.annotations !== undefined && Object.keys(d.annotations).length > 0) out.annotations = sortedRecord(d.annotations);
  if (d.data !== undefined) out.data = d.data;
  if (d.platform !== undefined) out.platform = cleanPlatform(d.platform);
  if (d.artifactType !== undefined) out.artifactType = d.artifactType;
  return out;
}

/** An OCI image manifest, fields in spec order (schemaVersion, mediaType, config, layers, annotations). */
export function manifestFor(
  configDesc: Descriptor,
  layers: readonly Descriptor[],
  annotations?: Record<string, string>,
): OciManifest {
  const m: OciManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config: descriptor(configDesc),
    layers: layers.map((l) => descriptor(l)),
  };
  if (annotations !== undefined && Object.keys(annotations).length > 0) m.annotations = sortedRecord(annotations);
  return m;
}

/** An OCI image index over `manifests` (kept in the given order), fields in spec order. */
export function indexFor(manifests: readonly Descriptor[], annotations?: Record<string, string>): OciIndex {
  const idx: OciIndex = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociIndex,
    manifests: manifests.map((d) => descriptor(d)),
  };
  if (annotations !== undefined && Object.keys(annotations).length > 0) idx.annotations = sortedRecord(annotations);
  return idx;
}

// ---------------------------------------------------------------------------
// Platforms

const ARCH_FROM_NODE: Readonly<Record<string, string>> = {
  x64: 'amd64',
  arm64: 'arm64',
  arm: 'arm',
  ia32: '386',
  ppc64: 'ppc64le',
  s390x: 's390x',
  riscv64: 'riscv64',
  loong64: 'loong64',
  mips: 'mips',
  mipsel: 'mipsle',
};

const OS_FROM_NODE: Readonly<Record<string, string>> = {
  linux: 'linux',
  win32: 'windows',
  darwin: 'darwin',
  freebsd: 'freebsd',
  openbsd: 'openbsd',
  sunos: 'solaris',
  aix: 'aix',
  android: 'android',
};

/**
 * The platform Node runs on, in OCI terms (GOOS/GOARCH names): x64 -> amd64, arm64 -> arm64 v8,
 * arm -> arm v6/v7 (from the build's arm_version), ia32 -> 386, ppc64 -> ppc64le, s390x -> s390x.
 * The OS is reported as it is (darwin on a Mac); images to run there are usually linux ones.
 * Parameters exist for tests; they default to the running process.
 */
export function hostPlatform(
  arch: string = process.arch,
  platform: string = process.platform,
  armVersion: unknown = (process.config.variables as unknown as Record<string, unknown>)['arm_version'],
): Platform {
  const architecture = ARCH_FROM_NODE[arch] ?? arch;
  const os = OS_FROM_NODE[platform] ?? platform;
  const p: Platform = { architecture, os };
  if (architecture === 'arm64') p.variant = 'v8';
  else if (architecture === 'arm') {
    const v = typeof armVersion === 'number' || typeof armVersion === 'string' ? String(armVersion) : '';
    p.variant = /^[5-8]$/.test(v) ? `v${v}` : 'v7';
  }
  return p;
}

/** Architecture aliases people type, normalized as containerd does (with the variant they imply). */
const ARCH_ALIASES: Readonly<Record<string, { architecture: string; variant?: string }>> = {
  x86_64: { architecture: 'amd64' },
  'x86-64': { architecture: 'amd64' },
  aarch64: { architecture: 'arm64' },
  armhf: { architecture: 'arm', variant: 'v7' },
  armel: { architecture: 'arm', variant: 'v6' },
  i386: { architecture: '386' },
  i686: { architecture: '386' },
};

const PLATFORM_PART = /^[a-z0-9][a-z0-9._-]*$/;

/**
 * Parses `os/arch[/variant]` ('linux/amd64', 'linux/arm64/v8', 'linux/arm/v7'). Case is folded,
 * and common aliases are normalized (x86_64 -> amd64, aarch64 -> arm64, armhf -> arm/v7).
 * Throws OciError with an example of the expected form.
 */
export function parsePlatform(spec: string): Platform {
  const fail = (why: string): never => {
    throw new OciError(
      `invalid platform ${JSON.stringify(spec)}: ${why}; expected os/arch[/variant], e.g. linux/amd64 or linux/arm64/v8`,
    );
  };
  const trimmed = spec.trim();
  if (trimmed === '') fail('it is empty');
  const parts = trimmed.toLowerCase().split('/');
  if (parts.length < 2) fail('the architecture is missing');
  if (parts.length > 3) fail(`it has ${parts.length} parts`);
  const [os = '', arch = '', variant] = parts;
  if (!PLATFORM_PART.test(os)) fail(`${JSON.stringify(os)} is not an OS name`);
  if (!PLATFORM_PART.test(arch)) fail(`${JSON.stringify(arch)} is not an architecture name`);
  if (variant !== undefined && !PLATFORM_PART.test(variant)) fail(`${JSON.stringify(variant)} is not a variant`);
  const alias = ARCH_ALIASES[arch];
  const p: Platform = { architecture: alias?.architecture ?? arch, os: os === 'macos' ? 'darwin' : os };
  const v = variant ?? alias?.variant;
  if (v !== undefined) p.variant = v;
  return p;
}

/** 'linux/arm64/v8', 'linux/amd64'. */
export function formatPlatform(p: Platform): string {
  return p.variant ? `${p.os}/${p.architecture}/${p.variant}` : `${p.os}/${p.architecture}`;
}

/**
 * The variants that can run where `wanted` runs, best first, as containerd orders them: arm v7
 * also runs v6 and v5 images, amd64 v3 runs v2 and v1, and arm64 'v8' and '' are the same thing.
 * '' stands for "no variant given".
 */
function compatibleVariants(architecture: string, wanted: string | undefined): string[] {
  const v = wanted ?? '';
  const ladder = (max: number, min: number): string[] => {
    const out: string[] = [];
    for (let i = max; i >= min; i--) out.push(`v${i}`);
    return out;
  };
  if (architecture === 'arm64') {
    if (v === '') return ['', 'v8'];
    const n = /^v8(?:\.(\d+))?$/.exec(v);
    if (!n) return [v];
    const out = [v];
    for (let i = Number(n[1] ?? 0) - 1; i >= 1; i--) out.push(`v8.${i}`);
    if (v !== 'v8') out.push('v8');
    out.push('');
    return out;
  }
  if (architecture === 'arm') {
    const n = /^v([5-8])$/.exec(v === '' ? 'v7' : v);
    return n ? [...(v === '' ? [''] : []), ...ladder(Number(n[1]), 5)] : [v];
  }
  if (architecture === 'amd64') {
    const n = /^v([1-4])$/.exec(v === '' ? 'v1' : v);
    return n ? [...(v === '' ? [''] : []), ...ladder(Number(n[1]), 1), ''].filter((x, i, a) => a.indexOf(x) === i) : [v];
  }
  return [v];
}

/** Whether an image for `candidate` runs on `wanted` (same OS and architecture, compatible variant). */
export function platformMatches(wanted: Platform, candidate: Platform): boolean {
  return platformRank(wanted, candidate) !== undefined;
}

/** Lower is better; undefined when the candidate does not run on the wanted platform. */
function platformRank(wanted: Platform, candidate: Platform): number | undefined {
  const w = normalizePlatformNames(wanted);
  const c = normalizePlatformNames(candidate);
  if (w.os !== c.os || w.architecture !== c.architecture) return undefined;
  if (w['os.version'] && c['os.version'] && w['os.version'] !== c['os.version']) return undefined;
  const variants = compatibleVariants(w.architecture, w.variant);
  const i = variants.indexOf(c.variant ?? '');
  if (i >= 0) return i;
  // No variant asked for (other than the arm ladders above): any variant will do, after exact ones.
  if ((w.variant ?? '') === '' && w.architecture !== 'arm') return variants.length;
  return undefined;
}

function normalizePlatformNames(p: Platform): Platform {
  const arch = p.architecture.toLowerCase();
  const alias = ARCH_ALIASES[arch];
  const out: Platform = { architecture: alias?.architecture ?? arch, os: p.os.toLowerCase() };
  // containerd's defaults: arm means arm/v7 and arm64 means arm64/v8 when no variant is given.
  const variant = p.variant || alias?.variant || (out.architecture === 'arm' ? 'v7' : out.architecture === 'arm64' ? 'v8' : '');
  if (variant) out.variant = variant.toLowerCase();
  if (p['os.version']) out['os.version'] = p['os.version'];
  return out;
}

/** Whether an index entry is an attestation or other non-runnable entry (BuildKit's unknown/unknown). */
function isAttestation(d: Descriptor): boolean {
  return (
    d.annotations?.['vnd.docker.reference.type'] === 'attestation-manifest' ||
    (d.platform?.os === 'unknown' && d.platform.architecture === 'unknown')
  );
}

/**
 * The entry of an index to use on `platform` (a Platform or 'os/arch[/variant]'): same OS and
 * architecture, the best compatible variant (arm64 '' = v8; arm v7 runs v6/v5; amd64 v3 runs
 * v2/v1); on a tie the first entry. Entries without a platform match only when they are the only
 * image in the index. Throws OciError listing what the index offers when nothing matches.
 */
export function selectManifest(index: ImageIndex, platform: Platform | string): Descriptor {
  const wanted = typeof platform === 'string' ? parsePlatform(platform) : platform;
  const images = index.manifests.filter((d) => !isAttestation(d));
  let best: { d: Descriptor; rank: number } | undefined;
  for (const d of images) {
    if (d.platform === undefined) continue;
    const rank = platformRank(wanted, d.platform);
    if (rank !== undefined && (best === undefined || rank < best.rank)) best = { d, rank };
  }
  if (best) return best.d;
  const only = images[0];
  if (images.length === 1 && only !== undefined && only.platform === undefined) return only;
  const offered = images.map((d) => (d.platform ? formatPlatform(d.platform) : `(no platform) ${d.digest}`));
  throw new OciError(
    `no image for platform ${formatPlatform(wanted)} in the index` +
      (offered.length > 0 ? `; it has: ${offered.join(', ')}` : ' (it lists no images)') +
      '; choose one of those with --platform',
  );
}

// ---------------------------------------------------------------------------
// Normalizing documents read from a registry, a layout or an archive

const DOCKER_TO_OCI_CONFIG: Readonly<Record<string, string>> = {
  [MediaTypes.dockerConfig]: MediaTypes.ociConfig,
};

type Json = Record<string, unknown>;

function isObject(v: unknown): v is Json {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function readStringRecord(v: unknown, what: string): Record<string, string> | undefined {
  if (v === undefined || v === null) return undefined;
  if (!isObject(v)) throw new OciError(`${what} must be an object of strings`);
  const out: Record<string, string> = {};
  for (const [k, val] of Object.entries(v)) {
    if (typeof val !== 'string') throw new OciError(`${what}[${JSON.stringify(k)}] must be a string`);
    out[k] = val;
  }
  return out;
}

function readPlatform(v: unknown, what: string): Platform & { 'os.features'?: string[] } {
  if (!isObject(v)) throw new OciError(`${what} must be an object`);
  const { architecture, os, variant } = v;
  if (typeof architecture !== 'string' || typeof os !== 'string') {
    throw new OciError(`${what} needs string "architecture" and "os"`);
  }
  const p: Platform & { 'os.features'?: string[] } = { architecture, os };
  if (typeof v['os.version'] === 'string') p['os.version'] = v['os.version'];
  const features = v['os.features'];
  if (Array.isArray(features) && features.every((f) => typeof f === 'string')) p['os.features'] = features;
  if (typeof variant === 'string') p.variant = variant;
  return p;
}

/** Reads and checks one descriptor from a parsed document. */
export function readDescriptor(v: unknown, what: string): OciDescriptor {
  if (!isObject(v)) throw new OciError(`${what} must be a descriptor object`);
  const { mediaType, digest, size } = v;
  if (typeof mediaType !== 'string' || mediaType === '') throw new OciError(`${what} has no mediaType`);
  if (typeof digest !== 'string' || !/^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+$/.test(digest)) {
    throw new OciError(`${what} has an invalid digest ${JSON.stringify(digest)}`);
  }
  if (digest.startsWith('sha256:') && !isDigest(digest)) {
    throw new OciError(`${what} has an invalid sha256 digest ${JSON.stringify(digest)} (64 lower-case hex digits)`);
  }
  if (typeof size !== 'number' || !Number.isSafeInteger(size) || size < 0) {
    throw new OciError(`${what} has an invalid size ${JSON.stringify(size)}`);
  }
  const d: OciDescriptor = { mediaType, digest, size };
  if (Array.isArray(v.urls)) {
    if (!v.urls.every((u) => typeof u === 'string')) throw new OciError(`${what}.urls must be strings`);
    d.urls = v.urls as string[];
  }
  const annotations = readStringRecord(v.annotations, `${what}.annotations`);
  if (annotations) d.annotations = annotations;
  if (typeof v.data === 'string') d.data = v.data;
  if (v.platform !== undefined && v.platform !== null) d.platform = readPlatform(v.platform, `${what}.platform`);
  if (typeof v.artifactType === 'string') d.artifactType = v.artifactType;
  return descriptor(d);
}

/** Whether a normalized document is an index (rather than a manifest). */
export function isImageIndex(doc: OciManifest | OciIndex): doc is OciIndex {
  return doc.mediaType === MediaTypes.ociIndex;
}

/**
 * Reads a manifest or an index (OCI, or Docker v2 schema 2 manifest / manifest list) and returns
 * it in the OCI shape: OCI top-level mediaType, Docker's config media type replaced by OCI's
 * (the bytes are the same format), descriptor fields in spec order. Layer media types and the
 * media types of an index's children are kept as they were: they describe bytes that are not
 * changed. `mediaType` is what the transport said (Content-Type, a descriptor); when it is
 * undefined or generic the document's own `mediaType` field, then its shape, decides.
 * The digest of the document is of course that of the original bytes, not of the result.
 */
export function normalizeManifest(doc: unknown, mediaType?: string): OciManifest | OciIndex {
  let parsed: unknown = doc;
  if (typeof doc === 'string' || doc instanceof Uint8Array) {
    const text = typeof doc === 'string' ? doc : Buffer.from(doc).toString('utf8');
    try {
      parsed = JSON.parse(text);
    } catch (e) {
      throw new OciError(`image manifest is not valid JSON: ${(e as Error).message}`);
    }
  }
  if (!isObject(parsed)) throw new OciError('image manifest must be a JSON object');
  const v = parsed;
  if (v.schemaVersion === 1) {
    throw new OciError(
      'Docker image manifest schema 1 is not supported (deprecated since 2017); re-push the image with a current Docker or registry',
    );
  }
  if (v.schemaVersion !== 2) throw new OciError(`unsupported manifest schemaVersion ${JSON.stringify(v.schemaVersion)}`);

  const own = typeof v.mediaType === 'string' ? v.mediaType : undefined;
  const given = mediaType !== undefined && (isManifest(mediaType) || isIndex(mediaType)) ? mediaType : undefined;
  if (given !== undefined && own !== undefined && own !== given) {
    throw new OciError(`manifest media type mismatch: served as ${given} but the document says ${own}`);
  }
  let kind: 'manifest' | 'index';
  const mt = given ?? own;
  if (mt !== undefined && isManifest(mt)) kind = 'manifest';
  else if (mt !== undefined && isIndex(mt)) kind = 'index';
  else if (mt !== undefined && mt !== 'application/json') {
    throw new OciError(`unsupported manifest media type ${mt}`);
  } else if (Array.isArray(v.manifests)) kind = 'index';
  else if (isObject(v.config) && Array.isArray(v.layers)) kind = 'manifest';
  else throw new OciError('document is neither an image manifest nor an image index');

  const extra = (out: OciManifest | OciIndex): void => {
    if (typeof v.artifactType === 'string') out.artifactType = v.artifactType;
    if (v.subject !== undefined && v.subject !== null) out.subject = readDescriptor(v.subject, 'subject');
    const annotations = readStringRecord(v.annotations, 'annotations');
    if (annotations && Object.keys(annotations).length > 0) out.annotations = annotations;
  };

  if (kind === 'index') {
    if (!Array.isArray(v.manifests)) throw new OciError('image index has no "manifests" array');
    const idx: OciIndex = {
      schemaVersion: 2,
      mediaType: MediaTypes.ociIndex,
      manifests: v.manifests.map((m, i) => readDescriptor(m, `manifests[${i}]`)),
    };
    extra(idx);
    return reorderIndex(idx);
  }
  if (!isObject(v.config)) throw new OciError('image manifest has no "config" descriptor');
  if (!Array.isArray(v.layers)) throw new OciError('image manifest has no "layers" array');
  const config = readDescriptor(v.config, 'config');
  config.mediaType = DOCKER_TO_OCI_CONFIG[config.mediaType] ?? config.mediaType;
  const m: OciManifest = {
    schemaVersion: 2,
    mediaType: MediaTypes.ociManifest,
    config,
    layers: v.layers.map((l, i) => readDescriptor(l, `layers[${i}]`)),
  };
  extra(m);
  return reorderManifest(m);
}

function reorderManifest(m: OciManifest): OciManifest {
  const out: OciManifest = { schemaVersion: 2, mediaType: m.mediaType } as OciManifest;
  if (m.artifactType !== undefined) out.artifactType = m.artifactType;
  out.config = m.config;
  out.layers = m.layers;
  if (m.subject !== undefined) out.subject = m.subject;
  if (m.annotations !== undefined) out.annotations = m.annotations;
  return out;
}

function reorderIndex(idx: OciIndex): OciIndex {
  const out: OciIndex = { schemaVersion: 2, mediaType: idx.mediaType } as OciIndex;
  if (idx.artifactType !== undefined) out.artifactType = idx.artifactType;
  out.manifests = idx.manifests;
  if (idx.subject !== undefined) out.subject = idx.subject;
  if (idx.annotations !== undefined) out.annotations = idx.annotations;
  return out;
}
