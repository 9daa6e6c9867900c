// The Action's inputs (see action.yml), read through a getter so that tests can hand in a plain
// map. Every problem names the input and says what to write instead.

import { KilnError, formatPlatform, parsePlatformList } from '@kiln/core';
import { splitInputList } from './tags/index.js';

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
  /** How the layers are stored, cached and pushed. */
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
  summary: boolean;
  exportRuntimeEnv: boolean;
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
    summary: booleanInput(get, 'summary', true),
    exportRuntimeEnv: booleanInput(get, 'export-runtime-env', false),
  };
}
