// Validates documents against the OCI image-spec JSON schemas (draft-04, from the shared
// conformance suite) plus the checks upstream's Go validator makes beyond the schema:
// config Env entries are KEY=VALUE, sha256/sha512 digests are lower-case hex of the right length,
// urls are URIs (ajv-formats), embedded `data` is padded standard base64.
//
//   const r = validateOciDocument('application/vnd.oci.image.manifest.v1+json', doc);
//   expect(r.errors).toEqual([]);   // or: assertValidOciDocument(mediaType, doc)
//
// `doc` may be a parsed value, a JSON string or bytes. When the schemas are absent (a plain clone
// without ../shared/conformance), `ociSchemasAvailable()` is false and validation throws; tests
// ask through the OCI_SCHEMAS requirement (helpers/requirements.ts), which fails or skips them.

import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import AjvDraft04 from 'ajv-draft-04';
import addFormatsPlugin from 'ajv-formats';
import { conformanceData, conformanceDir } from './conformance.js';

type ValidateFn = ((doc: unknown) => boolean) & { errors?: { instancePath: string; message?: string }[] | null };
interface AjvLike {
  addSchema(schema: object, key?: string): unknown;
  getSchema(key: string): ValidateFn | undefined;
  errorsText(errors?: unknown): string;
}
type AjvCtor = new (opts: Record<string, unknown>) => AjvLike;

// Both packages are CommonJS with `module.exports = X; X.default = X`; take whichever we got.
const Ajv = ((AjvDraft04 as unknown as { default?: AjvCtor }).default ?? AjvDraft04) as unknown as AjvCtor;
const addFormats = ((addFormatsPlugin as unknown as { default?: unknown }).default ?? addFormatsPlugin) as unknown as (
  ajv: AjvLike,
) => void;

export const OCI_SCHEMA_DIR = join(conformanceDir, 'oci-image-spec', 'schema');

/** The schemas as a test requirement: `itNeeding([OCI_SCHEMAS], ...)`, `haveNow([OCI_SCHEMAS], ...)`. */
export const OCI_SCHEMAS = conformanceData('oci-image-spec');

const BASE = 'https://opencontainers.org/schema/';

/** Schema files, and every id/alias `$ref`s resolve to (as upstream's schema.go registers them). */
const SCHEMA_FILES: Record<string, string[]> = {
  'defs.json': [`${BASE}defs.json`, `${BASE}image/defs.json`, `${BASE}image/descriptor/defs.json`],
  'defs-descriptor.json': [
    `${BASE}image/descriptor/mediaType`,
    `${BASE}defs-descriptor.json`,
    `${BASE}image/defs-descriptor.json`,
  ],
  'content-descriptor.json': [`${BASE}descriptor`, `${BASE}image/content-descriptor.json`],
  'image-manifest-schema.json': [`${BASE}image/manifest`],
  'image-index-schema.json': [`${BASE}image/index`],
  'config-schema.json': [`${BASE}image/config`],
  'image-layout-schema.json': [`${BASE}image/layout`],
};

/** The schema (by id) that validates each media type. */
export const SCHEMA_FOR_MEDIA_TYPE: Readonly<Record<string, string>> = {
  'application/vnd.oci.image.manifest.v1+json': `${BASE}image/manifest`,
  'application/vnd.oci.image.index.v1+json': `${BASE}image/index`,
  'application/vnd.oci.image.config.v1+json': `${BASE}image/config`,
  'application/vnd.oci.descriptor.v1+json': `${BASE}descriptor`,
  'application/vnd.oci.layout.header.v1+json': `${BASE}image/layout`,
};

let ajv: AjvLike | undefined;

export function ociSchemasAvailable(): boolean {
  try {
    readFileSync(join(OCI_SCHEMA_DIR, 'defs.json'));
    return true;
  } catch {
    return false;
  }
}

function getAjv(): AjvLike {
  if (ajv) return ajv;
  const a = new Ajv({ strict: false, allErrors: true, validateFormats: true });
  addFormats(a);
  for (const [file, aliases] of Object.entries(SCHEMA_FILES)) {
    const schema = JSON.parse(readFileSync(join(OCI_SCHEMA_DIR, file), 'utf8')) as Record<string, unknown>;
    // Registered once per id/alias, each copy without nested ids: in draft-04 an `id` beside a
    // `$ref` is ignored (the $ref replaces the whole object), but ajv would rebase the ref on it,
    // and nested ids would clash between the copies. Nothing refers to a nested id.
    const body = withoutIds(schema) as Record<string, unknown>;
    const keys = new Set<string>([...(typeof schema.id === 'string' ? [schema.id] : []), ...aliases]);
    for (const key of keys) a.addSchema({ ...body, id: key });
  }
  ajv = a;
  return a;
}

function withoutIds(v: unknown): unknown {
  if (Array.isArray(v)) return v.map(withoutIds);
  if (typeof v !== 'object' || v === null) return v;
  return Object.fromEntries(
    Object.entries(v as Record<string, unknown>)
      .filter(([k, x]) => !(k === 'id' && typeof x === 'string'))
      .map(([k, x]) => [k, withoutIds(x)]),
  );
}

export interface OciValidationResult {
  valid: boolean;
  errors: string[];
}

const DIGEST_HEX: Readonly<Record<string, number>> = { sha256: 64, sha512: 128 };
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

function isObj(v: unknown): v is Record<string, unknown> {
  return typeof v === 'object' && v !== null && !Array.isArray(v);
}

function checkDescriptor(d: unknown, where: string, errors: string[]): void {
  if (!isObj(d)) return;
  if (typeof d.digest === 'string') {
    const [alg = '', enc = ''] = d.digest.split(':', 2);
    const len = DIGEST_HEX[alg];
    if (len !== undefined && !new RegExp(`^[a-f0-9]{${len}}$`).test(enc)) {
      errors.push(`${where}/digest: ${alg} digest must be ${len} lower-case hex characters`);
    }
  }
  if (typeof d.data === 'string' && !BASE64.test(d.data)) {
    errors.push(`${where}/data: must be padded standard base64`);
  }
}

/** The extra checks upstream's validator makes beyond the JSON schema. */
function extraChecks(mediaType: string, doc: unknown, errors: string[]): void {
  if (!isObj(doc)) return;
  switch (mediaType) {
    case 'application/vnd.oci.descriptor.v1+json':
      checkDescriptor(doc, '', errors);
      break;
    case 'application/vnd.oci.image.manifest.v1+json':
      checkDescriptor(doc.config, '/config', errors);
      checkDescriptor(doc.subject, '/subject', errors);
      if (Array.isArray(doc.layers)) doc.layers.forEach((l, i) => checkDescriptor(l, `/layers/${i}`, errors));
      break;
    case 'application/vnd.oci.image.index.v1+json':
      checkDescriptor(doc.subject, '/subject', errors);
      if (Array.isArray(doc.manifests)) doc.manifests.forEach((m, i) => checkDescriptor(m, `/manifests/${i}`, errors));
      break;
    case 'application/vnd.oci.image.config.v1+json': {
      const env = isObj(doc.config) ? doc.config.Env : undefined;
      if (Array.isArray(env)) {
        env.forEach((e, i) => {
          if (typeof e === 'string' && !/^[^=]+=.*$/.test(e)) errors.push(`/config/Env/${i}: ${JSON.stringify(e)} is not KEY=VALUE`);
        });
      }
      break;
    }
    default:
      break;
  }
}

/** Validates `doc` (value, JSON text or bytes) as `mediaType`. Unparseable JSON is invalid. */
export function validateOciDocument(mediaType: string, doc: unknown): OciValidationResult {
  const schemaId = SCHEMA_FOR_MEDIA_TYPE[mediaType];
  if (schemaId === undefined) throw new Error(`no OCI schema for media type ${mediaType}`);
  let value: unknown = doc;
  if (typeof doc === 'string' || doc instanceof Uint8Array) {
    try {
      value = JSON.parse(typeof doc === 'string' ? doc : Buffer.from(doc).toString('utf8'));
    } catch (e) {
      return { valid: false, errors: [`not valid JSON: ${(e as Error).message}`] };
    }
  }
  const a = getAjv();
  const validate = a.getSchema(schemaId);
  if (!validate) throw new Error(`schema ${schemaId} did not compile`);
  const errors: string[] = [];
  if (!validate(value)) {
    for (const e of validate.errors ?? []) errors.push(`${e.instancePath || '/'}: ${e.message ?? 'invalid'}`);
  }
  extraChecks(mediaType, value, errors);
  return { valid: errors.length === 0, errors };
}

/** Throws with every problem listed when `doc` does not validate as `mediaType`. */
export function assertValidOciDocument(mediaType: string, doc: unknown): void {
  const r = validateOciDocument(mediaType, doc);
  if (!r.valid) throw new Error(`document is not a valid ${mediaType}:\n  ${r.errors.join('\n  ')}`);
}
