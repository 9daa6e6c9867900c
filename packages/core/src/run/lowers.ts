// The overlay lower directories: each layer of an image unpacked once into the store, named by
// its chain ID, in overlayfs's own format (a whiteout is a 0/0 character device; an opaque
// directory becomes explicit whiteouts of what the layers below have there, since Node.js cannot
// set the opaque xattr). GNU tar unpacks when it is there (about ten times faster than Node.js's
// per-file calls, and it keeps file capabilities); Kiln's own extractor otherwise.

import { spawn, spawnSync } from 'node:child_process';
import { lstat, readdir, rm } from 'node:fs/promises';
import { join } from 'node:path';
import { Writable } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import { decompress } from '../archive/compression.js';
import type { LayerRecord } from '../contracts/blobs.js';
import type { SandboxSpace } from '../contracts/sandbox-space.js';
import type { BlobFiles, BlobReader } from '../contracts/blobs.js';
import { KilnError } from '../errors.js';
import { OPAQUE_WHITEOUT, WHITEOUT_PREFIX, buildFsIndex, extractLayer, makeWhiteout, parentPath, storedLayer, type LayerSource } from '../layer/index.js';
import { chainIds } from '../oci/digest.js';
import { idMapping } from './user-namespace.js';

export type LowerStore = SandboxSpace & Pick<BlobReader, 'openBlob'> & Pick<BlobFiles, 'blobPath'>;

/** Where a layer's bytes are (streamed, and the blob's path for tar), and how they are compressed. */
export function layerSourceOf(store: LowerStore, layer: LayerRecord): LayerSource & { path: string } {
  return { ...storedLayer(store, layer), path: store.blobPath(layer.digest) };
}

/** The unpacked directory of every layer, bottom first. */
export async function unpackLowers(store: LowerStore, layers: readonly LayerRecord[], signal?: AbortSignal): Promise<string[]> {
  const ids = chainIds(layers.map((l) => l.diffId));
  const dirs: string[] = [];
  for (const [i, layer] of layers.entries()) {
    if (signal?.aborted) throw new KilnError('build interrupted');
    dirs.push(await store.unpackedLayer(ids[i]!, (dir) => unpackLower(store, layers, i, dir, signal)));
  }
  return dirs;
}

let gnuTar: boolean | undefined;

/** GNU tar is on PATH (its safety and its options are what the fast path relies on). */
function haveGnuTar(): boolean {
  gnuTar ??= /GNU tar/.test(spawnSync('tar', ['--version'], { encoding: 'utf8' }).stdout ?? '');
  return gnuTar;
}

async function unpackLower(store: LowerStore, layers: readonly LayerRecord[], i: number, dir: string, signal?: AbortSignal): Promise<void> {
  const src = layerSourceOf(store, layers[i]!);
  const opaque = haveGnuTar() ? await untarWithWhiteouts(src, dir, signal) : (await extractLayer(src.open(), src.compression, dir, { whiteoutFormat: 'overlay' })).opaqueDirs;
  if (opaque.length === 0) return;
  const below = await buildFsIndex(layers.slice(0, i).map((l) => layerSourceOf(store, l)));
  const hidden = new Set(opaque);
  for (const path of below.keys()) {
    if (!hidden.has(parentPath(path))) continue;
    const host = join(dir, path);
    if (!(await lstat(host).catch(() => undefined))) await makeWhiteout(host);
  }
}

/**
 * GNU tar unpacks the layer (numeric owners, exact modes, security.capability; it refuses `..`
 * members, strips leading '/' and never writes through a symlink); then each `.wh.` marker it
 * wrote as a plain file becomes overlayfs's whiteout. Returns the opaque directories.
 */
async function untarWithWhiteouts(src: LayerSource & { path: string }, dir: string, signal?: AbortSignal): Promise<string[]> {
  // A plain tar blob is read by tar itself while the store verifies its digest alongside (both
  // from the page cache); a compressed one is decompressed here and piped in.
  const plain = src.compression === 'none';
  // In a user namespace that maps only root, no other owner can be set: the files stay root's.
  const ids = idMapping();
  const owners = ids.inUserNamespace && ids.uids.length === 1 && ids.uids[0]!.count === 1 ? ['--no-same-owner'] : ['--numeric-owner', '--same-owner'];
  const args = ['-x', '-f', plain ? src.path : '-', '-C', dir, ...owners, '--same-permissions', '--xattrs', '--xattrs-include=security.capability'];
  // An interrupted build kills tar (the store removes the half-unpacked directory).
  const tar = spawn('tar', args, { stdio: [plain ? 'ignore' : 'pipe', 'ignore', 'pipe'], signal });
  let stderr = '';
  tar.stderr!.on('data', (b: Buffer) => (stderr = (stderr + b.toString()).slice(-4096)));
  const exited = new Promise<number>((resolve, reject) => {
    tar.on('error', reject);
    tar.on('close', (code) => resolve(code ?? -1));
  });
  try {
    if (plain) await pipeline(src.open(), new Writable({ write: (_chunk, _enc, done) => done() }));
    else await pipeline(decompress(src.open(), src.compression, { what: 'layers' }), tar.stdin!);
  } catch (err) {
    tar.kill();
    await exited.catch(() => undefined);
    throw err;
  }
  const code = await exited;
  if (code !== 0) throw new KilnError(`cannot unpack a layer for RUN: tar exited with ${code}: ${stderr.trim().split('\n').slice(-3).join('; ')}`);

  const opaque: string[] = [];
  const names = await whiteoutMarkers(dir);
  for (const marker of names) {
    const parent = parentPath(marker);
    const name = marker.slice(parent ? parent.length + 1 : 0);
    await rm(join(dir, marker), { force: true });
    if (name === OPAQUE_WHITEOUT) {
      opaque.push(parent);
      continue;
    }
    if (name.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX)) continue; // other aufs metadata
    const victim = join(dir, parent, name.slice(WHITEOUT_PREFIX.length));
    // The layer also wrote the name: it replaces what was below, no whiteout needed.
    if (!(await lstat(victim).catch(() => undefined))) await makeWhiteout(victim);
  }
  return opaque;
}

/**
 * The `.wh.` files below `dir` (relative paths). Walked here rather than with readdir's
 * `recursive`, which in Node.js 20 follows symbolic links to directories: an image's
 * `/var/run -> /run` would lead it into the host's /run.
 */
async function whiteoutMarkers(dir: string, prefix = ''): Promise<string[]> {
  const found: string[] = [];
  for (const entry of await readdir(join(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.name.startsWith(WHITEOUT_PREFIX)) found.push(path);
    else if (entry.isDirectory()) found.push(...(await whiteoutMarkers(dir, path)));
  }
  return found;
}
