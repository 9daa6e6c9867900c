// The Action's inputs (see action.yml), read through a getter so that tests can hand in a plain
// map. Every problem names the input and says what to write instead.

import { KilnError, formatPlatform, parsePlatformList } from '@kiln/core';
import { splitInputList } from './tags/index.js';
import { DEFAULT_CACHE_MOUNTS_LIMIT_MIB } from './cache-mounts.js';

export interface ActionInputs {
  context: string;
  /** The Dockerfile; undefined means {context}/Dockerfile. */
  file: string | undefined;
  buildArgs: Record<string, string>;
  target: string | undefined;
  /** `KEY=VALUE` lines, merged over the generated OCI labels. */
  labels: string[];
  /** `KEY=VALUE` lines, merged over the generated OCI annotations. */
  annotations: string[];
  platform: string | undefined;
  push: boolean;
  noCache: boolean;
  /** How plain layers are pushed (the store and the layer cache keep them plain). */
  compression: 'gzip' | 'none';
  gzipLevel: number;
  /** docker/metadata-action's images: names the tag rules expand to. */
  images: string[];
  /** Tag rules (with images) or full references (without). */
  tags: string[];
  flavor: string[];
  login: { registry: string; username: string; password: string } | undefined;
  cache: boolean;
  cacheKey: string | undefined;
  /** Carry RUN cache mounts across workflow runs (with the layer cache), up to cacheMountsLimit MiB. */
  cacheMounts: boolean;
  cacheMountsLimit: number;
  summary: boolean;
  exportRuntimeEnv: boolean;
  /** RUN --mount=type=secret values: given as literals (`secrets`), by file (`secret-files`), by variable (`secret-envs`). */
  secrets: { values: Record<string, string>; files: Record<string, string>; envs: Record<string, string> };
  /** RUN --mount=type=ssh agents: `default` or `ID=SOCKET`. */
  ssh: string[];
  /** Entitlements (build-push-action's `allow`): `security.insecure`, `network.host`. */
  allow: string[];
}

export type InputGetter = (name: string) => string;

/** YAML 1.2 core booleans, as @actions/core's getBooleanInput takes them. */
export function booleanInput(get: InputGetter, name: string, fallback: boolean): boolean {
  const value = get(name).trim();
  if (value === '') return fallback;
  if (['true', 'True', 'TRUE'].includes(value)) return true;
  if (['false', 'False', 'FALSE'].includes(value)) return false;
  throw new KilnError(`input ${name}: "${value}" is not a boolean; write true or false`);
}

function keyValueLines(get: InputGetter, name: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const line of splitInputList(get(name))) {
    const eq = line.indexOf('=');
    if (eq <= 0) throw new KilnError(`input ${name}: "${line}" is not KEY=VALUE; write one KEY=VALUE per line`);
    out[line.slice(0, eq)] = line.slice(eq + 1);
  }
  return out;
}

/**
 * build-push-action's `secrets`: one `ID=VALUE` per line; a value is everything after the first
 * '=' (it may hold more), and a line in double quotes may hold a value over several lines.
 */
function secretLines(get: InputGetter, name: string): Record<string, string> {
  const text = get(name);
  const entries: string[] = [];
  const lineEnd = (from: number) => {
    const nl = text.indexOf('\n', from);
    return nl < 0 ? text.length : nl;
  };
  for (let i = 0; i < text.length; ) {
    if (/\s/.test(text[i]!)) {
      i++;
      continue;
    }
    let entry = '';
    if (text[i] === '"') {
      // "ID=VALUE" over several lines; "" is a quote inside.
      for (i++; ; ) {
        if (i >= text.length) throw new KilnError(`input ${name}: a quoted entry has no closing double quote`);
        if (text[i] === '"' && text[i + 1] === '"') {
          entry += '"';
          i += 2;
        } else if (text[i] === '"') {
          i++;
          break;
        } else entry += text[i++];
      }
      if (text.slice(i, lineEnd(i)).trim() !== '') throw new KilnError(`input ${name}: text after a quoted entry; put one entry per line`);
    } else {
      entry = text.slice(i, lineEnd(i)).trim();
    }
    i = lineEnd(i) + 1;
    const eq = entry.indexOf('=');
    // The message never shows the line: it holds a secret.
    if (eq <= 0) throw new KilnError(`input ${name}: an entry is not ID=VALUE; write one ID=VALUE per line`);
    entries.push(entry);
  }
  return Object.fromEntries(entries.map((e) => [e.slice(0, e.indexOf('=')), e.slice(e.indexOf('=') + 1)]));
}

function mebibytes(get: InputGetter, name: string, fallback: number): number {
  const value = get(name).trim();
  if (value === '') return fallback;
  if (!/^\d+$/.test(value) || Number(value) < 1) throw new KilnError(`input ${name}: "${value}" is not a number of MiB (e.g. 1024)`);
  return Number(value);
}

function optional(get: InputGetter, name: string): string | undefined {
  const value = get(name).trim();
  return value === '' ? undefined : value;
}

/**
 * `gzip` (level 1, as crane and ko publish: 2.5x faster than level 6 for ~10% more bytes),
 * `gzip:LEVEL` or `none`.
 */
function compressionInput(get: InputGetter): { compression: 'gzip' | 'none'; gzipLevel: number } {
  const value = get('compression').trim() || 'gzip';
  if (value === 'none') return { compression: 'none', gzipLevel: DEFAULT_GZIP_LEVEL };
  const m = /^gzip(?::([0-9]))?$/.exec(value);
  if (!m) throw new KilnError(`input compression: "${value}" is not gzip, gzip:LEVEL (0-9) or none`);
  return { compression: 'gzip', gzipLevel: m[1] === undefined ? DEFAULT_GZIP_LEVEL : Number(m[1]) };
}

export const DEFAULT_GZIP_LEVEL = 1;

export function readInputs(get: InputGetter): ActionInputs {
  // build-push-action takes a list (commas or lines); several platforms build one image index.
  const platformList = splitInputList(get('platforms')).flatMap((line) => line.split(',').map((p) => p.trim()).filter(Boolean));
  let platforms: string[];
  try {
    platforms = parsePlatformList(platformList.join(',')).map(formatPlatform);
  } catch (e) {
    throw new KilnError(`input platforms: ${(e as Error).message}`);
  }
  const username = optional(get, 'username');
  const password = get('password');
  if (username !== undefined && password === '') throw new KilnError('input username is set but password is empty; set password (a token) too');
  if (username === undefined && password !== '') throw new KilnError('input password is set but username is empty; set username too');
  return {
    context: optional(get, 'context') ?? '.',
    file: optional(get, 'file'),
    buildArgs: keyValueLines(get, 'build-args'),
    target: optional(get, 'target'),
    labels: splitInputList(get('labels')),
    annotations: splitInputList(get('annotations')),
    platform: platforms.length ? platforms.join(',') : undefined,
    push: booleanInput(get, 'push', false),
    noCache: booleanInput(get, 'no-cache', false),
    ...compressionInput(get),
    images: splitInputList(get('images')),
    tags: splitInputList(get('tags')),
    flavor: splitInputList(get('flavor')),
    login: username !== undefined ? { registry: optional(get, 'registry') ?? 'docker.io', username, password } : undefined,
    cache: booleanInput(get, 'cache', true),
    cacheKey: optional(get, 'cache-key'),
    cacheMounts: booleanInput(get, 'cache-mounts', true),
    cacheMountsLimit: mebibytes(get, 'cache-mounts-limit', DEFAULT_CACHE_MOUNTS_LIMIT_MIB),
    summary: booleanInput(get, 'summary', true),
    exportRuntimeEnv: booleanInput(get, 'export-runtime-env', false),
    secrets: {
      values: secretLines(get, 'secrets'),
      files: keyValueLines(get, 'secret-files'),
      envs: keyValueLines(get, 'secret-envs'),
    },
    ssh: splitInputList(get('ssh')),
    allow: splitInputList(get('allow')),
  };
}
