/**
 * The differential build corpus: one folder per case, built with `docker build` and with Kiln.
 *
 * A case folder holds:
 *   Dockerfile        the Dockerfile (or another name given by case.json "dockerfile")
 *   case.json         optional: { description, buildArgs, target, dockerfile, dockerDockerfile, prebuild, notes }
 *   files.json        optional: context files to create with exact modes, owners and contents
 *                     (git keeps neither modes other than 644/755, nor owners, nor empty dirs)
 *   anything else     committed context files, copied as 0644 (0755 if executable), dirs 0755
 * case.json and files.json are not part of the build context. After materializing, every
 * context entry's mtime is set to CONTEXT_MTIME so that two materializations are identical.
 *
 * files.json is an array of FileSpec:
 *   { "path": "a/b.txt", "content": "text" }                   file 0644 root:root
 *   { "path": "x", "base64": "AAEC", "mode": "4755", "uid": 1000, "gid": 1000 }
 *   { "path": "d", "type": "dir", "mode": "0700" }
 *   { "path": "l", "type": "symlink", "target": "a/b.txt" }
 *   { "path": "h", "type": "hardlink", "target": "a/b.txt" }    (target: path under the same root)
 *   { "path": "t.tar", "type": "tar" | "tar.gz", "entries": [FileSpec...], "mode": "0644" }
 * Archives are made with GNU tar (--numeric-owner --sort=name --mtime=@CONTEXT_MTIME, members
 * named without a leading "./" and no root entry) and gzip from node:zlib, so they are byte-stable.
 */
import { spawnSync } from 'node:child_process';
import {
  chmodSync, copyFileSync, existsSync, lchownSync, linkSync, lstatSync, lutimesSync, mkdirSync, readdirSync, readFileSync, readlinkSync,
  rmSync, symlinkSync, writeFileSync,
} from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gzipSync } from 'node:zlib';

export const corpusDir = dirname(fileURLToPath(import.meta.url));

/** mtime given to every materialized context entry and archive member (2020-01-01T00:00:00Z). */
export const CONTEXT_MTIME = 1577836800;

export interface FileSpec {
  path: string;
  type?: 'file' | 'dir' | 'symlink' | 'hardlink' | 'tar' | 'tar.gz';
  /** Octal permission bits including setuid/setgid/sticky, e.g. "0600", "4755". */
  mode?: string;
  content?: string;
  base64?: string;
  /** Symlink target (as stored), or a hardlink's target path relative to the root being made. */
  target?: string;
  uid?: number;
  gid?: number;
  /** Archive members (for tar and tar.gz). */
  entries?: FileSpec[];
}

export interface PrebuildSpec {
  /** Dockerfile for the prerequisite image, relative to the context. */
  dockerfile: string;
  /** Tag the result must get: later FROM / COPY --from refer to it. */
  tag: string;
  buildArgs?: Record<string, string>;
  target?: string;
}

export interface CaseSpec {
  description?: string;
  buildArgs?: Record<string, string>;
  target?: string;
  /** Dockerfile path relative to the context (default "Dockerfile"). */
  dockerfile?: string;
  /**
   * What `docker build` builds instead of `dockerfile` (relative to the context), for syntax the
   * test dockerd's built-in frontend (BuildKit in docker 20.10) does not have: heredocs and
   * `RUN --network`. It must say the same thing in the older syntax, exactly as BuildKit
   * translates it (a heredoc RUN as the exec form of SHELL with the script), so the two images must
   * still be equal. Kiln builds `dockerfile`.
   */
  dockerDockerfile?: string;
  /**
   * How many more layers `dockerDockerfile` makes than Kiln's build of `dockerfile` (a step
   * docker 20.10 needs to end with the same files, e.g. removing the mount points it leaves):
   * the layer counts must then differ by exactly this.
   */
  dockerExtraLayers?: number;
  /** Images to build (same context) before the case itself, e.g. an ONBUILD base image. */
  prebuild?: PrebuildSpec[];
  /** What docker does here that a reimplementation might not expect. */
  notes?: string;
}

export interface MaterializedCase {
  name: string;
  caseDir: string;
  /** The build context, with exact modes, owners and mtimes. */
  contextDir: string;
  /** Absolute path of the Dockerfile (inside contextDir). */
  dockerfile: string;
  /** Absolute path of the Dockerfile `docker build` gets, when it is another (case.json dockerDockerfile). */
  dockerDockerfile?: string;
  dockerExtraLayers: number;
  buildArgs: Record<string, string>;
  target?: string;
  description: string;
  notes?: string;
  /** Prerequisite builds with absolute Dockerfile paths; build them in order, same context. */
  prebuild: (PrebuildSpec & { dockerfile: string })[];
}

/** Case folders of the corpus (those holding a Dockerfile or a case.json), sorted by name. */
export function listCases(dir: string = corpusDir): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .filter((d) => d.isDirectory() && (existsSync(join(dir, d.name, 'Dockerfile')) || existsSync(join(dir, d.name, 'case.json'))))
    .map((d) => join(dir, d.name))
    .sort();
}

export function readCaseSpec(caseDir: string): CaseSpec {
  const f = join(caseDir, 'case.json');
  return existsSync(f) ? (JSON.parse(readFileSync(f, 'utf8')) as CaseSpec) : {};
}

const CASE_META = new Set(['case.json', 'files.json']);

function copyCommitted(src: string, dst: string, top: boolean): void {
  for (const ent of readdirSync(src, { withFileTypes: true })) {
    if (top && CASE_META.has(ent.name)) continue;
    const s = join(src, ent.name);
    const d = join(dst, ent.name);
    if (ent.isSymbolicLink()) {
      symlinkSync(readlinkSync(s), d);
    } else if (ent.isDirectory()) {
      mkdirSync(d);
      chmodSync(d, 0o755);
      copyCommitted(s, d, false);
    } else if (ent.isFile()) {
      copyFileSync(s, d);
      chmodSync(d, lstatSync(s).mode & 0o111 ? 0o755 : 0o644);
    }
  }
}

function parseMode(m: string | undefined, dflt: number): number {
  if (m === undefined) return dflt;
  if (!/^[0-7]{3,4}$/.test(m)) throw new Error(`files.json: bad mode ${JSON.stringify(m)} (want octal like "0644")`);
  return parseInt(m, 8);
}

function safeJoin(root: string, p: string): string {
  const full = resolve(root, p);
  if (full !== root && !full.startsWith(root + '/')) throw new Error(`files.json: path escapes the context: ${p}`);
  return full;
}

/** Creates the specs under root, then applies owners and modes. */
function createSpecs(root: string, specs: FileSpec[], scratch: string): void {
  const fixups: { path: string; mode?: number; uid: number; gid: number; symlink: boolean }[] = [];
  for (const spec of specs) {
    const full = safeJoin(root, spec.path);
    mkdirSync(dirname(full), { recursive: true });
    const type = spec.type ?? 'file';
    // Replace what is there, except that a dir spec keeps an existing dir's contents.
    if (!(type === 'dir' && existsSync(full) && lstatSync(full).isDirectory())) rmSync(full, { recursive: true, force: true });
    if (type === 'dir') {
      mkdirSync(full, { recursive: true });
      fixups.push({ path: full, mode: parseMode(spec.mode, 0o755), uid: spec.uid ?? 0, gid: spec.gid ?? 0, symlink: false });
    } else if (type === 'symlink') {
      if (spec.target === undefined) throw new Error(`files.json: symlink ${spec.path} needs "target"`);
      symlinkSync(spec.target, full);
      fixups.push({ path: full, uid: spec.uid ?? 0, gid: spec.gid ?? 0, symlink: true });
    } else if (type === 'hardlink') {
      if (spec.target === undefined) throw new Error(`files.json: hardlink ${spec.path} needs "target"`);
      linkSync(safeJoin(root, spec.target), full);
    } else if (type === 'tar' || type === 'tar.gz') {
      writeFileSync(full, makeArchive(spec, scratch));
      fixups.push({ path: full, mode: parseMode(spec.mode, 0o644), uid: spec.uid ?? 0, gid: spec.gid ?? 0, symlink: false });
    } else {
      const body = spec.base64 !== undefined ? Buffer.from(spec.base64, 'base64') : Buffer.from(spec.content ?? '', 'utf8');
      writeFileSync(full, body);
      fixups.push({ path: full, mode: parseMode(spec.mode, 0o644), uid: spec.uid ?? 0, gid: spec.gid ?? 0, symlink: false });
    }
  }
  // Owners first (chown clears setuid/setgid), then modes; deepest first so restrictive dirs do not matter.
  fixups.sort((a, b) => b.path.length - a.path.length);
  for (const f of fixups) {
    lchownSync(f.path, f.uid, f.gid);
    if (!f.symlink && f.mode !== undefined) chmodSync(f.path, f.mode);
  }
}

let archiveSeq = 0;
function makeArchive(spec: FileSpec, scratch: string): Buffer {
  const staging = join(scratch, `archive-${process.pid}-${++archiveSeq}`);
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  createSpecs(staging, spec.entries ?? [], scratch);
  setMtimes(staging);
  const members = readdirSync(staging).sort();
  const r = spawnSync(
    'tar',
    ['-C', staging, '--numeric-owner', '--sort=name', `--mtime=@${CONTEXT_MTIME}`, '--format=gnu', '-cf', '-', '--', ...members],
    { maxBuffer: 256 * 1024 * 1024 },
  );
  if (r.status !== 0) throw new Error(`tar failed for ${spec.path}: ${r.stderr?.toString()}`);
  rmSync(staging, { recursive: true, force: true });
  return spec.type === 'tar.gz' ? gzipSync(r.stdout, { level: 9 }) : r.stdout;
}

function setMtimes(dir: string): void {
  for (const ent of readdirSync(dir, { withFileTypes: true })) {
    const p = join(dir, ent.name);
    if (ent.isDirectory()) setMtimes(p);
    lutimesSync(p, CONTEXT_MTIME, CONTEXT_MTIME);
  }
  lutimesSync(dir, CONTEXT_MTIME, CONTEXT_MTIME);
}

/**
 * Materializes a case into `tmp/<case name>` (replaced if present): the build context with exact
 * modes/owners/mtimes, plus the build options from case.json.
 */
export function materializeCase(caseDir: string, tmp: string): MaterializedCase {
  const name = basename(caseDir);
  const spec = readCaseSpec(caseDir);
  const contextDir = join(resolve(tmp), name);
  rmSync(contextDir, { recursive: true, force: true });
  mkdirSync(contextDir, { recursive: true });
  chmodSync(contextDir, 0o755);
  copyCommitted(caseDir, contextDir, true);
  const filesJson = join(caseDir, 'files.json');
  if (existsSync(filesJson)) {
    const specs = JSON.parse(readFileSync(filesJson, 'utf8')) as FileSpec[];
    const scratch = join(resolve(tmp), `.${name}.scratch`);
    createSpecs(contextDir, specs, scratch);
    rmSync(scratch, { recursive: true, force: true });
  }
  setMtimes(contextDir);
  const dockerfile = safeJoin(contextDir, spec.dockerfile ?? 'Dockerfile');
  if (!existsSync(dockerfile)) throw new Error(`case ${name}: no ${spec.dockerfile ?? 'Dockerfile'}`);
  return {
    name,
    caseDir,
    contextDir,
    dockerfile,
    dockerDockerfile: spec.dockerDockerfile === undefined ? undefined : safeJoin(contextDir, spec.dockerDockerfile),
    dockerExtraLayers: spec.dockerExtraLayers ?? 0,
    buildArgs: spec.buildArgs ?? {},
    target: spec.target,
    description: spec.description ?? '',
    notes: spec.notes,
    prebuild: (spec.prebuild ?? []).map((p) => ({ ...p, dockerfile: safeJoin(contextDir, p.dockerfile) })),
  };
}
