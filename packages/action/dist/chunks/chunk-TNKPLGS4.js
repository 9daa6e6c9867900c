import { createRequire as __kilnCreateRequire } from 'node:module';
const require = __kilnCreateRequire(import.meta.url);
var __create = Object.create;
var __defProp = Object.defineProperty;
var __getOwnPropDesc = Object.getOwnPropertyDescriptor;
var __getOwnPropNames = Object.getOwnPropertyNames;
var __getProtoOf = Object.getPrototypeOf;
var __hasOwnProp = Object.prototype.hasOwnProperty;
var __require = /* @__PURE__ */ ((x) => typeof require !== "undefined" ? require : typeof Proxy !== "undefined" ? new Proxy(x, {
  get: (a, b2) => (typeof require !== "undefined" ? require : a)[b2]
}) : x)(function(x) {
  if (typeof require !== "undefined") return require.apply(this, arguments);
  throw Error('Dynamic require of "' + x + '" is not supported');
});
var __commonJS = (cb, mod) => function __require2() {
  try {
    return mod || (0, cb[__getOwnPropNames(cb)[0]])((mod = { exports: {} }).exports, mod), mod.exports;
  } catch (e) {
    throw mod = 0, e;
  }
};
var __export = (target, all) => {
  for (var name in all)
    __defProp(target, name, { get: all[name], enumerable: true });
};
var __copyProps = (to2, from, except, desc) => {
  if (from && typeof from === "object" || typeof from === "function") {
    for (let key of __getOwnPropNames(from))
      if (!__hasOwnProp.call(to2, key) && key !== except)
        __defProp(to2, key, { get: () => from[key], enumerable: !(desc = __getOwnPropDesc(from, key)) || desc.enumerable });
  }
  return to2;
};
var __toESM = (mod, isNodeMode, target) => (target = mod != null ? __create(__getProtoOf(mod)) : {}, __copyProps(
  // If the importer is in node compatibility mode or this is not an ESM
  // file that has been converted to a CommonJS file using a Babel-
  // compatible transform (i.e. "__esModule" has not been set), then set
  // "default" to the CommonJS "module.exports" for node compatibility.
  isNodeMode || !mod || !mod.__esModule ? __defProp(target, "default", { value: mod, enumerable: true }) : target,
  mod
));

// packages/core/dist/errors.js
var KilnError = class extends Error {
  location;
  constructor(message, location) {
    super(location ? `${formatLocation(location)}: ${message}` : message);
    this.location = location;
    this.name = new.target.name;
  }
};
function formatLocation(loc) {
  return `${loc.file}:${loc.line}`;
}

// packages/core/dist/store/store.js
import { AsyncLocalStorage } from "node:async_hooks";

// packages/core/dist/oci/digest.js
import { createHash } from "node:crypto";
var DIGEST = /^sha256:([a-f0-9]{64})$/;
var InvalidDigestError = class extends KilnError {
  digest;
  constructor(digest) {
    super(`invalid digest ${JSON.stringify(digest)}: expected "sha256:" followed by 64 lowercase hex digits`);
    this.digest = digest;
  }
};
function sha256Hex(data) {
  return createHash("sha256").update(data).digest("hex");
}
function sha256Digest(data) {
  return `sha256:${sha256Hex(data)}`;
}
function isDigest(value) {
  return typeof value === "string" && DIGEST.test(value);
}
function digestHex(digest) {
  const m2 = typeof digest === "string" ? DIGEST.exec(digest) : null;
  if (!m2?.[1])
    throw new InvalidDigestError(String(digest));
  return m2[1];
}
function canonicalJson(value) {
  return Buffer.from(JSON.stringify(value));
}
function chainIds(diffIds) {
  const out = [];
  for (const diffId of diffIds) {
    const prev = out[out.length - 1];
    out.push(prev === void 0 ? diffId : sha256Digest(`${prev} ${diffId}`));
  }
  return out;
}

// packages/core/dist/store/store.js
import { createHash as createHash2, randomBytes } from "node:crypto";
import { chmod, lstat, mkdir, mkdtemp, open, readFile, readdir, rename, rm, stat, unlink, utimes, writeFile } from "node:fs/promises";
import { homedir, hostname } from "node:os";
import { basename, dirname, isAbsolute, join, resolve } from "node:path";
import { Readable, Writable } from "node:stream";
import { finished } from "node:stream/promises";

// packages/core/dist/contracts/errors.js
var StoreCorruptionError = class extends KilnError {
  digest;
  path;
  constructor(message, digest, path) {
    super(message);
    this.digest = digest;
    this.path = path;
  }
};
var DigestMismatchError = class extends StoreCorruptionError {
  expected;
  actual;
  constructor(expected, actual, what, path) {
    super(`digest mismatch for ${what}: expected ${expected}, got ${actual}`, expected, path);
    this.expected = expected;
    this.actual = actual;
  }
};

// packages/core/dist/store/errors.js
var BlobNotFoundError = class extends KilnError {
  digest;
  root;
  constructor(digest, root) {
    super(`blob ${digest} is not in the Kiln store at ${root}`);
    this.digest = digest;
    this.root = root;
  }
};
var StoreFormatError = class extends KilnError {
  path;
  constructor(message, path) {
    super(message);
    this.path = path;
  }
};
var StoreAccessError = class extends KilnError {
  code;
  path;
  constructor(message, code, path, cause) {
    super(message);
    this.code = code;
    this.path = path;
    if (cause !== void 0)
      this.cause = cause;
  }
};
var LockTimeoutError = class extends KilnError {
  lockPath;
  constructor(message, lockPath) {
    super(message);
    this.lockPath = lockPath;
  }
};
function storeFsError(err, doing, path, root) {
  if (err instanceof KilnError)
    return err;
  const code = err?.code;
  const where = path === root ? `the Kiln store at ${root}` : `${path} (Kiln store at ${root})`;
  const elsewhere = "or point KILN_STORE (or --store) at another directory";
  switch (code) {
    case "ENOSPC":
      return new StoreAccessError(`no space left on device while ${doing} ${where}: free some space (with no kiln running, deleting ${root}/tmp is safe; deleting ${root} itself drops every image and build-cache entry Kiln keeps there) ${elsewhere}`, code, path, err);
    case "EDQUOT":
      return new StoreAccessError(`disk quota exceeded while ${doing} ${where}: free some space (with no kiln running, deleting ${root}/tmp is safe; deleting ${root} itself drops every image and build-cache entry Kiln keeps there) ${elsewhere}`, code, path, err);
    case "EACCES":
    case "EPERM":
      return new StoreAccessError(`permission denied while ${doing} ${where}: give the current user access to it ${elsewhere}`, code, path, err);
    case "EROFS":
      return new StoreAccessError(`read-only file system while ${doing} ${where}: point KILN_STORE (or --store) at a writable directory`, code, path, err);
    default:
      return err;
  }
}

// packages/core/dist/store/store.js
var STORE_FORMAT_VERSION = 1;
var STORE_FORMAT = "kiln-store";
var STALE_TEMP_MS = 60 * 60 * 1e3;
var UNREADABLE_LOCK_STALE_MS = 1e4;
var READ_CHUNK = 256 * 1024;
var SYNC_BLOBS = process.env.KILN_STORE_FSYNC === "1";
var BACKGROUND_FLUSH_BYTES = 32 * 1024 * 1024;
var VERIFY_CHUNK = 1024 * 1024;
var VERIFY_CONCURRENCY = 4;
var MAX_SAFE_NAME = 180;
var HEX64_RE = /^[a-f0-9]{64}$/;
var META_KIND_RE = /^[a-z0-9-]+$/;
var STORE_ENTRIES = /* @__PURE__ */ new Set(["VERSION", "blobs", "refs", "images", "containers", "leases", "cache", "meta", "tmp", "locks", "corrupt", "unpacked", "sandboxes", "cache-mounts", "runc"]);
var HOST = hostname();
var HOST_TAG = sha256Hex(HOST).slice(0, 8);
function defaultStoreRoot(env = process.env) {
  const explicit = env["KILN_STORE"];
  if (explicit)
    return resolve(explicit);
  const xdg = env["XDG_CACHE_HOME"];
  const cache = xdg && isAbsolute(xdg) ? xdg : join(homedir(), ".cache");
  return join(cache, "kiln", "store");
}
function openStore(root = defaultStoreRoot()) {
  return Store.open(root);
}
function safeFileName(value) {
  let out = "";
  for (const b2 of Buffer.from(value, "utf8")) {
    const keep = b2 >= 97 && b2 <= 122 || b2 >= 48 && b2 <= 57 || b2 === 95 || b2 === 45 || b2 === 46 && out !== "";
    out += keep ? String.fromCharCode(b2) : `%${b2.toString(16).toUpperCase().padStart(2, "0")}`;
    if (out.length > MAX_SAFE_NAME)
      break;
  }
  return out === "" || out.length > MAX_SAFE_NAME ? `~${sha256Hex(value)}` : out;
}
var Store = class _Store {
  root;
  blobDir;
  refsDir;
  imagesDir;
  containersDir;
  cacheDir;
  metaDir;
  tmpDir;
  locksDir;
  corruptDir;
  unpackedDir;
  sandboxesDir;
  cacheMountsDir;
  rootlessRuntimeDir;
  constructor(root) {
    this.root = root;
    this.blobDir = join(root, "blobs", "sha256");
    this.refsDir = join(root, "refs");
    this.imagesDir = join(root, "images");
    this.containersDir = join(root, "containers");
    this.cacheDir = join(root, "cache");
    this.metaDir = join(root, "meta");
    this.tmpDir = join(root, "tmp");
    this.locksDir = join(root, "locks");
    this.corruptDir = join(root, "corrupt");
    this.unpackedDir = join(root, "unpacked");
    this.sandboxesDir = join(root, "sandboxes");
    this.cacheMountsDir = join(root, "cache-mounts");
    this.rootlessRuntimeDir = join(root, "runc");
  }
  static async open(root = defaultStoreRoot()) {
    const store = new _Store(resolve(root));
    await store.init();
    return store;
  }
  // ---- opening ---------------------------------------------------------------------------
  async init() {
    const { root } = this;
    let entries;
    try {
      entries = await readdir(root);
    } catch (err) {
      const code = errCode(err);
      if (code === "ENOTDIR") {
        throw new StoreFormatError(`${root} is not a directory, so it cannot be a Kiln store: point KILN_STORE (or --store) at a directory`, root);
      }
      if (code !== "ENOENT")
        throw this.fsError(err, "opening", root);
      await this.mkdirs(root);
      entries = [];
    }
    if (entries.includes("VERSION")) {
      await this.checkVersion();
    } else {
      const foreign = entries.filter((e) => !STORE_ENTRIES.has(e)).sort();
      if (foreign.length > 0) {
        const shown = foreign.slice(0, 3).join(", ") + (foreign.length > 3 ? ", ..." : "");
        throw new StoreFormatError(`${root} is not a Kiln store (it has no VERSION file) and is not empty (it holds ${shown}): point KILN_STORE (or --store) at an empty or new directory`, root);
      }
      const version = `${JSON.stringify({ format: STORE_FORMAT, version: STORE_FORMAT_VERSION })}
`;
      await this.writeAtomic(join(root, "VERSION"), version, false);
    }
    for (const dir of [this.blobDir, this.refsDir, this.cacheDir, this.metaDir, this.tmpDir, this.locksDir]) {
      await this.mkdirs(dir);
    }
    await this.cleanTemp();
  }
  async checkVersion() {
    const path = join(this.root, "VERSION");
    let text;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      throw this.fsError(err, "reading", path);
    }
    let doc;
    try {
      doc = JSON.parse(text);
    } catch {
      doc = void 0;
    }
    const version = isRecord(doc) ? doc["version"] : void 0;
    if (!isRecord(doc) || doc["format"] !== STORE_FORMAT || typeof version !== "number" || !Number.isInteger(version) || version < 1) {
      throw new StoreFormatError(`${path} is not a Kiln store version file (expected {"format":"${STORE_FORMAT}","version":${STORE_FORMAT_VERSION}}): point KILN_STORE (or --store) at another directory`, path);
    }
    if (version > STORE_FORMAT_VERSION) {
      const minKiln = doc["minKiln"];
      const needed = typeof minKiln === "string" && minKiln !== "" ? `Kiln ${minKiln} or later` : `a newer Kiln release that supports store format version ${version}`;
      throw new StoreFormatError(`the Kiln store at ${this.root} uses store format version ${version} (${path}), but this Kiln (${await kilnVersion()}) supports only version ${STORE_FORMAT_VERSION}: it needs ${needed}; upgrade Kiln, or point KILN_STORE (or --store) at another directory`, path);
    }
  }
  /**
   * Removes entries of `<root>/tmp` older than `maxAgeMs` (default one hour), except those whose
   * name says they belong to a live process on this host. Best effort; returns how many went.
   */
  async cleanTemp(maxAgeMs = STALE_TEMP_MS) {
    let names;
    try {
      names = await readdir(this.tmpDir);
    } catch {
      return 0;
    }
    const now = Date.now();
    let removed = 0;
    for (const name of names) {
      const path = join(this.tmpDir, name);
      try {
        const st2 = await lstat(path);
        if (now - st2.mtimeMs <= maxAgeMs)
          continue;
        if (makerAlive(name, "k") === true)
          continue;
        await forceRemove(path);
        removed++;
      } catch {
      }
    }
    return removed;
  }
  // ---- blobs -----------------------------------------------------------------------------
  blobPath(digest) {
    return join(this.blobDir, digestHex(digest));
  }
  async hasBlob(digest) {
    return await this.blobStat(digest) !== void 0;
  }
  async blobSize(digest) {
    return (await this.blobStat(digest))?.size;
  }
  async blobStat(digest) {
    const path = this.blobPath(digest);
    try {
      const st2 = await stat(path);
      return st2.isFile() ? st2 : void 0;
    } catch (err) {
      if (errCode(err) === "ENOENT")
        return void 0;
      throw this.fsError(err, "reading", path);
    }
  }
  async writeBlob(data, expectedDigest) {
    if (expectedDigest !== void 0)
      digestHex(expectedDigest);
    const digest = `sha256:${sha256Hex(data)}`;
    const size = data.byteLength;
    if (expectedDigest !== void 0 && expectedDigest !== digest) {
      throw new DigestMismatchError(expectedDigest, digest, `a blob of ${size} bytes written to ${this.root}`);
    }
    if (!await this.hasBlob(digest))
      await this.writeAtomic(this.blobPath(digest), data, true);
    return { digest, size };
  }
  async createBlobWriter() {
    const tmp = this.tempPath("blob");
    let fh;
    try {
      fh = await this.createTemp(tmp);
    } catch (err) {
      throw this.fsError(err, "writing to", this.tmpDir);
    }
    return new FileBlobWriter(fh, tmp, {
      root: this.root,
      mapError: (err) => this.fsError(err, "writing to", tmp),
      install: (digest) => this.installBlob(tmp, digest)
    });
  }
  /** Moves a finished, verified temp file to its blob path (or drops it when the blob exists). */
  async installBlob(tmp, digest) {
    const dest = this.blobPath(digest);
    try {
      if (await this.hasBlob(digest)) {
        await unlinkQuiet(tmp);
        return;
      }
      await this.renameIntoPlace(tmp, dest);
    } catch (err) {
      await unlinkQuiet(tmp);
      throw this.fsError(err, "writing to", dest);
    }
  }
  async readBlob(digest) {
    const path = this.blobPath(digest);
    const fh = await this.openForRead(digest, path);
    let data;
    let st2;
    try {
      st2 = await fh.stat();
      data = await fh.readFile();
    } catch (err) {
      throw this.fsError(err, "reading", path);
    } finally {
      await fh.close().catch(() => void 0);
    }
    const actual = `sha256:${sha256Hex(data)}`;
    if (actual !== digest)
      throw await this.corrupt(digest, actual, path, st2);
    return data;
  }
  openBlob(digest) {
    const path = this.blobPath(digest);
    return new VerifyingBlobStream(digest, path, {
      open: () => this.openForRead(digest, path),
      corrupt: (actual, st2) => this.corrupt(digest, actual, path, st2),
      mapError: (err) => this.fsError(err, "reading", path)
    });
  }
  async writeJson(doc) {
    const text = JSON.stringify(doc);
    if (text === void 0)
      throw new KilnError(`cannot store ${typeof doc} as a JSON blob`);
    const bytes = Buffer.from(text, "utf8");
    const info = await this.writeBlob(bytes);
    return { ...info, bytes };
  }
  async readJson(digest) {
    const data = await this.readBlob(digest);
    try {
      return JSON.parse(data.toString("utf8"));
    } catch (err) {
      throw new KilnError(`blob ${digest} in the Kiln store at ${this.root} is not JSON: ${err.message}`);
    }
  }
  async openForRead(digest, path) {
    try {
      return await open(path, "r");
    } catch (err) {
      if (errCode(err) === "ENOENT")
        throw new BlobNotFoundError(digest, this.root);
      throw this.fsError(err, "reading", path);
    }
  }
  /** Moves a blob that failed verification to corrupt/ and returns the error to throw. */
  async corrupt(digest, actual, path, readFrom) {
    const movedTo = await this.quarantine(path, readFrom);
    const what = movedTo ? `it was moved to ${movedTo} and will not be used again; pull or build the image again` : `remove ${path} and pull or build the image again`;
    return new StoreCorruptionError(`blob ${digest} in the Kiln store at ${this.root} is corrupt (its content hashes to ${actual}): ${what}`, digest, path);
  }
  /**
   * Best effort: renames `path` into corrupt/, but only if it is still the file that was read
   * (a concurrent writer may have replaced it with good bytes).
   */
  async quarantine(path, readFrom) {
    try {
      if (readFrom) {
        const now = await stat(path);
        if (now.ino !== readFrom.ino || now.dev !== readFrom.dev)
          return void 0;
      }
      await mkdir(this.corruptDir, { recursive: true });
      const dest = join(this.corruptDir, `${basename(path)}.${Date.now()}-${randomBytes(4).toString("hex")}`);
      await rename(path, dest);
      return dest;
    } catch {
      return void 0;
    }
  }
  async verify() {
    let names;
    try {
      names = await readdir(this.blobDir);
    } catch (err) {
      if (errCode(err) === "ENOENT")
        return { checked: 0, corrupt: [] };
      throw this.fsError(err, "reading", this.blobDir);
    }
    const hexes = names.filter((n) => HEX64_RE.test(n)).sort();
    let checked = 0;
    const corrupt = [];
    await forEachLimit(hexes, VERIFY_CONCURRENCY, async (hex) => {
      const digest = `sha256:${hex}`;
      const path = join(this.blobDir, hex);
      let fh;
      try {
        fh = await open(path, "r");
      } catch (err) {
        if (errCode(err) === "ENOENT")
          return;
        throw this.fsError(err, "reading", path);
      }
      let st2;
      let actual;
      try {
        st2 = await fh.stat();
        actual = await hashFile(fh);
      } catch (err) {
        throw this.fsError(err, "reading", path);
      } finally {
        await fh.close().catch(() => void 0);
      }
      checked++;
      if (actual !== digest) {
        await this.quarantine(path, st2);
        corrupt.push(digest);
      }
    });
    corrupt.sort();
    return { checked, corrupt };
  }
  // ---- refs ------------------------------------------------------------------------------
  refPath(ref) {
    if (typeof ref !== "string" || ref === "")
      throw new KilnError("an image reference must not be empty");
    return join(this.refsDir, `${safeFileName(ref)}.json`);
  }
  async setRef(ref, digest) {
    const path = this.refPath(ref);
    digestHex(digest);
    const record = { ref, digest, updated: Date.now() };
    await this.writeAtomic(path, `${JSON.stringify(record)}
`, false);
  }
  async getRef(ref) {
    const record = await this.readRefFile(this.refPath(ref));
    return record?.ref === ref ? record.digest : void 0;
  }
  async deleteRef(ref) {
    const path = this.refPath(ref);
    return this.removeFile(path);
  }
  async listRefs() {
    let names;
    try {
      names = await readdir(this.refsDir);
    } catch (err) {
      if (errCode(err) === "ENOENT")
        return [];
      throw this.fsError(err, "reading", this.refsDir);
    }
    const records = [];
    await forEachLimit(names.filter((n) => n.endsWith(".json") && !n.startsWith(".")), 16, async (name) => {
      const record = await this.readRefFile(join(this.refsDir, name));
      if (record)
        records.push(record);
    });
    return records.sort((a, b2) => a.ref < b2.ref ? -1 : a.ref > b2.ref ? 1 : 0);
  }
  async readRefFile(path) {
    const doc = await this.readJsonFile(path);
    if (doc === void 0)
      return void 0;
    if (doc.ok && isRecord(doc.value) && typeof doc.value["ref"] === "string" && typeof doc.value["digest"] === "string" && isDigest(doc.value["digest"]) && typeof doc.value["updated"] === "number") {
      return { ref: doc.value["ref"], digest: doc.value["digest"], updated: doc.value["updated"] };
    }
    throw new StoreCorruptionError(`${path} is not a valid Kiln ref record: delete it and tag the image again`, void 0, path);
  }
  // ---- images ----------------------------------------------------------------------------
  imagePath(digest) {
    return join(this.imagesDir, `${digestHex(digest)}.json`);
  }
  async addImage(digest, repoDigest) {
    const path = this.imagePath(digest);
    const doc = await this.readJsonFile(path);
    const known = doc?.ok && isRecord(doc.value) ? doc.value : void 0;
    if (known && (repoDigest === void 0 || known.repoDigests?.includes(repoDigest)))
      return;
    const repoDigests = [...known?.repoDigests ?? [], ...repoDigest ? [repoDigest] : []].sort();
    const record = { digest, added: known?.added ?? Date.now(), ...repoDigests.length ? { repoDigests } : {} };
    await this.writeAtomic(path, `${JSON.stringify(record)}
`, false);
  }
  async listImages() {
    const names = await this.namesIn(this.imagesDir);
    const byDigest = /* @__PURE__ */ new Map();
    await forEachLimit(names.filter((n) => n.endsWith(".json") && !n.startsWith(".")), 16, async (name) => {
      const doc = await this.readJsonFile(join(this.imagesDir, name));
      const value = doc?.ok && isRecord(doc.value) ? doc.value : void 0;
      if (value && typeof value["digest"] === "string" && isDigest(value["digest"]) && typeof value["added"] === "number") {
        const repoDigests = Array.isArray(value["repoDigests"]) ? value["repoDigests"].filter((r) => typeof r === "string") : [];
        byDigest.set(value["digest"], { digest: value["digest"], added: value["added"], ...repoDigests.length ? { repoDigests } : {} });
      }
    });
    for (const ref of await this.listRefs()) {
      const known = byDigest.get(ref.digest);
      if (!known)
        byDigest.set(ref.digest, { digest: ref.digest, added: ref.updated });
    }
    return [...byDigest.values()].sort((a, b2) => b2.added - a.added || (a.digest < b2.digest ? -1 : 1));
  }
  async removeImage(digest) {
    const path = this.imagePath(digest);
    return this.removeFile(path);
  }
  // ---- containers ------------------------------------------------------------------------
  containerPath(id) {
    if (!HEX64_RE.test(id))
      throw new KilnError(`not a container ID: ${id}`);
    return join(this.containersDir, `${id}.json`);
  }
  async saveContainer(record) {
    await this.writeAtomic(this.containerPath(record.id), `${JSON.stringify(record)}
`, false);
  }
  async listContainers() {
    const out = [];
    for (const name of (await this.namesIn(this.containersDir)).filter((n) => n.endsWith(".json"))) {
      const doc = await this.readJsonFile(join(this.containersDir, name));
      if (doc?.ok && isRecord(doc.value) && typeof doc.value["id"] === "string" && typeof doc.value["name"] === "string")
        out.push(doc.value);
    }
    return out.sort((a, b2) => b2.created - a.created);
  }
  async removeContainer(id) {
    return this.removeFile(this.containerPath(id));
  }
  /** Unlink a record file: true when it was there. */
  async removeFile(path) {
    try {
      await unlink(path);
      return true;
    } catch (err) {
      if (errCode(err) === "ENOENT")
        return false;
      throw this.fsError(err, "removing", path);
    }
  }
  // ---- build cache -----------------------------------------------------------------------
  cachePath(key) {
    return join(this.cacheDir, `${sha256Hex(key)}.json`);
  }
  async getCache(key) {
    const doc = await this.readJsonFile(this.cachePath(key));
    if (!doc?.ok || !isRecord(doc.value) || doc.value["key"] !== key)
      return void 0;
    const record = doc.value["record"];
    if (!isRecord(record) || typeof record["created"] !== "number" || !("layer" in record))
      return void 0;
    const now = /* @__PURE__ */ new Date();
    await utimes(this.cachePath(key), now, now).catch(() => void 0);
    return record;
  }
  async putCache(key, record) {
    if (record.layer) {
      digestHex(record.layer.digest);
      digestHex(record.layer.diffId);
    }
    await this.writeAtomic(this.cachePath(key), `${JSON.stringify({ key, record })}
`, false);
  }
  // ---- maintenance (garbage collection) --------------------------------------------------
  /** The entries of a store directory; none when it does not exist yet. */
  async namesIn(dir) {
    try {
      return await readdir(dir);
    } catch (err) {
      if (errCode(err) === "ENOENT")
        return [];
      throw this.fsError(err, "reading", dir);
    }
  }
  async listBlobs() {
    const out = [];
    const names = await this.namesIn(this.blobDir);
    await forEachLimit(names.filter((n) => HEX64_RE.test(n)), 16, async (hex) => {
      const st2 = await stat(join(this.blobDir, hex)).catch(() => void 0);
      if (st2)
        out.push({ digest: `sha256:${hex}`, size: st2.size, mtime: st2.mtimeMs });
    });
    return out.sort((a, b2) => a.digest < b2.digest ? -1 : 1);
  }
  async removeBlob(digest) {
    await unlinkQuiet(this.blobPath(digest));
    const hex = digest.slice(digest.indexOf(":") + 1);
    for (const kind of await this.namesIn(this.metaDir)) {
      for (const id of [digest, hex])
        await unlinkQuiet(join(this.metaDir, kind, `${safeFileName(id)}.json`));
    }
  }
  async listCacheRecords() {
    const out = [];
    const names = await this.namesIn(this.cacheDir);
    await forEachLimit(names.filter((n) => n.endsWith(".json") && !n.startsWith(".")), 16, async (name) => {
      const path = join(this.cacheDir, name);
      const [st2, doc] = await Promise.all([stat(path).catch(() => void 0), this.readJsonFile(path)]);
      const record = doc?.ok && isRecord(doc.value) ? doc.value["record"] : void 0;
      if (st2 && isRecord(record) && "layer" in record) {
        out.push({ id: name.slice(0, -".json".length), record, used: st2.mtimeMs, size: st2.size });
      }
    });
    return out.sort((a, b2) => a.used - b2.used);
  }
  async removeCacheRecord(id) {
    if (!HEX64_RE.test(id))
      throw new KilnError(`not a build cache record: ${id}`);
    await unlinkQuiet(join(this.cacheDir, `${id}.json`));
  }
  async listUnpackedLayers() {
    return this.listArea(this.unpackedDir, async () => void 0);
  }
  async listCacheMounts() {
    return this.listArea(this.cacheMountsDir, async (name) => {
      const doc = await this.readJsonFile(join(this.cacheMountsDir, `${name}.json`)).catch(() => void 0);
      const id = doc?.ok && isRecord(doc.value) ? doc.value["id"] : void 0;
      return typeof id === "string" ? id : void 0;
    });
  }
  /** The directories of an area, with their side file's (or their own) mtime as last use. */
  async listArea(dir, describe2) {
    const names = await this.namesIn(dir).catch((err) => {
      if (err instanceof StoreAccessError && (err.code === "EACCES" || err.code === "EPERM"))
        return [];
      throw err;
    });
    const out = [];
    for (const name of names.filter((n) => HEX64_RE.test(n))) {
      const path = join(dir, name);
      const side = await stat(`${path}.json`).catch(() => void 0);
      const own = await stat(path).catch(() => void 0);
      if (!own?.isDirectory())
        continue;
      const description = await describe2(name);
      out.push({ name, path, used: (side ?? own).mtimeMs, ...description !== void 0 ? { description } : {} });
    }
    return out.sort((a, b2) => a.used - b2.used);
  }
  async removeDirectory(entry) {
    const parent = dirname(entry.path);
    if (parent !== this.unpackedDir && parent !== this.cacheMountsDir || basename(entry.path) !== entry.name || !HEX64_RE.test(entry.name)) {
      throw new KilnError(`refusing to remove ${entry.path}: not an unpacked layer or a cache mount of this store`);
    }
    const doomed = join(this.tmpDir, `k-${process.pid}-${HOST_TAG}-removing-${entry.name.slice(0, 12)}-${randomBytes(4).toString("hex")}`);
    await mkdir(this.tmpDir, { recursive: true });
    try {
      await rename(entry.path, doomed);
    } catch (err) {
      throw this.fsError(err, "removing", entry.path);
    }
    const mine = typeof process.getuid !== "function" || process.getuid() === 0 || await ownedBy(doomed, process.getuid());
    if (!mine) {
      await rename(doomed, entry.path);
      throw new KilnError(`cannot remove ${entry.path}: it holds files of other users (made by RUN through sudo, or rootless as subordinate ids); run the prune as root (sudo kiln ...)`);
    }
    await unlinkQuiet(`${entry.path}.json`);
    await forceRemove(doomed);
  }
  leasesDir() {
    return join(this.root, "leases");
  }
  async withLease(fn, options = {}) {
    const gcLock = join(this.locksDir, `${safeFileName(GC_LOCK)}.lock`);
    if (leaseHeld.getStore() || heldLocks.getStore()?.has(gcLock))
      return fn();
    const dir = this.leasesDir();
    await mkdir(dir, { recursive: true });
    const path = join(dir, `l-${process.pid}-${HOST_TAG}-${randomBytes(6).toString("hex")}`);
    for (let delay = 20; ; delay = Math.min(delay * 1.5, 500)) {
      await writeFile(path, `${JSON.stringify({ pid: process.pid, host: HOST, created: Date.now() })}
`);
      const collecting = await readLock(gcLock).catch(() => void 0);
      if (!collecting || isStaleLock(collecting))
        break;
      await unlinkQuiet(path);
      await sleep(delay, options.signal);
    }
    try {
      return await leaseHeld.run(true, fn);
    } finally {
      await unlinkQuiet(path);
    }
  }
  async withoutLeases(fn, options = {}) {
    if (leaseHeld.getStore())
      throw new KilnError("a store collection cannot run inside a lease of the same process");
    return this.withLock(GC_LOCK, async () => {
      const dir = this.leasesDir();
      let told = -1;
      for (; ; ) {
        const names = await readdir(dir).catch(() => []);
        let live = 0;
        for (const name of names) {
          if (makerAlive(name, "l") === false)
            await unlinkQuiet(join(dir, name));
          else
            live++;
        }
        if (live === 0)
          break;
        if (live !== told)
          options.waiting?.(live);
        told = live;
        await sleep(100, options.signal);
      }
      return fn();
    }, { signal: options.signal });
  }
  // ---- meta ------------------------------------------------------------------------------
  metaPath(kind, id) {
    if (typeof kind !== "string" || !META_KIND_RE.test(kind)) {
      throw new KilnError(`invalid store meta kind ${JSON.stringify(kind)}: use lowercase letters, digits and "-"`);
    }
    return join(this.metaDir, kind, `${safeFileName(String(id))}.json`);
  }
  async readMeta(kind, id) {
    const doc = await this.readJsonFile(this.metaPath(kind, id));
    return doc?.ok ? doc.value : void 0;
  }
  async writeMeta(kind, id, value) {
    const path = this.metaPath(kind, id);
    const text = JSON.stringify(value);
    if (text === void 0)
      throw new KilnError(`cannot store ${typeof value} as store meta ${kind}/${id}`);
    await this.writeAtomic(path, text, false);
  }
  // ---- scratch space ---------------------------------------------------------------------
  async makeTempDir(prefix) {
    const label = String(prefix).replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
    const base = join(this.tmpDir, `k-${process.pid}-${HOST_TAG}-${label}`);
    try {
      return await mkdtemp(base);
    } catch (err) {
      if (errCode(err) !== "ENOENT")
        throw this.fsError(err, "creating a directory in", this.tmpDir);
      try {
        await mkdir(this.tmpDir, { recursive: true });
        return await mkdtemp(base);
      } catch (err2) {
        throw this.fsError(err2, "creating a directory in", this.tmpDir);
      }
    }
  }
  // ---- RUN sandbox space -----------------------------------------------------------------
  async unpackedLayer(chainId, unpack) {
    const hex = digestHex(chainId);
    const dir = await this.makeOnce(this.unpackedDir, hex, `unpack-${hex}`, unpack);
    const now = /* @__PURE__ */ new Date();
    await utimes(dir, now, now).catch(() => void 0);
    return dir;
  }
  async cacheMount(id, init) {
    const hex = sha256Hex(id);
    const side = join(this.cacheMountsDir, `${hex}.json`);
    const dir = await this.makeOnce(this.cacheMountsDir, hex, `cache-mount-${hex}`, async (temp) => {
      await init(temp);
      await this.writeAtomic(side, `${JSON.stringify({ id, created: (/* @__PURE__ */ new Date()).toISOString() })}
`, false);
    });
    const now = /* @__PURE__ */ new Date();
    await utimes(side, now, now).catch(() => void 0);
    return dir;
  }
  /**
   * `<parent>/<name>`, made once across processes: when missing, `make` fills a fresh directory
   * path next to its final place (same filesystem), which is renamed in only when complete.
   */
  async makeOnce(parent, name, lock, make) {
    const dir = join(parent, name);
    if (await exists(dir))
      return dir;
    return this.withLock(lock, async () => {
      if (await exists(dir))
        return dir;
      await mkdir(parent, { recursive: true, mode: 448 });
      const temp = await this.makeTempDir(`${name.slice(0, 12)}-`);
      try {
        const target = join(temp, "dir");
        await mkdir(target, { mode: 448 });
        await make(target);
        await rename(target, dir);
      } finally {
        await forceRemove(temp).catch(() => void 0);
      }
      return dir;
    });
  }
  async makeSandboxDir() {
    await mkdir(this.sandboxesDir, { recursive: true, mode: 448 });
    try {
      return await mkdtemp(join(this.sandboxesDir, `s-${process.pid}-${HOST_TAG}-`));
    } catch (err) {
      throw this.fsError(err, "creating a directory in", this.sandboxesDir);
    }
  }
  isStaleSandbox(name) {
    return makerAlive(name, "s") === false;
  }
  // ---- locks -----------------------------------------------------------------------------
  /**
   * Runs `fn` while holding the named lock, shared by every process using this store: first
   * in-process (calls queue up in order), then through `<root>/locks/<name>.lock`, created
   * exclusively and holding `{pid, host, created}`. A lock whose holder is a dead process on this
   * host is taken over. Re-entrant: `fn` (and anything it starts) may take the same lock again.
   */
  async withLock(name, fn, options = {}) {
    if (typeof name !== "string" || name === "")
      throw new KilnError("a store lock needs a name");
    const path = join(this.locksDir, `${safeFileName(name)}.lock`);
    const held = heldLocks.getStore();
    if (held?.has(path))
      return fn();
    const deadline = options.timeoutMs === void 0 ? void 0 : Date.now() + options.timeoutMs;
    const { signal } = options;
    const prev = lockTails.get(path) ?? Promise.resolve();
    let releaseLocal;
    const mine = new Promise((r) => releaseLocal = r);
    const tail = prev.then(() => mine);
    lockTails.set(path, tail);
    const done = () => {
      releaseLocal();
      void tail.then(() => {
        if (lockTails.get(path) === tail)
          lockTails.delete(path);
      });
    };
    let content;
    try {
      if (!await waitUntil(prev, deadline, signal)) {
        throw new LockTimeoutError(`timed out after ${options.timeoutMs} ms waiting for the store lock ${path}, held by this process`, path);
      }
      content = await this.acquireFileLock(path, deadline, options);
    } catch (err) {
      done();
      throw err;
    }
    try {
      return await heldLocks.run(/* @__PURE__ */ new Set([...held ?? [], path]), fn);
    } finally {
      await releaseFileLock(path, content);
      done();
    }
  }
  async acquireFileLock(path, deadline, options) {
    let delay = 5;
    for (; ; ) {
      options.signal?.throwIfAborted();
      const token = randomBytes(8).toString("hex");
      const content = JSON.stringify({ pid: process.pid, host: HOST, created: Date.now(), token });
      try {
        await this.createLockFile(path, content);
        heldTokens.add(token);
        return content;
      } catch (err) {
        if (errCode(err) !== "EEXIST")
          throw this.fsError(err, "creating the lock", path);
      }
      let holder;
      try {
        holder = await readLock(path);
        if (holder && isStaleLock(holder)) {
          await stealLock(path, holder.raw);
          continue;
        }
      } catch (err) {
        throw this.fsError(err, "reading the lock", path);
      }
      if (!holder)
        continue;
      if (deadline !== void 0 && Date.now() >= deadline) {
        throw new LockTimeoutError(`timed out after ${options.timeoutMs} ms waiting for the store lock ${path}, ${describeHolder(holder)}: if no Kiln process is running there, delete ${path}`, path);
      }
      let wait = delay + Math.random() * delay;
      if (deadline !== void 0)
        wait = Math.max(1, Math.min(wait, deadline - Date.now()));
      await sleep(wait, options.signal);
      delay = Math.min(delay * 1.6, 250);
    }
  }
  async createLockFile(path, content) {
    let fh;
    try {
      fh = await open(path, "wx");
    } catch (err) {
      if (errCode(err) !== "ENOENT")
        throw err;
      await mkdir(this.locksDir, { recursive: true });
      fh = await open(path, "wx");
    }
    try {
      await fh.writeFile(content);
      await fh.close();
    } catch (err) {
      await fh.close().catch(() => void 0);
      await unlinkQuiet(path);
      throw err;
    }
  }
  // ---- plumbing --------------------------------------------------------------------------
  fsError(err, doing, path) {
    return storeFsError(err, doing, path, this.root);
  }
  tempPath(label) {
    const safe = label.replace(/[^A-Za-z0-9._-]/g, "_").slice(0, 64);
    return join(this.tmpDir, `k-${process.pid}-${HOST_TAG}-${randomBytes(6).toString("hex")}-${safe}`);
  }
  async createTemp(tmp) {
    try {
      return await open(tmp, "wx");
    } catch (err) {
      if (errCode(err) !== "ENOENT")
        throw err;
      await mkdir(this.tmpDir, { recursive: true });
      return await open(tmp, "wx");
    }
  }
  async renameIntoPlace(tmp, dest) {
    try {
      await rename(tmp, dest);
    } catch (err) {
      if (errCode(err) !== "ENOENT")
        throw err;
      await mkdir(dirname(dest), { recursive: true });
      await rename(tmp, dest);
    }
  }
  /** Writes `data` to a temp file and renames it to `dest`; `sync` flushes it to disk first. */
  async writeAtomic(dest, data, sync) {
    const tmp = this.tempPath(basename(dest));
    try {
      const fh = await this.createTemp(tmp);
      try {
        await fh.writeFile(data);
        if (sync && SYNC_BLOBS)
          await fh.datasync();
      } finally {
        await fh.close();
      }
      await this.renameIntoPlace(tmp, dest);
    } catch (err) {
      await unlinkQuiet(tmp);
      throw this.fsError(err, "writing to", dest);
    }
  }
  async mkdirs(dir) {
    try {
      await mkdir(dir, { recursive: true });
    } catch (err) {
      throw this.fsError(err, "creating", dir);
    }
  }
  /** Reads a small JSON file: undefined when absent, `{ok: false}` when it does not parse. */
  async readJsonFile(path) {
    let text;
    try {
      text = await readFile(path, "utf8");
    } catch (err) {
      if (errCode(err) === "ENOENT")
        return void 0;
      throw this.fsError(err, "reading", path);
    }
    try {
      return { ok: true, value: JSON.parse(text) };
    } catch {
      return { ok: false };
    }
  }
};
var HashingFileStream = class extends Writable {
  fh;
  mapError;
  hash = createHash2("sha256");
  size = 0;
  /** Flushes started while writing, so that the final datasync at commit has little left to do. */
  flushing = Promise.resolve();
  unflushed = 0;
  constructor(fh, mapError) {
    super({ highWaterMark: 1 << 20 });
    this.fh = fh;
    this.mapError = mapError;
  }
  _write(chunk, _encoding, callback) {
    const written = writeFully(this.fh, [chunk]);
    this.hash.update(chunk);
    this.size += chunk.length;
    written.then(() => this.written(chunk.length, callback), (err) => callback(this.mapError(err)));
  }
  _writev(chunks, callback) {
    const buffers = chunks.map((c) => c.chunk);
    const written = writeFully(this.fh, buffers);
    let bytes = 0;
    for (const b2 of buffers) {
      this.hash.update(b2);
      bytes += b2.length;
    }
    this.size += bytes;
    written.then(() => this.written(bytes, callback), (err) => callback(this.mapError(err)));
  }
  written(bytes, callback) {
    this.unflushed += bytes;
    if (SYNC_BLOBS && this.unflushed >= BACKGROUND_FLUSH_BYTES) {
      this.unflushed = 0;
      this.flushing = this.flushing.then(() => this.fh.datasync()).catch(() => void 0);
    }
    callback();
  }
  /** Flushes everything written so far to disk. */
  async sync() {
    if (!SYNC_BLOBS)
      return;
    await this.flushing;
    await this.fh.datasync();
  }
};
var FileBlobWriter = class {
  fh;
  tmp;
  ctx;
  stream;
  result;
  aborted = false;
  closed = false;
  constructor(fh, tmp, ctx) {
    this.fh = fh;
    this.tmp = tmp;
    this.ctx = ctx;
    this.stream = new HashingFileStream(fh, ctx.mapError);
    this.stream.on("error", () => void 0);
  }
  write(chunk) {
    return new Promise((resolve3, reject) => {
      if (this.stream.errored) {
        reject(this.stream.errored);
        return;
      }
      if (this.aborted || this.result || this.stream.writableEnded || this.stream.destroyed) {
        reject(new KilnError("cannot write to a blob writer that was committed or aborted"));
        return;
      }
      this.stream.write(chunk, (err) => err ? reject(err) : resolve3());
    });
  }
  commit(expectedDigest) {
    this.result ??= this.finish(expectedDigest);
    return this.result;
  }
  async finish(expectedDigest) {
    try {
      if (expectedDigest !== void 0)
        digestHex(expectedDigest);
      if (this.aborted)
        throw new KilnError("cannot commit a blob writer that was aborted");
      if (!this.stream.writableEnded)
        this.stream.end();
      await finished(this.stream);
      try {
        await this.stream.sync();
        this.closed = true;
        await this.fh.close();
      } catch (err) {
        throw this.ctx.mapError(err);
      }
      const digest = `sha256:${this.stream.hash.digest("hex")}`;
      const size = this.stream.size;
      if (expectedDigest !== void 0 && expectedDigest !== digest) {
        throw new DigestMismatchError(expectedDigest, digest, `a blob of ${size} bytes written to ${this.ctx.root}`);
      }
      await this.ctx.install(digest);
      return { digest, size };
    } catch (err) {
      await this.discard();
      throw err;
    }
  }
  async abort() {
    if (this.result) {
      await this.result.then(() => void 0, () => void 0);
      return;
    }
    this.aborted = true;
    await this.discard();
  }
  async discard() {
    this.stream.destroy();
    if (!this.closed) {
      this.closed = true;
      await this.fh.close().catch(() => void 0);
    }
    await unlinkQuiet(this.tmp);
  }
};
var VerifyingBlobStream = class extends Readable {
  digest;
  path;
  ctx;
  fh;
  stats;
  hash = createHash2("sha256");
  constructor(digest, path, ctx) {
    super({ highWaterMark: READ_CHUNK });
    this.digest = digest;
    this.path = path;
    this.ctx = ctx;
  }
  _construct(callback) {
    this.ctx.open().then(async (fh) => {
      this.fh = fh;
      try {
        this.stats = await fh.stat();
        callback();
      } catch (err) {
        callback(this.ctx.mapError(err));
      }
    }, (err) => callback(err));
  }
  _read() {
    this.readChunk().catch((err) => this.destroy(err instanceof Error ? err : new Error(String(err))));
  }
  async readChunk() {
    const fh = this.fh;
    if (!fh)
      return;
    const buf = Buffer.allocUnsafe(READ_CHUNK);
    let bytesRead;
    try {
      ({ bytesRead } = await fh.read(buf, 0, READ_CHUNK, null));
    } catch (err) {
      throw this.ctx.mapError(err);
    }
    if (bytesRead > 0) {
      const chunk = bytesRead === READ_CHUNK ? buf : buf.subarray(0, bytesRead);
      this.hash.update(chunk);
      this.push(chunk);
      return;
    }
    const actual = `sha256:${this.hash.digest("hex")}`;
    if (actual !== this.digest)
      throw await this.ctx.corrupt(actual, this.stats);
    this.push(null);
  }
  _destroy(error, callback) {
    const fh = this.fh;
    this.fh = void 0;
    if (!fh) {
      callback(error);
      return;
    }
    fh.close().then(() => callback(error), () => callback(error));
  }
};
var lockTails = /* @__PURE__ */ new Map();
var heldLocks = new AsyncLocalStorage();
var leaseHeld = new AsyncLocalStorage();
var GC_LOCK = "gc";
var heldTokens = /* @__PURE__ */ new Set();
async function readLock(path) {
  let raw;
  let mtimeMs;
  try {
    const fh = await open(path, "r");
    try {
      mtimeMs = (await fh.stat()).mtimeMs;
      raw = await fh.readFile("utf8");
    } finally {
      await fh.close();
    }
  } catch (err) {
    if (errCode(err) === "ENOENT")
      return void 0;
    throw err;
  }
  const holder = { raw, mtimeMs };
  try {
    const doc = JSON.parse(raw);
    if (isRecord(doc)) {
      if (typeof doc["pid"] === "number")
        holder.pid = doc["pid"];
      if (typeof doc["host"] === "string")
        holder.host = doc["host"];
      if (typeof doc["created"] === "number")
        holder.created = doc["created"];
      if (typeof doc["token"] === "string")
        holder.token = doc["token"];
    }
  } catch {
  }
  return holder;
}
function isStaleLock(holder) {
  if (holder.pid === void 0 || holder.host === void 0) {
    return Date.now() - holder.mtimeMs > UNREADABLE_LOCK_STALE_MS;
  }
  if (holder.host !== HOST)
    return false;
  if (holder.pid === process.pid)
    return holder.token === void 0 || !heldTokens.has(holder.token);
  return !pidAlive(holder.pid);
}
async function stealLock(path, raw) {
  const guard = `${path}.steal`;
  try {
    const fh = await open(guard, "wx");
    await fh.close();
  } catch (err) {
    if (errCode(err) !== "EEXIST")
      throw err;
    try {
      const st2 = await stat(guard);
      if (Date.now() - st2.mtimeMs > UNREADABLE_LOCK_STALE_MS)
        await unlinkQuiet(guard);
    } catch {
    }
    await sleep(5);
    return;
  }
  try {
    const now = await readFile(path, "utf8").catch(() => void 0);
    if (now === raw)
      await unlinkQuiet(path);
  } finally {
    await unlinkQuiet(guard);
  }
}
async function releaseFileLock(path, content) {
  try {
    const now = await readFile(path, "utf8").catch(() => void 0);
    if (now === content)
      await unlinkQuiet(path);
  } finally {
    const token = JSON.parse(content).token;
    heldTokens.delete(token);
  }
}
function describeHolder(holder) {
  if (holder.pid === void 0 || holder.host === void 0)
    return "whose holder is unknown";
  const since = holder.created === void 0 ? "" : ` since ${new Date(holder.created).toISOString()}`;
  return `held by pid ${holder.pid} on ${holder.host}${since}`;
}
async function waitUntil(p2, deadline, signal) {
  if (deadline === void 0 && !signal) {
    await p2;
    return true;
  }
  signal?.throwIfAborted();
  return new Promise((resolvePromise, reject) => {
    let timer;
    const finish = (fn) => {
      if (timer)
        clearTimeout(timer);
      signal?.removeEventListener("abort", onAbort);
      fn();
    };
    const onAbort = () => finish(() => reject(signal?.reason));
    signal?.addEventListener("abort", onAbort, { once: true });
    if (deadline !== void 0) {
      timer = setTimeout(() => finish(() => resolvePromise(false)), Math.max(0, deadline - Date.now()));
    }
    p2.then(() => finish(() => resolvePromise(true)));
  });
}
function sleep(ms2, signal) {
  return new Promise((resolvePromise, reject) => {
    if (signal?.aborted) {
      reject(signal.reason);
      return;
    }
    const onAbort = () => {
      clearTimeout(timer);
      reject(signal?.reason);
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolvePromise();
    }, ms2);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}
function errCode(err) {
  return err?.code;
}
function isRecord(value) {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}
function makerAlive(name, prefix) {
  const m2 = /^([a-z])-(\d+)-([0-9a-f]{8})-/.exec(name);
  if (!m2 || m2[1] !== prefix || m2[3] !== HOST_TAG)
    return void 0;
  return pidAlive(Number(m2[2]));
}
function pidAlive(pid) {
  if (!Number.isSafeInteger(pid) || pid <= 0)
    return false;
  try {
    process.kill(pid, 0);
    return true;
  } catch (err) {
    return errCode(err) !== "ESRCH";
  }
}
async function unlinkQuiet(path) {
  await unlink(path).catch(() => void 0);
}
async function forceRemove(path) {
  try {
    await rm(path, { recursive: true, force: true });
  } catch (err) {
    const code = errCode(err);
    if (code !== "EACCES" && code !== "EPERM")
      throw err;
    await makeWritable(path);
    await rm(path, { recursive: true, force: true });
  }
}
async function makeWritable(path) {
  const st2 = await lstat(path);
  if (!st2.isDirectory())
    return;
  await chmod(path, 448);
  for (const name of await readdir(path))
    await makeWritable(join(path, name));
}
async function writeFully(fh, buffers) {
  if (buffers.length === 1) {
    const buf = buffers[0];
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten: bytesWritten2 } = await fh.write(buf, off, buf.length - off);
      off += bytesWritten2;
    }
    return;
  }
  const total = buffers.reduce((n, b2) => n + b2.length, 0);
  let { bytesWritten } = await fh.writev(buffers);
  if (bytesWritten === total)
    return;
  for (const buf of buffers) {
    if (bytesWritten >= buf.length) {
      bytesWritten -= buf.length;
      continue;
    }
    await writeFully(fh, [buf.subarray(bytesWritten)]);
    bytesWritten = 0;
  }
}
async function hashFile(fh) {
  const hash = createHash2("sha256");
  const buf = Buffer.allocUnsafe(VERIFY_CHUNK);
  for (; ; ) {
    const { bytesRead } = await fh.read(buf, 0, VERIFY_CHUNK, null);
    if (bytesRead === 0)
      break;
    hash.update(buf.subarray(0, bytesRead));
  }
  return `sha256:${hash.digest("hex")}`;
}
async function forEachLimit(items, limit, fn) {
  let next = 0;
  const worker = async () => {
    for (; ; ) {
      const i = next++;
      if (i >= items.length)
        return;
      await fn(items[i]);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
}
var cachedKilnVersion;
async function kilnVersion() {
  if (cachedKilnVersion === void 0) {
    try {
      const pkg = JSON.parse(await readFile(new URL("../../package.json", import.meta.url), "utf8"));
      cachedKilnVersion = typeof pkg.version === "string" ? `version ${pkg.version}` : "version unknown";
    } catch {
      cachedKilnVersion = "version unknown";
    }
  }
  return cachedKilnVersion;
}
async function ownedBy(path, uid) {
  const st2 = await lstat(path).catch(() => void 0);
  if (!st2)
    return true;
  if (st2.uid !== uid)
    return false;
  if (!st2.isDirectory())
    return true;
  for (const name of await readdir(path).catch(() => []))
    if (!await ownedBy(join(path, name), uid))
      return false;
  return true;
}
async function exists(path) {
  try {
    await lstat(path);
    return true;
  } catch {
    return false;
  }
}

// packages/core/dist/run/helper-protocol.js
var FRAME = {
  request: 113,
  // 'q': the RunStepRequest, JSON
  stdout: 111,
  // 'o': a chunk of the command's stdout
  stderr: 101,
  // 'e': a chunk of its stderr
  warning: 119,
  // 'w': a warning, UTF-8
  result: 114,
  // 'r': the RunStepResult, JSON
  error: 120
  // 'x': { message, user }: the step failed
};
function frame(type, payload) {
  const body = typeof payload === "string" ? Buffer.from(payload) : payload;
  const head = Buffer.alloc(5);
  head[0] = type;
  head.writeUInt32BE(body.length, 1);
  return Buffer.concat([head, body]);
}
async function* readFrames(input) {
  let buffered = Buffer.alloc(0);
  for await (const chunk of input) {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    while (buffered.length >= 5) {
      const length = buffered.readUInt32BE(1);
      if (buffered.length < 5 + length)
        break;
      yield { type: buffered[0], payload: buffered.subarray(5, 5 + length) };
      buffered = buffered.subarray(5 + length);
    }
  }
  if (buffered.length > 0)
    throw new Error("the RUN helper ended in the middle of a message");
}

// packages/core/dist/run/step-runner.js
import { spawn as spawn5, spawnSync as spawnSync3 } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod as chmod3, chown as chown3, lstat as lstat7, readdir as readdir8, rm as rm5 } from "node:fs/promises";
import { basename as basename3, dirname as dirname3, join as join9 } from "node:path";
import { fileURLToPath } from "node:url";

// packages/core/dist/layer/entry.js
var WHITEOUT_PREFIX = ".wh.";
var OPAQUE_WHITEOUT = ".wh..wh..opq";
var LayerEntryError = class extends KilnError {
};
function entryPathProblem(path) {
  if (path === "")
    return "the path is empty";
  if (path.includes("\0"))
    return "the path contains a NUL byte";
  if (path.startsWith("/"))
    return 'the path must be relative to the root (no leading "/")';
  if (path.endsWith("/"))
    return 'the path must not end with "/"';
  for (const segment of path.split("/")) {
    if (segment === "")
      return 'the path contains an empty segment ("//")';
    if (segment === "." || segment === "..")
      return `the path contains a "${segment}" segment`;
  }
  return void 0;
}
function validateEntryPath(path, what = "layer entry path") {
  const problem = entryPathProblem(path);
  if (problem)
    throw new LayerEntryError(`invalid ${what} ${JSON.stringify(path)}: ${problem}`);
}
function cleanArchivePath(path) {
  const out = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".")
      continue;
    if (segment === "..") {
      if (out.length === 0)
        return void 0;
      out.pop();
      continue;
    }
    out.push(segment);
  }
  return out.join("/");
}
function comparePaths(a, b2) {
  if (a === b2)
    return 0;
  return Buffer.compare(Buffer.from(a, "utf8"), Buffer.from(b2, "utf8"));
}
function parentPath(path) {
  const i = path.lastIndexOf("/");
  return i < 0 ? "" : path.slice(0, i);
}
function baseName(path) {
  return path.slice(path.lastIndexOf("/") + 1);
}

// packages/core/dist/layer/writer.js
import { createHash as createHash3 } from "node:crypto";
import { closeSync, constants as fsc, openSync, readSync } from "node:fs";
import { open as open3, stat as stat2 } from "node:fs/promises";
import { Readable as Readable3 } from "node:stream";

// packages/core/dist/archive/compression.js
import { spawn } from "node:child_process";
import { open as open2 } from "node:fs/promises";
import { Readable as Readable2, pipeline } from "node:stream";
import * as zlib from "node:zlib";

// packages/core/dist/archive/parallel-gzip.js
import { promisify } from "node:util";
import { constants as zc, crc32, deflateRaw } from "node:zlib";
var deflateRawAsync = promisify(deflateRaw);
var GZIP_BLOCK_SIZE = 1024 * 1024;
var OUTPUT_CHUNK = GZIP_BLOCK_SIZE + 64 * 1024;
var WINDOW = 32 * 1024;
var EMPTY_FINAL_BLOCK = Buffer.from([3, 0]);
var OS_UNKNOWN = 255;
function gzipHeader(level) {
  const xfl = level === 9 ? 2 : level < 2 ? 4 : 0;
  return Buffer.from([31, 139, 8, 0, 0, 0, 0, 0, xfl, OS_UNKNOWN]);
}
async function* parallelGzip(source, options) {
  const { level } = options;
  const concurrency = Math.max(1, options.concurrency ?? 3);
  const inFlight = [];
  let crc = 0;
  let length = 0;
  let previous;
  const deflateBlock = (block2) => {
    crc = crc32(block2, crc);
    length += block2.length;
    const options2 = { level, memLevel: 8, strategy: zc.Z_DEFAULT_STRATEGY, finishFlush: zc.Z_SYNC_FLUSH, chunkSize: OUTPUT_CHUNK };
    if (previous)
      options2.dictionary = previous.subarray(Math.max(0, previous.length - WINDOW));
    const job = deflateRawAsync(block2, options2);
    job.catch(() => void 0);
    inFlight.push(job);
    previous = block2;
  };
  yield gzipHeader(level);
  let block = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
  let filled = 0;
  for await (const chunk of source) {
    let offset = 0;
    while (offset < chunk.length) {
      const n = Math.min(chunk.length - offset, GZIP_BLOCK_SIZE - filled);
      chunk.copy(block, filled, offset, offset + n);
      filled += n;
      offset += n;
      if (filled === GZIP_BLOCK_SIZE) {
        deflateBlock(block);
        block = Buffer.allocUnsafe(GZIP_BLOCK_SIZE);
        filled = 0;
        if (inFlight.length >= concurrency)
          yield await inFlight.shift();
      }
    }
  }
  if (filled > 0)
    deflateBlock(block.subarray(0, filled));
  while (inFlight.length > 0)
    yield await inFlight.shift();
  const trailer = Buffer.alloc(8);
  trailer.writeUInt32LE(crc >>> 0, 0);
  trailer.writeUInt32LE(length % 2 ** 32, 4);
  yield Buffer.concat([EMPTY_FINAL_BLOCK, trailer]);
}

// packages/core/dist/archive/compression.js
var UnsupportedCompressionError = class extends KilnError {
};
var MAGIC = [
  ["gzip", [31, 139]],
  ["bzip2", [66, 90, 104]],
  // "BZh"
  ["xz", [253, 55, 122, 88, 90, 0]],
  ["zstd", [40, 181, 47, 253]]
];
var SNIFF_LENGTH = 6;
function sniffCompression(head) {
  for (const [kind, magic] of MAGIC) {
    if (head.length >= magic.length && magic.every((b2, i) => head[i] === b2))
      return kind;
  }
  return "none";
}
async function sniffFileCompression(file) {
  const fh = await open2(file, "r");
  try {
    const head = Buffer.alloc(SNIFF_LENGTH);
    const { bytesRead } = await fh.read(head, 0, SNIFF_LENGTH, 0);
    return sniffCompression(head.subarray(0, bytesRead));
  } finally {
    await fh.close();
  }
}
function hasZstd() {
  return typeof zlib.createZstdDecompress === "function";
}
function decompressor(compression) {
  switch (compression) {
    case "gzip":
      return zlib.createGunzip({ chunkSize: 128 * 1024 });
    case "zstd":
      return hasZstd() ? zlib.createZstdDecompress() : void 0;
    default:
      return void 0;
  }
}
var COMMANDS = {
  bzip2: { command: "bzip2", debianPackage: "bzip2" },
  xz: { command: "xz", debianPackage: "xz-utils" },
  zstd: { command: "zstd", debianPackage: "zstd" }
};
function decompress(source, compression, options = {}) {
  if (compression === "none")
    return source;
  const what = options.what ?? "data";
  const transform = decompressor(compression);
  if (transform)
    return pipeline(source, transform, () => void 0);
  const command = COMMANDS[compression];
  if (!command)
    throw new UnsupportedCompressionError(`unsupported compression ${JSON.stringify(compression)}`);
  if (options.commands)
    return decompressWithCommand(source, command.command, command.debianPackage, what);
  const why = compression === "zstd" ? "node:zlib has no zstd before 22.15" : `node:zlib has no ${compression}`;
  throw new UnsupportedCompressionError(`${compression}-compressed ${what} are not supported on Node.js ${process.version} (${why}); use gzip${compression === "zstd" ? " or run Kiln on a newer Node.js" : ""}`);
}
function decompressWithCommand(source, command, debianPackage, what) {
  const child = spawn(command, ["-dc"], { stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  child.stderr.setEncoding("utf8");
  child.stderr.on("data", (s3) => {
    if (stderr.length < 4096)
      stderr += s3;
  });
  const exited = new Promise((res, rej) => {
    child.once("error", rej);
    child.once("close", (code) => res(code));
  });
  exited.catch(() => void 0);
  child.stdin.on("error", () => void 0);
  let sourceError;
  source.on("error", (err) => {
    sourceError ??= err;
    child.stdin.destroy();
  });
  source.pipe(child.stdin);
  const stop = () => {
    if (child.exitCode === null && child.signalCode === null)
      child.kill();
    source.unpipe(child.stdin);
    source.destroy();
  };
  async function* run2() {
    try {
      for await (const chunk of child.stdout)
        yield chunk;
      let code;
      try {
        code = await exited;
      } catch (err) {
        const e = err;
        throw new KilnError(e.code === "ENOENT" ? `cannot decompress ${what}: the '${command}' command is not installed (on Debian: apt-get install ${debianPackage})` : `cannot decompress ${what} with ${command}: ${e.message}`);
      }
      if (sourceError !== void 0)
        throw sourceError;
      if (code !== 0)
        throw new KilnError(`cannot decompress ${what}: ${command} exited with ${String(code)}: ${stderr.trim()}`);
    } finally {
      stop();
    }
  }
  const out = Readable2.from(run2(), { objectMode: false });
  out.once("close", stop);
  return out;
}

// node_modules/tar/dist/esm/index.min.js
import Qr from "events";
import I from "fs";
import { EventEmitter as Di } from "node:events";
import Cs from "node:stream";
import { StringDecoder as Hr } from "node:string_decoder";
import cr from "node:path";
import Kt from "node:fs";
import { dirname as Fn, parse as kn } from "path";
import { EventEmitter as Dn } from "events";
import zi from "assert";
import { Buffer as Ot } from "buffer";
import * as Ps from "zlib";
import en from "zlib";
import { posix as Zt } from "node:path";
import { basename as _n } from "node:path";
import mi from "fs";
import X from "fs";
import js from "path";
import { win32 as Pn } from "node:path";
import ar from "path";
import Br from "node:fs";
import co from "node:assert";
import { randomBytes as Mr } from "node:crypto";
import u from "node:fs";
import R from "node:path";
import pr from "fs";
import wi from "node:fs";
import we from "node:path";
import k from "node:fs";
import ro from "node:fs/promises";
import Si from "node:path";
import { join as xr } from "node:path";
import v from "node:fs";
import Pr from "node:path";
var zr = Object.defineProperty;
var Ur = (s3, t) => {
  for (var e in t) zr(s3, e, { get: t[e], enumerable: true });
};
var Ds = typeof process == "object" && process ? process : { stdout: null, stderr: null };
var Wr = (s3) => !!s3 && typeof s3 == "object" && (s3 instanceof A || s3 instanceof Cs || Gr(s3) || Zr(s3));
var Gr = (s3) => !!s3 && typeof s3 == "object" && s3 instanceof Di && typeof s3.pipe == "function" && s3.pipe !== Cs.Writable.prototype.pipe;
var Zr = (s3) => !!s3 && typeof s3 == "object" && s3 instanceof Di && typeof s3.write == "function" && typeof s3.end == "function";
var Q = /* @__PURE__ */ Symbol("EOF");
var J = /* @__PURE__ */ Symbol("maybeEmitEnd");
var nt = /* @__PURE__ */ Symbol("emittedEnd");
var De = /* @__PURE__ */ Symbol("emittingEnd");
var qt = /* @__PURE__ */ Symbol("emittedError");
var Ne = /* @__PURE__ */ Symbol("closed");
var Ns = /* @__PURE__ */ Symbol("read");
var Ae = /* @__PURE__ */ Symbol("flush");
var As = /* @__PURE__ */ Symbol("flushChunk");
var z = /* @__PURE__ */ Symbol("encoding");
var Mt = /* @__PURE__ */ Symbol("decoder");
var g = /* @__PURE__ */ Symbol("flowing");
var Qt = /* @__PURE__ */ Symbol("paused");
var Bt = /* @__PURE__ */ Symbol("resume");
var b = /* @__PURE__ */ Symbol("buffer");
var N = /* @__PURE__ */ Symbol("pipes");
var _ = /* @__PURE__ */ Symbol("bufferLength");
var bi = /* @__PURE__ */ Symbol("bufferPush");
var Ie = /* @__PURE__ */ Symbol("bufferShift");
var L = /* @__PURE__ */ Symbol("objectMode");
var S = /* @__PURE__ */ Symbol("destroyed");
var _i = /* @__PURE__ */ Symbol("error");
var Oi = /* @__PURE__ */ Symbol("emitData");
var Is = /* @__PURE__ */ Symbol("emitEnd");
var Ti = /* @__PURE__ */ Symbol("emitEnd2");
var Z = /* @__PURE__ */ Symbol("async");
var xi = /* @__PURE__ */ Symbol("abort");
var Ce = /* @__PURE__ */ Symbol("aborted");
var Jt = /* @__PURE__ */ Symbol("signal");
var Rt = /* @__PURE__ */ Symbol("dataListeners");
var C = /* @__PURE__ */ Symbol("discarded");
var jt = (s3) => Promise.resolve().then(s3);
var Yr = (s3) => s3();
var Kr = (s3) => s3 === "end" || s3 === "finish" || s3 === "prefinish";
var Vr = (s3) => s3 instanceof ArrayBuffer || !!s3 && typeof s3 == "object" && s3.constructor && s3.constructor.name === "ArrayBuffer" && s3.byteLength >= 0;
var $r = (s3) => !Buffer.isBuffer(s3) && ArrayBuffer.isView(s3);
var Fe = class {
  src;
  dest;
  opts;
  ondrain;
  constructor(t, e, i) {
    this.src = t, this.dest = e, this.opts = i, this.ondrain = () => t[Bt](), this.dest.on("drain", this.ondrain);
  }
  unpipe() {
    this.dest.removeListener("drain", this.ondrain);
  }
  proxyErrors(t) {
  }
  end() {
    this.unpipe(), this.opts.end && this.dest.end();
  }
};
var Li = class extends Fe {
  unpipe() {
    this.src.removeListener("error", this.proxyErrors), super.unpipe();
  }
  constructor(t, e, i) {
    super(t, e, i), this.proxyErrors = (r) => this.dest.emit("error", r), t.on("error", this.proxyErrors);
  }
};
var Xr = (s3) => !!s3.objectMode;
var qr = (s3) => !s3.objectMode && !!s3.encoding && s3.encoding !== "buffer";
var A = class extends Di {
  [g] = false;
  [Qt] = false;
  [N] = [];
  [b] = [];
  [L];
  [z];
  [Z];
  [Mt];
  [Q] = false;
  [nt] = false;
  [De] = false;
  [Ne] = false;
  [qt] = null;
  [_] = 0;
  [S] = false;
  [Jt];
  [Ce] = false;
  [Rt] = 0;
  [C] = false;
  writable = true;
  readable = true;
  constructor(...t) {
    let e = t[0] || {};
    if (super(), e.objectMode && typeof e.encoding == "string") throw new TypeError("Encoding and objectMode may not be used together");
    Xr(e) ? (this[L] = true, this[z] = null) : qr(e) ? (this[z] = e.encoding, this[L] = false) : (this[L] = false, this[z] = null), this[Z] = !!e.async, this[Mt] = this[z] ? new Hr(this[z]) : null, e && e.debugExposeBuffer === true && Object.defineProperty(this, "buffer", { get: () => this[b] }), e && e.debugExposePipes === true && Object.defineProperty(this, "pipes", { get: () => this[N] });
    let { signal: i } = e;
    i && (this[Jt] = i, i.aborted ? this[xi]() : i.addEventListener("abort", () => this[xi]()));
  }
  get bufferLength() {
    return this[_];
  }
  get encoding() {
    return this[z];
  }
  set encoding(t) {
    throw new Error("Encoding must be set at instantiation time");
  }
  setEncoding(t) {
    throw new Error("Encoding must be set at instantiation time");
  }
  get objectMode() {
    return this[L];
  }
  set objectMode(t) {
    throw new Error("objectMode must be set at instantiation time");
  }
  get async() {
    return this[Z];
  }
  set async(t) {
    this[Z] = this[Z] || !!t;
  }
  [xi]() {
    this[Ce] = true, this.emit("abort", this[Jt]?.reason), this.destroy(this[Jt]?.reason);
  }
  get aborted() {
    return this[Ce];
  }
  set aborted(t) {
  }
  write(t, e, i) {
    if (this[Ce]) return false;
    if (this[Q]) throw new Error("write after end");
    if (this[S]) return this.emit("error", Object.assign(new Error("Cannot call write after a stream was destroyed"), { code: "ERR_STREAM_DESTROYED" })), true;
    typeof e == "function" && (i = e, e = "utf8"), e || (e = "utf8");
    let r = this[Z] ? jt : Yr;
    if (!this[L] && !Buffer.isBuffer(t)) {
      if ($r(t)) t = Buffer.from(t.buffer, t.byteOffset, t.byteLength);
      else if (Vr(t)) t = Buffer.from(t);
      else if (typeof t != "string") throw new Error("Non-contiguous data written to non-objectMode stream");
    }
    return this[L] ? (this[g] && this[_] !== 0 && this[Ae](true), this[g] ? this.emit("data", t) : this[bi](t), this[_] !== 0 && this.emit("readable"), i && r(i), this[g]) : t.length ? (typeof t == "string" && !(e === this[z] && !this[Mt]?.lastNeed) && (t = Buffer.from(t, e)), Buffer.isBuffer(t) && this[z] && (t = this[Mt].write(t)), this[g] && this[_] !== 0 && this[Ae](true), this[g] ? this.emit("data", t) : this[bi](t), this[_] !== 0 && this.emit("readable"), i && r(i), this[g]) : (this[_] !== 0 && this.emit("readable"), i && r(i), this[g]);
  }
  read(t) {
    if (this[S]) return null;
    if (this[C] = false, this[_] === 0 || t === 0 || t && t > this[_]) return this[J](), null;
    this[L] && (t = null), this[b].length > 1 && !this[L] && (this[b] = [this[z] ? this[b].join("") : Buffer.concat(this[b], this[_])]);
    let e = this[Ns](t || null, this[b][0]);
    return this[J](), e;
  }
  [Ns](t, e) {
    if (this[L]) this[Ie]();
    else {
      let i = e;
      t === i.length || t === null ? this[Ie]() : typeof i == "string" ? (this[b][0] = i.slice(t), e = i.slice(0, t), this[_] -= t) : (this[b][0] = i.subarray(t), e = i.subarray(0, t), this[_] -= t);
    }
    return this.emit("data", e), !this[b].length && !this[Q] && this.emit("drain"), e;
  }
  end(t, e, i) {
    return typeof t == "function" && (i = t, t = void 0), typeof e == "function" && (i = e, e = "utf8"), t !== void 0 && this.write(t, e), i && this.once("end", i), this[Q] = true, this.writable = false, (this[g] || !this[Qt]) && this[J](), this;
  }
  [Bt]() {
    this[S] || (!this[Rt] && !this[N].length && (this[C] = true), this[Qt] = false, this[g] = true, this.emit("resume"), this[b].length ? this[Ae]() : this[Q] ? this[J]() : this.emit("drain"));
  }
  resume() {
    return this[Bt]();
  }
  pause() {
    this[g] = false, this[Qt] = true, this[C] = false;
  }
  get destroyed() {
    return this[S];
  }
  get flowing() {
    return this[g];
  }
  get paused() {
    return this[Qt];
  }
  [bi](t) {
    this[L] ? this[_] += 1 : this[_] += t.length, this[b].push(t);
  }
  [Ie]() {
    return this[L] ? this[_] -= 1 : this[_] -= this[b][0].length, this[b].shift();
  }
  [Ae](t = false) {
    do
      ;
    while (this[As](this[Ie]()) && this[b].length);
    !t && !this[b].length && !this[Q] && this.emit("drain");
  }
  [As](t) {
    return this.emit("data", t), this[g];
  }
  pipe(t, e) {
    if (this[S]) return t;
    this[C] = false;
    let i = this[nt];
    return e = e || {}, t === Ds.stdout || t === Ds.stderr ? e.end = false : e.end = e.end !== false, e.proxyErrors = !!e.proxyErrors, i ? e.end && t.end() : (this[N].push(e.proxyErrors ? new Li(this, t, e) : new Fe(this, t, e)), this[Z] ? jt(() => this[Bt]()) : this[Bt]()), t;
  }
  unpipe(t) {
    let e = this[N].find((i) => i.dest === t);
    e && (this[N].length === 1 ? (this[g] && this[Rt] === 0 && (this[g] = false), this[N] = []) : this[N].splice(this[N].indexOf(e), 1), e.unpipe());
  }
  addListener(t, e) {
    return this.on(t, e);
  }
  on(t, e) {
    let i = super.on(t, e);
    if (t === "data") this[C] = false, this[Rt]++, !this[N].length && !this[g] && this[Bt]();
    else if (t === "readable" && this[_] !== 0) super.emit("readable");
    else if (Kr(t) && this[nt]) super.emit(t), this.removeAllListeners(t);
    else if (t === "error" && this[qt]) {
      let r = e;
      this[Z] ? jt(() => r.call(this, this[qt])) : r.call(this, this[qt]);
    }
    return i;
  }
  removeListener(t, e) {
    return this.off(t, e);
  }
  off(t, e) {
    let i = super.off(t, e);
    return t === "data" && (this[Rt] = this.listeners("data").length, this[Rt] === 0 && !this[C] && !this[N].length && (this[g] = false)), i;
  }
  removeAllListeners(t) {
    let e = super.removeAllListeners(t);
    return (t === "data" || t === void 0) && (this[Rt] = 0, !this[C] && !this[N].length && (this[g] = false)), e;
  }
  get emittedEnd() {
    return this[nt];
  }
  [J]() {
    !this[De] && !this[nt] && !this[S] && this[b].length === 0 && this[Q] && (this[De] = true, this.emit("end"), this.emit("prefinish"), this.emit("finish"), this[Ne] && this.emit("close"), this[De] = false);
  }
  emit(t, ...e) {
    let i = e[0];
    if (t !== "error" && t !== "close" && t !== S && this[S]) return false;
    if (t === "data") return !this[L] && !i ? false : this[Z] ? (jt(() => this[Oi](i)), true) : this[Oi](i);
    if (t === "end") return this[Is]();
    if (t === "close") {
      if (this[Ne] = true, !this[nt] && !this[S]) return false;
      let n = super.emit("close");
      return this.removeAllListeners("close"), n;
    } else if (t === "error") {
      this[qt] = i, super.emit(_i, i);
      let n = !this[Jt] || this.listeners("error").length ? super.emit("error", i) : false;
      return this[J](), n;
    } else if (t === "resume") {
      let n = super.emit("resume");
      return this[J](), n;
    } else if (t === "finish" || t === "prefinish") {
      let n = super.emit(t);
      return this.removeAllListeners(t), n;
    }
    let r = super.emit(t, ...e);
    return this[J](), r;
  }
  [Oi](t) {
    for (let i of this[N]) i.dest.write(t) === false && this.pause();
    let e = this[C] ? false : super.emit("data", t);
    return this[J](), e;
  }
  [Is]() {
    return this[nt] ? false : (this[nt] = true, this.readable = false, this[Z] ? (jt(() => this[Ti]()), true) : this[Ti]());
  }
  [Ti]() {
    if (this[Mt]) {
      let e = this[Mt].end();
      if (e) {
        for (let i of this[N]) i.dest.write(e);
        this[C] || super.emit("data", e);
      }
    }
    for (let e of this[N]) e.end();
    let t = super.emit("end");
    return this.removeAllListeners("end"), t;
  }
  async collect() {
    let t = Object.assign([], { dataLength: 0 });
    this[L] || (t.dataLength = 0);
    let e = this.promise();
    return this.on("data", (i) => {
      t.push(i), this[L] || (t.dataLength += i.length);
    }), await e, t;
  }
  async concat() {
    if (this[L]) throw new Error("cannot concat in objectMode");
    let t = await this.collect();
    return this[z] ? t.join("") : Buffer.concat(t, t.dataLength);
  }
  async promise() {
    return new Promise((t, e) => {
      this.on(S, () => e(new Error("stream destroyed"))), this.on("error", (i) => e(i)), this.on("end", () => t());
    });
  }
  [Symbol.asyncIterator]() {
    this[C] = false;
    let t = false, e = async () => (this.pause(), t = true, { value: void 0, done: true });
    return { next: () => {
      if (t) return e();
      let r = this.read();
      if (r !== null) return Promise.resolve({ done: false, value: r });
      if (this[Q]) return e();
      let n, o, h = (d) => {
        this.off("data", a), this.off("end", l), this.off(S, c), e(), o(d);
      }, a = (d) => {
        this.off("error", h), this.off("end", l), this.off(S, c), this.pause(), n({ value: d, done: !!this[Q] });
      }, l = () => {
        this.off("error", h), this.off("data", a), this.off(S, c), e(), n({ done: true, value: void 0 });
      }, c = () => h(new Error("stream destroyed"));
      return new Promise((d, y) => {
        o = y, n = d, this.once(S, c), this.once("error", h), this.once("end", l), this.once("data", a);
      });
    }, throw: e, return: e, [Symbol.asyncIterator]() {
      return this;
    }, [Symbol.asyncDispose]: async () => {
    } };
  }
  [Symbol.iterator]() {
    this[C] = false;
    let t = false, e = () => (this.pause(), this.off(_i, e), this.off(S, e), this.off("end", e), t = true, { done: true, value: void 0 }), i = () => {
      if (t) return e();
      let r = this.read();
      return r === null ? e() : { done: false, value: r };
    };
    return this.once("end", e), this.once(_i, e), this.once(S, e), { next: i, throw: e, return: e, [Symbol.iterator]() {
      return this;
    }, [Symbol.dispose]: () => {
    } };
  }
  destroy(t) {
    if (this[S]) return t ? this.emit("error", t) : this.emit(S), this;
    this[S] = true, this[C] = true, this[b].length = 0, this[_] = 0;
    let e = this;
    return typeof e.close == "function" && !this[Ne] && e.close(), t ? this.emit("error", t) : this.emit(S), this;
  }
  static get isStream() {
    return Wr;
  }
};
var Jr = I.writev;
var ht = /* @__PURE__ */ Symbol("_autoClose");
var H = /* @__PURE__ */ Symbol("_close");
var te = /* @__PURE__ */ Symbol("_ended");
var m = /* @__PURE__ */ Symbol("_fd");
var Ni = /* @__PURE__ */ Symbol("_finished");
var tt = /* @__PURE__ */ Symbol("_flags");
var Ai = /* @__PURE__ */ Symbol("_flush");
var ki = /* @__PURE__ */ Symbol("_handleChunk");
var vi = /* @__PURE__ */ Symbol("_makeBuf");
var ie = /* @__PURE__ */ Symbol("_mode");
var ke = /* @__PURE__ */ Symbol("_needDrain");
var Ut = /* @__PURE__ */ Symbol("_onerror");
var Ht = /* @__PURE__ */ Symbol("_onopen");
var Ii = /* @__PURE__ */ Symbol("_onread");
var Pt = /* @__PURE__ */ Symbol("_onwrite");
var at = /* @__PURE__ */ Symbol("_open");
var U = /* @__PURE__ */ Symbol("_path");
var ot = /* @__PURE__ */ Symbol("_pos");
var Y = /* @__PURE__ */ Symbol("_queue");
var zt = /* @__PURE__ */ Symbol("_read");
var Ci = /* @__PURE__ */ Symbol("_readSize");
var j = /* @__PURE__ */ Symbol("_reading");
var ee = /* @__PURE__ */ Symbol("_remain");
var Fi = /* @__PURE__ */ Symbol("_size");
var ve = /* @__PURE__ */ Symbol("_write");
var gt = /* @__PURE__ */ Symbol("_writing");
var Me = /* @__PURE__ */ Symbol("_defaultFlag");
var bt = /* @__PURE__ */ Symbol("_errored");
var _t = class extends A {
  [bt] = false;
  [m];
  [U];
  [Ci];
  [j] = false;
  [Fi];
  [ee];
  [ht];
  constructor(t, e) {
    if (e = e || {}, super(e), this.readable = true, this.writable = false, typeof t != "string") throw new TypeError("path must be a string");
    this[bt] = false, this[m] = typeof e.fd == "number" ? e.fd : void 0, this[U] = t, this[Ci] = e.readSize || 16 * 1024 * 1024, this[j] = false, this[Fi] = typeof e.size == "number" ? e.size : 1 / 0, this[ee] = this[Fi], this[ht] = typeof e.autoClose == "boolean" ? e.autoClose : true, typeof this[m] == "number" ? this[zt]() : this[at]();
  }
  get fd() {
    return this[m];
  }
  get path() {
    return this[U];
  }
  write() {
    throw new TypeError("this is a readable stream");
  }
  end() {
    throw new TypeError("this is a readable stream");
  }
  [at]() {
    I.open(this[U], "r", (t, e) => this[Ht](t, e));
  }
  [Ht](t, e) {
    t ? this[Ut](t) : (this[m] = e, this.emit("open", e), this[zt]());
  }
  [vi]() {
    return Buffer.allocUnsafe(Math.min(this[Ci], this[ee]));
  }
  [zt]() {
    if (!this[j]) {
      this[j] = true;
      let t = this[vi]();
      if (t.length === 0) return process.nextTick(() => this[Ii](null, 0, t));
      I.read(this[m], t, 0, t.length, null, (e, i, r) => this[Ii](e, i, r));
    }
  }
  [Ii](t, e, i) {
    this[j] = false, t ? this[Ut](t) : this[ki](e, i) && this[zt]();
  }
  [H]() {
    if (this[ht] && typeof this[m] == "number") {
      let t = this[m];
      this[m] = void 0, I.close(t, (e) => e ? this.emit("error", e) : this.emit("close"));
    }
  }
  [Ut](t) {
    this[j] = true, this[H](), this.emit("error", t);
  }
  [ki](t, e) {
    let i = false;
    return this[ee] -= t, t > 0 && (i = super.write(t < e.length ? e.subarray(0, t) : e)), (t === 0 || this[ee] <= 0) && (i = false, this[H](), super.end()), i;
  }
  emit(t, ...e) {
    switch (t) {
      case "prefinish":
      case "finish":
        return false;
      case "drain":
        return typeof this[m] == "number" && this[zt](), false;
      case "error":
        return this[bt] ? false : (this[bt] = true, super.emit(t, ...e));
      default:
        return super.emit(t, ...e);
    }
  }
};
var Be = class extends _t {
  [at]() {
    let t = true;
    try {
      this[Ht](null, I.openSync(this[U], "r")), t = false;
    } finally {
      t && this[H]();
    }
  }
  [zt]() {
    let t = true;
    try {
      if (!this[j]) {
        this[j] = true;
        do {
          let e = this[vi](), i = e.length === 0 ? 0 : I.readSync(this[m], e, 0, e.length, null);
          if (!this[ki](i, e)) break;
        } while (true);
        this[j] = false;
      }
      t = false;
    } finally {
      t && this[H]();
    }
  }
  [H]() {
    if (this[ht] && typeof this[m] == "number") {
      let t = this[m];
      this[m] = void 0, I.closeSync(t), this.emit("close");
    }
  }
};
var et = class extends Qr {
  readable = false;
  writable = true;
  [bt] = false;
  [gt] = false;
  [te] = false;
  [Y] = [];
  [ke] = false;
  [U];
  [ie];
  [ht];
  [m];
  [Me];
  [tt];
  [Ni] = false;
  [ot];
  constructor(t, e) {
    e = e || {}, super(e), this[U] = t, this[m] = typeof e.fd == "number" ? e.fd : void 0, this[ie] = e.mode === void 0 ? 438 : e.mode, this[ot] = typeof e.start == "number" ? e.start : void 0, this[ht] = typeof e.autoClose == "boolean" ? e.autoClose : true;
    let i = this[ot] !== void 0 ? "r+" : "w";
    this[Me] = e.flags === void 0, this[tt] = e.flags === void 0 ? i : e.flags, this[m] === void 0 && this[at]();
  }
  emit(t, ...e) {
    if (t === "error") {
      if (this[bt]) return false;
      this[bt] = true;
    }
    return super.emit(t, ...e);
  }
  get fd() {
    return this[m];
  }
  get path() {
    return this[U];
  }
  [Ut](t) {
    this[H](), this[gt] = true, this.emit("error", t);
  }
  [at]() {
    I.open(this[U], this[tt], this[ie], (t, e) => this[Ht](t, e));
  }
  [Ht](t, e) {
    this[Me] && this[tt] === "r+" && t && t.code === "ENOENT" ? (this[tt] = "w", this[at]()) : t ? this[Ut](t) : (this[m] = e, this.emit("open", e), this[gt] || this[Ai]());
  }
  end(t, e) {
    return t && this.write(t, e), this[te] = true, !this[gt] && !this[Y].length && typeof this[m] == "number" && this[Pt](null, 0), this;
  }
  write(t, e) {
    return typeof t == "string" && (t = Buffer.from(t, e)), this[te] ? (this.emit("error", new Error("write() after end()")), false) : this[m] === void 0 || this[gt] || this[Y].length ? (this[Y].push(t), this[ke] = true, false) : (this[gt] = true, this[ve](t), true);
  }
  [ve](t) {
    I.write(this[m], t, 0, t.length, this[ot], (e, i) => this[Pt](e, i));
  }
  [Pt](t, e) {
    t ? this[Ut](t) : (this[ot] !== void 0 && typeof e == "number" && (this[ot] += e), this[Y].length ? this[Ai]() : (this[gt] = false, this[te] && !this[Ni] ? (this[Ni] = true, this[H](), this.emit("finish")) : this[ke] && (this[ke] = false, this.emit("drain"))));
  }
  [Ai]() {
    if (this[Y].length === 0) this[te] && this[Pt](null, 0);
    else if (this[Y].length === 1) this[ve](this[Y].pop());
    else {
      let t = this[Y];
      this[Y] = [], Jr(this[m], t, this[ot], (e, i) => this[Pt](e, i));
    }
  }
  [H]() {
    if (this[ht] && typeof this[m] == "number") {
      let t = this[m];
      this[m] = void 0, I.close(t, (e) => e ? this.emit("error", e) : this.emit("close"));
    }
  }
};
var Wt = class extends et {
  [at]() {
    let t;
    if (this[Me] && this[tt] === "r+") try {
      t = I.openSync(this[U], this[tt], this[ie]);
    } catch (e) {
      if (e?.code === "ENOENT") return this[tt] = "w", this[at]();
      throw e;
    }
    else t = I.openSync(this[U], this[tt], this[ie]);
    this[Ht](null, t);
  }
  [H]() {
    if (this[ht] && typeof this[m] == "number") {
      let t = this[m];
      this[m] = void 0, I.closeSync(t), this.emit("close");
    }
  }
  [ve](t) {
    let e = true;
    try {
      this[Pt](null, I.writeSync(this[m], t, 0, t.length, this[ot])), e = false;
    } finally {
      if (e) try {
        this[H]();
      } catch {
      }
    }
  }
};
var jr = /* @__PURE__ */ new Map([["C", "cwd"], ["f", "file"], ["z", "gzip"], ["P", "preservePaths"], ["U", "unlink"], ["strip-components", "strip"], ["stripComponents", "strip"], ["keep-newer", "newer"], ["keepNewer", "newer"], ["keep-newer-files", "newer"], ["keepNewerFiles", "newer"], ["k", "keep"], ["keep-existing", "keep"], ["keepExisting", "keep"], ["m", "noMtime"], ["no-mtime", "noMtime"], ["p", "preserveOwner"], ["L", "follow"], ["h", "follow"], ["onentry", "onReadEntry"]]);
var Fs = (s3) => !!s3.sync && !!s3.file;
var ks = (s3) => !s3.sync && !!s3.file;
var vs = (s3) => !!s3.sync && !s3.file;
var Ms = (s3) => !s3.sync && !s3.file;
var Bs = (s3) => !!s3.file;
var tn = (s3) => {
  let t = jr.get(s3);
  return t || s3;
};
var se = (s3 = {}) => {
  if (!s3) return {};
  let t = {};
  for (let [e, i] of Object.entries(s3)) {
    let r = tn(e);
    t[r] = i;
  }
  return t.chmod === void 0 && t.noChmod === false && (t.chmod = true), delete t.noChmod, t;
};
var K = (s3, t, e, i, r) => Object.assign((n = [], o, h) => {
  Array.isArray(n) && (o = n, n = {}), typeof o == "function" && (h = o, o = void 0), o = o ? Array.from(o) : [];
  let a = se(n);
  if (r?.(a, o), Fs(a)) {
    if (typeof h == "function") throw new TypeError("callback not supported for sync tar functions");
    return s3(a, o);
  } else if (ks(a)) {
    let l = t(a, o);
    return h ? l.then(() => h(), h) : l;
  } else if (vs(a)) {
    if (typeof h == "function") throw new TypeError("callback not supported for sync tar functions");
    return e(a, o);
  } else if (Ms(a)) {
    if (typeof h == "function") throw new TypeError("callback only supported with file option");
    return i(a, o);
  }
  throw new Error("impossible options??");
}, { syncFile: s3, asyncFile: t, syncNoFile: e, asyncNoFile: i, validate: r });
var sn = en.constants || { ZLIB_VERNUM: 4736 };
var M = Object.freeze(Object.assign(/* @__PURE__ */ Object.create(null), { Z_NO_FLUSH: 0, Z_PARTIAL_FLUSH: 1, Z_SYNC_FLUSH: 2, Z_FULL_FLUSH: 3, Z_FINISH: 4, Z_BLOCK: 5, Z_OK: 0, Z_STREAM_END: 1, Z_NEED_DICT: 2, Z_ERRNO: -1, Z_STREAM_ERROR: -2, Z_DATA_ERROR: -3, Z_MEM_ERROR: -4, Z_BUF_ERROR: -5, Z_VERSION_ERROR: -6, Z_NO_COMPRESSION: 0, Z_BEST_SPEED: 1, Z_BEST_COMPRESSION: 9, Z_DEFAULT_COMPRESSION: -1, Z_FILTERED: 1, Z_HUFFMAN_ONLY: 2, Z_RLE: 3, Z_FIXED: 4, Z_DEFAULT_STRATEGY: 0, DEFLATE: 1, INFLATE: 2, GZIP: 3, GUNZIP: 4, DEFLATERAW: 5, INFLATERAW: 6, UNZIP: 7, BROTLI_DECODE: 8, BROTLI_ENCODE: 9, Z_MIN_WINDOWBITS: 8, Z_MAX_WINDOWBITS: 15, Z_DEFAULT_WINDOWBITS: 15, Z_MIN_CHUNK: 64, Z_MAX_CHUNK: 1 / 0, Z_DEFAULT_CHUNK: 16384, Z_MIN_MEMLEVEL: 1, Z_MAX_MEMLEVEL: 9, Z_DEFAULT_MEMLEVEL: 8, Z_MIN_LEVEL: -1, Z_MAX_LEVEL: 9, Z_DEFAULT_LEVEL: -1, BROTLI_OPERATION_PROCESS: 0, BROTLI_OPERATION_FLUSH: 1, BROTLI_OPERATION_FINISH: 2, BROTLI_OPERATION_EMIT_METADATA: 3, BROTLI_MODE_GENERIC: 0, BROTLI_MODE_TEXT: 1, BROTLI_MODE_FONT: 2, BROTLI_DEFAULT_MODE: 0, BROTLI_MIN_QUALITY: 0, BROTLI_MAX_QUALITY: 11, BROTLI_DEFAULT_QUALITY: 11, BROTLI_MIN_WINDOW_BITS: 10, BROTLI_MAX_WINDOW_BITS: 24, BROTLI_LARGE_MAX_WINDOW_BITS: 30, BROTLI_DEFAULT_WINDOW: 22, BROTLI_MIN_INPUT_BLOCK_BITS: 16, BROTLI_MAX_INPUT_BLOCK_BITS: 24, BROTLI_PARAM_MODE: 0, BROTLI_PARAM_QUALITY: 1, BROTLI_PARAM_LGWIN: 2, BROTLI_PARAM_LGBLOCK: 3, BROTLI_PARAM_DISABLE_LITERAL_CONTEXT_MODELING: 4, BROTLI_PARAM_SIZE_HINT: 5, BROTLI_PARAM_LARGE_WINDOW: 6, BROTLI_PARAM_NPOSTFIX: 7, BROTLI_PARAM_NDIRECT: 8, BROTLI_DECODER_RESULT_ERROR: 0, BROTLI_DECODER_RESULT_SUCCESS: 1, BROTLI_DECODER_RESULT_NEEDS_MORE_INPUT: 2, BROTLI_DECODER_RESULT_NEEDS_MORE_OUTPUT: 3, BROTLI_DECODER_PARAM_DISABLE_RING_BUFFER_REALLOCATION: 0, BROTLI_DECODER_PARAM_LARGE_WINDOW: 1, BROTLI_DECODER_NO_ERROR: 0, BROTLI_DECODER_SUCCESS: 1, BROTLI_DECODER_NEEDS_MORE_INPUT: 2, BROTLI_DECODER_NEEDS_MORE_OUTPUT: 3, BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_NIBBLE: -1, BROTLI_DECODER_ERROR_FORMAT_RESERVED: -2, BROTLI_DECODER_ERROR_FORMAT_EXUBERANT_META_NIBBLE: -3, BROTLI_DECODER_ERROR_FORMAT_SIMPLE_HUFFMAN_ALPHABET: -4, BROTLI_DECODER_ERROR_FORMAT_SIMPLE_HUFFMAN_SAME: -5, BROTLI_DECODER_ERROR_FORMAT_CL_SPACE: -6, BROTLI_DECODER_ERROR_FORMAT_HUFFMAN_SPACE: -7, BROTLI_DECODER_ERROR_FORMAT_CONTEXT_MAP_REPEAT: -8, BROTLI_DECODER_ERROR_FORMAT_BLOCK_LENGTH_1: -9, BROTLI_DECODER_ERROR_FORMAT_BLOCK_LENGTH_2: -10, BROTLI_DECODER_ERROR_FORMAT_TRANSFORM: -11, BROTLI_DECODER_ERROR_FORMAT_DICTIONARY: -12, BROTLI_DECODER_ERROR_FORMAT_WINDOW_BITS: -13, BROTLI_DECODER_ERROR_FORMAT_PADDING_1: -14, BROTLI_DECODER_ERROR_FORMAT_PADDING_2: -15, BROTLI_DECODER_ERROR_FORMAT_DISTANCE: -16, BROTLI_DECODER_ERROR_DICTIONARY_NOT_SET: -19, BROTLI_DECODER_ERROR_INVALID_ARGUMENTS: -20, BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MODES: -21, BROTLI_DECODER_ERROR_ALLOC_TREE_GROUPS: -22, BROTLI_DECODER_ERROR_ALLOC_CONTEXT_MAP: -25, BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_1: -26, BROTLI_DECODER_ERROR_ALLOC_RING_BUFFER_2: -27, BROTLI_DECODER_ERROR_ALLOC_BLOCK_TYPE_TREES: -30, BROTLI_DECODER_ERROR_UNREACHABLE: -31 }, sn));
var rn = Ot.concat;
var zs = Object.getOwnPropertyDescriptor(Ot, "concat");
var nn = (s3) => s3;
var Bi = zs?.writable === true || zs?.set !== void 0 ? (s3) => {
  Ot.concat = s3 ? nn : rn;
} : (s3) => {
};
var Tt = /* @__PURE__ */ Symbol("_superWrite");
var Gt = class extends Error {
  code;
  errno;
  constructor(t, e) {
    super("zlib: " + t.message, { cause: t }), this.code = t.code, this.errno = t.errno, this.code || (this.code = "ZLIB_ERROR"), this.message = "zlib: " + t.message, Error.captureStackTrace(this, e ?? this.constructor);
  }
  get name() {
    return "ZlibError";
  }
};
var Pi = /* @__PURE__ */ Symbol("flushFlag");
var re = class extends A {
  #t = false;
  #i = false;
  #s;
  #n;
  #r;
  #e;
  #o;
  get sawError() {
    return this.#t;
  }
  get handle() {
    return this.#e;
  }
  get flushFlag() {
    return this.#s;
  }
  constructor(t, e) {
    if (!t || typeof t != "object") throw new TypeError("invalid options for ZlibBase constructor");
    if (super(t), this.#s = t.flush ?? 0, this.#n = t.finishFlush ?? 0, this.#r = t.fullFlushFlag ?? 0, typeof Ps[e] != "function") throw new TypeError("Compression method not supported: " + e);
    try {
      this.#e = new Ps[e](t);
    } catch (i) {
      throw new Gt(i, this.constructor);
    }
    this.#o = (i) => {
      this.#t || (this.#t = true, this.close(), this.emit("error", i));
    }, this.#e?.on("error", (i) => this.#o(new Gt(i))), this.once("end", () => this.close);
  }
  close() {
    this.#e && (this.#e.close(), this.#e = void 0, this.emit("close"));
  }
  reset() {
    if (!this.#t) return zi(this.#e, "zlib binding closed"), this.#e.reset?.();
  }
  flush(t) {
    this.ended || (typeof t != "number" && (t = this.#r), this.write(Object.assign(Ot.alloc(0), { [Pi]: t })));
  }
  end(t, e, i) {
    return typeof t == "function" && (i = t, e = void 0, t = void 0), typeof e == "function" && (i = e, e = void 0), t && (e ? this.write(t, e) : this.write(t)), this.flush(this.#n), this.#i = true, super.end(i);
  }
  get ended() {
    return this.#i;
  }
  [Tt](t) {
    return super.write(t);
  }
  write(t, e, i) {
    if (typeof e == "function" && (i = e, e = "utf8"), typeof t == "string" && (t = Ot.from(t, e)), this.#t) return;
    zi(this.#e, "zlib binding closed");
    let r = this.#e._handle, n = r.close;
    r.close = () => {
    };
    let o = this.#e.close;
    this.#e.close = () => {
    }, Bi(true);
    let h;
    try {
      let l = typeof t[Pi] == "number" ? t[Pi] : this.#s;
      h = this.#e._processChunk(t, l), Bi(false);
    } catch (l) {
      Bi(false), this.#o(new Gt(l, this.write));
    } finally {
      this.#e && (this.#e._handle = r, r.close = n, this.#e.close = o, this.#e.removeAllListeners("error"));
    }
    this.#e && this.#e.on("error", (l) => this.#o(new Gt(l, this.write)));
    let a;
    if (h) if (Array.isArray(h) && h.length > 0) {
      let l = h[0];
      a = this[Tt](Ot.from(l));
      for (let c = 1; c < h.length; c++) a = this[Tt](h[c]);
    } else a = this[Tt](Ot.from(h));
    return i && i(), a;
  }
};
var Pe = class extends re {
  #t;
  #i;
  constructor(t, e) {
    t = t || {}, t.flush = t.flush || M.Z_NO_FLUSH, t.finishFlush = t.finishFlush || M.Z_FINISH, t.fullFlushFlag = M.Z_FULL_FLUSH, super(t, e), this.#t = t.level, this.#i = t.strategy;
  }
  params(t, e) {
    if (!this.sawError) {
      if (!this.handle) throw new Error("cannot switch params when binding is closed");
      if (!this.handle.params) throw new Error("not supported in this implementation");
      if (this.#t !== t || this.#i !== e) {
        this.flush(M.Z_SYNC_FLUSH), zi(this.handle, "zlib binding closed");
        let i = this.handle.flush;
        this.handle.flush = (r, n) => {
          typeof r == "function" && (n = r, r = this.flushFlag), this.flush(r), n?.();
        };
        try {
          this.handle.params(t, e);
        } finally {
          this.handle.flush = i;
        }
        this.handle && (this.#t = t, this.#i = e);
      }
    }
  }
};
var ze = class extends Pe {
  #t;
  constructor(t) {
    super(t, "Gzip"), this.#t = t && !!t.portable;
  }
  [Tt](t) {
    return this.#t ? (this.#t = false, t[9] = 255, super[Tt](t)) : super[Tt](t);
  }
};
var Ue = class extends Pe {
  constructor(t) {
    super(t, "Unzip");
  }
};
var He = class extends re {
  constructor(t, e) {
    t = t || {}, t.flush = t.flush || M.BROTLI_OPERATION_PROCESS, t.finishFlush = t.finishFlush || M.BROTLI_OPERATION_FINISH, t.fullFlushFlag = M.BROTLI_OPERATION_FLUSH, super(t, e);
  }
};
var We = class extends He {
  constructor(t) {
    super(t, "BrotliCompress");
  }
};
var Ge = class extends He {
  constructor(t) {
    super(t, "BrotliDecompress");
  }
};
var Ze = class extends re {
  constructor(t, e) {
    t = t || {}, t.flush = t.flush || M.ZSTD_e_continue, t.finishFlush = t.finishFlush || M.ZSTD_e_end, t.fullFlushFlag = M.ZSTD_e_flush, super(t, e);
  }
};
var Ye = class extends Ze {
  constructor(t) {
    super(t, "ZstdCompress");
  }
};
var Ke = class extends Ze {
  constructor(t) {
    super(t, "ZstdDecompress");
  }
};
var Us = (s3, t) => {
  if (Number.isSafeInteger(s3)) s3 < 0 ? an(s3, t) : hn(s3, t);
  else throw Error("cannot encode number outside of javascript safe integer range");
  return t;
};
var hn = (s3, t) => {
  t[0] = 128;
  for (var e = t.length; e > 1; e--) t[e - 1] = s3 & 255, s3 = Math.floor(s3 / 256);
};
var an = (s3, t) => {
  t[0] = 255;
  var e = false;
  s3 = s3 * -1;
  for (var i = t.length; i > 1; i--) {
    var r = s3 & 255;
    s3 = Math.floor(s3 / 256), e ? t[i - 1] = Ws(r) : r === 0 ? t[i - 1] = 0 : (e = true, t[i - 1] = Gs(r));
  }
};
var Hs = (s3) => {
  let t = s3[0], e = t === 128 ? cn(s3.subarray(1, s3.length)) : t === 255 ? ln(s3) : null;
  if (e === null) throw Error("invalid base256 encoding");
  if (!Number.isSafeInteger(e)) throw Error("parsed number outside of javascript safe integer range");
  return e;
};
var ln = (s3) => {
  for (var t = s3.length, e = 0, i = false, r = t - 1; r > -1; r--) {
    var n = Number(s3[r]), o;
    i ? o = Ws(n) : n === 0 ? o = n : (i = true, o = Gs(n)), o !== 0 && (e -= o * Math.pow(256, t - r - 1));
  }
  return e;
};
var cn = (s3) => {
  for (var t = s3.length, e = 0, i = t - 1; i > -1; i--) {
    var r = Number(s3[i]);
    r !== 0 && (e += r * Math.pow(256, t - i - 1));
  }
  return e;
};
var Ws = (s3) => (255 ^ s3) & 255;
var Gs = (s3) => (255 ^ s3) + 1 & 255;
var Hi = {};
Ur(Hi, { code: () => Ve, isCode: () => ne, isName: () => dn, name: () => oe, normalFsTypes: () => Ui });
var ne = (s3) => oe.has(s3);
var dn = (s3) => Ve.has(s3);
var Ui = /* @__PURE__ */ new Set(["0", "", "1", "2", "3", "4", "5", "6", "7", "D"]);
var oe = /* @__PURE__ */ new Map([["0", "File"], ["", "OldFile"], ["1", "Link"], ["2", "SymbolicLink"], ["3", "CharacterDevice"], ["4", "BlockDevice"], ["5", "Directory"], ["6", "FIFO"], ["7", "ContiguousFile"], ["g", "GlobalExtendedHeader"], ["x", "ExtendedHeader"], ["A", "SolarisACL"], ["D", "GNUDumpDir"], ["I", "Inode"], ["K", "NextFileHasLongLinkpath"], ["L", "NextFileHasLongPath"], ["M", "ContinuationFile"], ["N", "OldGnuLongPath"], ["S", "SparseFile"], ["V", "TapeVolumeHeader"], ["X", "OldExtendedHeader"]]);
var Ve = new Map(Array.from(oe).map((s3) => [s3[1], s3[0]]));
var un = (s3) => s3 === void 0 || s3 < 0 ? void 0 : s3;
var F = class {
  cksumValid = false;
  needPax = false;
  nullBlock = false;
  block;
  path;
  mode;
  uid;
  gid;
  size;
  cksum;
  #t = "Unsupported";
  linkpath;
  uname;
  gname;
  devmaj = 0;
  devmin = 0;
  atime;
  ctime;
  mtime;
  charset;
  comment;
  constructor(t, e = 0, i, r) {
    Buffer.isBuffer(t) ? this.decode(t, e || 0, i, r) : t && this.#i(t);
  }
  decode(t, e, i, r) {
    if (e || (e = 0), !t || !(t.length >= e + 512)) throw new Error("need 512 bytes for header");
    let n = xt(t, e + 156, 1), o = Ui.has(n), h = o ? i : void 0, a = o ? r : void 0;
    if (this.path = h?.path ?? xt(t, e, 100), this.mode = h?.mode ?? a?.mode ?? lt(t, e + 100, 8), this.uid = h?.uid ?? a?.uid ?? lt(t, e + 108, 8), this.gid = h?.gid ?? a?.gid ?? lt(t, e + 116, 8), this.size = un(h?.size ?? a?.size ?? lt(t, e + 124, 12)), this.mtime = h?.mtime ?? a?.mtime ?? Wi(t, e + 136, 12), this.cksum = lt(t, e + 148, 12), a && this.#i(a, true), h && this.#i(h), ne(n) && (this.#t = n || "0"), this.#t === "0" && this.path.slice(-1) === "/" && (this.#t = "5"), this.#t === "5" && (this.size = 0), this.linkpath = xt(t, e + 157, 100), t.subarray(e + 257, e + 265).toString() === "ustar\x0000") if (this.uname = h?.uname ?? a?.uname ?? xt(t, e + 265, 32), this.gname = h?.gname ?? a?.gname ?? xt(t, e + 297, 32), this.devmaj = h?.devmaj ?? a?.devmaj ?? lt(t, e + 329, 8) ?? 0, this.devmin = h?.devmin ?? a?.devmin ?? lt(t, e + 337, 8) ?? 0, t[e + 475] !== 0) {
      let c = xt(t, e + 345, 155);
      this.path = c + "/" + this.path;
    } else {
      let c = xt(t, e + 345, 130);
      c && (this.path = c + "/" + this.path), this.atime = i?.atime ?? r?.atime ?? Wi(t, e + 476, 12), this.ctime = i?.ctime ?? r?.ctime ?? Wi(t, e + 488, 12);
    }
    let l = 256;
    for (let c = e; c < e + 148; c++) l += t[c];
    for (let c = e + 156; c < e + 512; c++) l += t[c];
    this.cksumValid = l === this.cksum, this.cksum === void 0 && l === 256 && (this.nullBlock = true);
  }
  #i(t, e = false) {
    Object.assign(this, Object.fromEntries(Object.entries(t).filter(([i, r]) => !(r == null || i === "size" && Number(r) < 0 || i === "path" && e || i === "linkpath" && e || i === "global"))));
  }
  encode(t, e = 0) {
    if (t || (t = this.block = Buffer.alloc(512)), this.#t === "Unsupported" && (this.#t = "0"), !(t.length >= e + 512)) throw new Error("need 512 bytes for header");
    let i = this.ctime || this.atime ? 130 : 155, r = mn(this.path || "", i), n = r[0], o = r[1];
    this.needPax = !!r[2], this.needPax = Lt(t, e, 100, n) || this.needPax, this.needPax = ct(t, e + 100, 8, this.mode) || this.needPax, this.needPax = ct(t, e + 108, 8, this.uid) || this.needPax, this.needPax = ct(t, e + 116, 8, this.gid) || this.needPax, this.needPax = ct(t, e + 124, 12, this.size) || this.needPax, this.needPax = Gi(t, e + 136, 12, this.mtime) || this.needPax, t[e + 156] = Number(this.#t.codePointAt(0)), this.needPax = Lt(t, e + 157, 100, this.linkpath) || this.needPax, t.write("ustar\x0000", e + 257, 8), this.needPax = Lt(t, e + 265, 32, this.uname) || this.needPax, this.needPax = Lt(t, e + 297, 32, this.gname) || this.needPax, this.needPax = ct(t, e + 329, 8, this.devmaj) || this.needPax, this.needPax = ct(t, e + 337, 8, this.devmin) || this.needPax, this.needPax = Lt(t, e + 345, i, o) || this.needPax, t[e + 475] !== 0 ? this.needPax = Lt(t, e + 345, 155, o) || this.needPax : (this.needPax = Lt(t, e + 345, 130, o) || this.needPax, this.needPax = Gi(t, e + 476, 12, this.atime) || this.needPax, this.needPax = Gi(t, e + 488, 12, this.ctime) || this.needPax);
    let h = 256;
    for (let a = e; a < e + 148; a++) h += t[a];
    for (let a = e + 156; a < e + 512; a++) h += t[a];
    return this.cksum = h, ct(t, e + 148, 8, this.cksum), this.cksumValid = true, this.needPax;
  }
  get type() {
    return this.#t === "Unsupported" ? this.#t : oe.get(this.#t);
  }
  get typeKey() {
    return this.#t;
  }
  set type(t) {
    let e = String(Ve.get(t));
    if (ne(e) || e === "Unsupported") this.#t = e;
    else if (ne(t)) this.#t = t;
    else throw new TypeError("invalid entry type: " + t);
  }
};
var mn = (s3, t) => {
  let i = s3, r = "", n, o = Zt.parse(s3).root || ".";
  if (Buffer.byteLength(i) < 100) n = [i, r, false];
  else {
    r = Zt.dirname(i), i = Zt.basename(i);
    do
      Buffer.byteLength(i) <= 100 && Buffer.byteLength(r) <= t ? n = [i, r, false] : Buffer.byteLength(i) > 100 && Buffer.byteLength(r) <= t ? n = [i.slice(0, 99), r, true] : (i = Zt.join(Zt.basename(r), i), r = Zt.dirname(r));
    while (r !== o && n === void 0);
    n || (n = [s3.slice(0, 99), "", true]);
  }
  return n;
};
var xt = (s3, t, e) => s3.subarray(t, t + e).toString("utf8").replace(/\0.*/, "");
var Wi = (s3, t, e) => pn(lt(s3, t, e));
var pn = (s3) => s3 === void 0 ? void 0 : new Date(s3 * 1e3);
var lt = (s3, t, e) => Number(s3[t]) & 128 ? Hs(s3.subarray(t, t + e)) : wn(s3, t, e);
var En = (s3) => isNaN(s3) ? void 0 : s3;
var wn = (s3, t, e) => En(parseInt(s3.subarray(t, t + e).toString("utf8").replace(/\0.*$/, "").trim(), 8));
var Sn = { 12: 8589934591, 8: 2097151 };
var ct = (s3, t, e, i) => i === void 0 ? false : i > Sn[e] || i < 0 ? (Us(i, s3.subarray(t, t + e)), true) : (yn(s3, t, e, i), false);
var yn = (s3, t, e, i) => s3.write(Rn(i, e), t, e, "ascii");
var Rn = (s3, t) => gn(Math.floor(s3).toString(8), t);
var gn = (s3, t) => (s3.length === t - 1 ? s3 : new Array(t - s3.length - 1).join("0") + s3 + " ") + "\0";
var Gi = (s3, t, e, i) => i === void 0 ? false : ct(s3, t, e, i.getTime() / 1e3);
var bn = new Array(156).join("\0");
var Lt = (s3, t, e, i) => i === void 0 ? false : (s3.write(i + bn, t, e, "utf8"), i.length !== Buffer.byteLength(i) || i.length > e);
var ft = class s {
  atime;
  mtime;
  ctime;
  charset;
  comment;
  gid;
  uid;
  gname;
  uname;
  linkpath;
  dev;
  ino;
  nlink;
  path;
  size;
  mode;
  global;
  constructor(t, e = false) {
    this.atime = t.atime, this.charset = t.charset, this.comment = t.comment, this.ctime = t.ctime, this.dev = t.dev, this.gid = t.gid, this.global = e, this.gname = t.gname, this.ino = t.ino, this.linkpath = t.linkpath, this.mtime = t.mtime, this.nlink = t.nlink, this.path = t.path, this.size = t.size, this.uid = t.uid, this.uname = t.uname;
  }
  encode() {
    let t = this.encodeBody();
    if (t === "") return Buffer.allocUnsafe(0);
    let e = Buffer.byteLength(t), i = 512 * Math.ceil(1 + e / 512), r = Buffer.allocUnsafe(i);
    for (let n = 0; n < 512; n++) r[n] = 0;
    new F({ path: ("PaxHeader/" + _n(this.path ?? "")).slice(0, 99), mode: this.mode || 420, uid: this.uid, gid: this.gid, size: e, mtime: this.mtime, type: this.global ? "GlobalExtendedHeader" : "ExtendedHeader", linkpath: "", uname: this.uname || "", gname: this.gname || "", devmaj: 0, devmin: 0, atime: this.atime, ctime: this.ctime }).encode(r), r.write(t, 512, e, "utf8");
    for (let n = e + 512; n < r.length; n++) r[n] = 0;
    return r;
  }
  encodeBody() {
    return this.encodeField("path") + this.encodeField("ctime") + this.encodeField("atime") + this.encodeField("dev") + this.encodeField("ino") + this.encodeField("nlink") + this.encodeField("charset") + this.encodeField("comment") + this.encodeField("gid") + this.encodeField("gname") + this.encodeField("linkpath") + this.encodeField("mtime") + this.encodeField("size") + this.encodeField("uid") + this.encodeField("uname");
  }
  encodeField(t) {
    if (this[t] === void 0) return "";
    let e = this[t], i = e instanceof Date ? e.getTime() / 1e3 : e, r = " " + (t === "dev" || t === "ino" || t === "nlink" ? "SCHILY." : "") + t + "=" + i + `
`, n = Buffer.byteLength(r), o = Math.floor(Math.log(n) / Math.log(10)) + 1;
    return n + o >= Math.pow(10, o) && (o += 1), o + n + r;
  }
  static parse(t, e, i = false) {
    return new s(On(Tn(t), e), i);
  }
};
var On = (s3, t) => t ? Object.assign({}, t, s3) : s3;
var Tn = (s3) => s3.replace(/\n$/, "").split(`
`).reduce(xn, /* @__PURE__ */ Object.create(null));
var xn = (s3, t) => {
  let e = parseInt(t, 10);
  if (e !== Buffer.byteLength(t) + 1) return s3;
  t = t.slice((e + " ").length);
  let i = t.split("="), r = i.shift();
  if (!r) return s3;
  let n = r.replace(/^SCHILY\.(dev|ino|nlink)/, "$1"), o = i.join("=").replace(/\0.*/, "");
  switch (n) {
    case "path":
    case "linkpath":
    case "type":
    case "charset":
    case "comment":
    case "gname":
    case "uname":
      s3[n] = o;
      break;
    case "ctime":
    case "atime":
    case "mtime":
      s3[n] = new Date(Number(o) * 1e3);
      break;
    case "size":
      let h = +o;
      h >= 0 && (s3[n] = h);
      break;
    case "gid":
    case "uid":
    case "dev":
    case "ino":
    case "nlink":
    case "mode":
      s3[n] = +o;
      break;
  }
  return s3;
};
var Ln = process.env.TESTING_TAR_FAKE_PLATFORM || process.platform;
var f = Ln !== "win32" ? (s3) => String(s3) : (s3) => String(s3).replaceAll(/\\/g, "/");
var $e = class extends A {
  extended;
  globalExtended;
  header;
  startBlockSize;
  blockRemain;
  remain;
  type;
  meta = false;
  ignore = false;
  path;
  mode;
  uid;
  gid;
  uname;
  gname;
  size = 0;
  mtime;
  atime;
  ctime;
  linkpath;
  dev;
  ino;
  nlink;
  invalid = false;
  absolute;
  unsupported = false;
  constructor(t, e, i) {
    switch (super({}), this.pause(), this.extended = e, this.globalExtended = i, this.header = t, this.remain = t.size ?? 0, this.startBlockSize = 512 * Math.ceil(this.remain / 512), this.blockRemain = this.startBlockSize, this.type = t.type, this.type) {
      case "File":
      case "OldFile":
      case "Link":
      case "SymbolicLink":
      case "CharacterDevice":
      case "BlockDevice":
      case "Directory":
      case "FIFO":
      case "ContiguousFile":
      case "GNUDumpDir":
        break;
      case "NextFileHasLongLinkpath":
      case "NextFileHasLongPath":
      case "OldGnuLongPath":
      case "GlobalExtendedHeader":
      case "ExtendedHeader":
      case "OldExtendedHeader":
        this.meta = true;
        break;
      default:
        this.ignore = true;
    }
    if (!t.path) throw new Error("no path provided for tar.ReadEntry");
    this.path = f(t.path), this.mode = t.mode, this.mode && (this.mode = this.mode & 4095), this.uid = t.uid, this.gid = t.gid, this.uname = t.uname, this.gname = t.gname, this.size = this.remain, this.mtime = t.mtime, this.atime = t.atime, this.ctime = t.ctime, this.linkpath = t.linkpath ? f(t.linkpath) : void 0, this.uname = t.uname, this.gname = t.gname, e && this.#t(e), i && this.#t(i, true);
  }
  write(t) {
    let e = t.length;
    if (e > this.blockRemain) throw new Error("writing more to entry than is appropriate");
    let i = this.remain, r = this.blockRemain;
    return this.remain = Math.max(0, i - e), this.blockRemain = Math.max(0, r - e), this.ignore ? true : i >= e ? super.write(t) : super.write(t.subarray(0, i));
  }
  #t(t, e = false) {
    t.path && (t.path = f(t.path)), t.linkpath && (t.linkpath = f(t.linkpath)), Object.assign(this, Object.fromEntries(Object.entries(t).filter(([i, r]) => !(r == null || i === "path" && e))));
  }
};
var Dt = (s3, t, e, i = {}) => {
  s3.file && (i.file = s3.file), s3.cwd && (i.cwd = s3.cwd), i.code = e instanceof Error && e.code || t, i.tarCode = t, !s3.strict && i.recoverable !== false ? (e instanceof Error && (i = Object.assign(e, i), e = e.message), s3.emit("warn", t, e, i)) : e instanceof Error ? s3.emit("error", Object.assign(e, i)) : s3.emit("error", Object.assign(new Error(`${t}: ${e}`), i));
};
var Nn = 1024 * 1024;
var Xi = Buffer.from([31, 139]);
var qi = Buffer.from([40, 181, 47, 253]);
var An = Math.max(Xi.length, qi.length);
var B = /* @__PURE__ */ Symbol("state");
var Nt = /* @__PURE__ */ Symbol("writeEntry");
var it = /* @__PURE__ */ Symbol("readEntry");
var Zi = /* @__PURE__ */ Symbol("nextEntry");
var Zs = /* @__PURE__ */ Symbol("processEntry");
var V = /* @__PURE__ */ Symbol("extendedHeader");
var he = /* @__PURE__ */ Symbol("globalExtendedHeader");
var dt = /* @__PURE__ */ Symbol("meta");
var Ys = /* @__PURE__ */ Symbol("emitMeta");
var p = /* @__PURE__ */ Symbol("buffer");
var st = /* @__PURE__ */ Symbol("queue");
var ut = /* @__PURE__ */ Symbol("ended");
var Yi = /* @__PURE__ */ Symbol("emittedEnd");
var At = /* @__PURE__ */ Symbol("emit");
var w = /* @__PURE__ */ Symbol("unzip");
var Xe = /* @__PURE__ */ Symbol("consumeChunk");
var qe = /* @__PURE__ */ Symbol("consumeChunkSub");
var Ki = /* @__PURE__ */ Symbol("consumeBody");
var Ks = /* @__PURE__ */ Symbol("consumeMeta");
var Vs = /* @__PURE__ */ Symbol("consumeHeader");
var ae = /* @__PURE__ */ Symbol("consuming");
var Vi = /* @__PURE__ */ Symbol("bufferConcat");
var Qe = /* @__PURE__ */ Symbol("maybeEnd");
var Yt = /* @__PURE__ */ Symbol("writing");
var $ = /* @__PURE__ */ Symbol("aborted");
var Je = /* @__PURE__ */ Symbol("onDone");
var It = /* @__PURE__ */ Symbol("sawValidEntry");
var je = /* @__PURE__ */ Symbol("sawNullBlock");
var ti = /* @__PURE__ */ Symbol("sawEOF");
var $s = /* @__PURE__ */ Symbol("closeStream");
var In = 1e3;
var le = /* @__PURE__ */ Symbol("compressedBytesRead");
var $i = /* @__PURE__ */ Symbol("decompressedBytesRead");
var Xs = /* @__PURE__ */ Symbol("checkDecompressionRatio");
var Cn = () => true;
var rt = class extends Dn {
  file;
  strict;
  maxMetaEntrySize;
  filter;
  brotli;
  zstd;
  maxDecompressionRatio;
  writable = true;
  readable = false;
  [st] = [];
  [p];
  [it];
  [Nt];
  [B] = "begin";
  [dt] = "";
  [V];
  [he];
  [ut] = false;
  [w];
  [$] = false;
  [It];
  [je] = false;
  [ti] = false;
  [Yt] = false;
  [ae] = false;
  [Yi] = false;
  [le] = 0;
  [$i] = 0;
  constructor(t = {}) {
    super(), this.file = t.file || "", this.on(Je, () => {
      (this[B] === "begin" || this[It] === false) && this.warn("TAR_BAD_ARCHIVE", "Unrecognized archive format");
    }), t.ondone ? this.on(Je, t.ondone) : this.on(Je, () => {
      this.emit("prefinish"), this.emit("finish"), this.emit("end");
    }), this.strict = !!t.strict, this.maxDecompressionRatio = typeof t.maxDecompressionRatio == "number" ? t.maxDecompressionRatio : In, this.maxMetaEntrySize = t.maxMetaEntrySize || Nn, this.filter = typeof t.filter == "function" ? t.filter : Cn;
    let e = t.file && (t.file.endsWith(".tar.br") || t.file.endsWith(".tbr"));
    this.brotli = !(t.gzip || t.zstd) && t.brotli !== void 0 ? t.brotli : e ? void 0 : false;
    let i = t.file && (t.file.endsWith(".tar.zst") || t.file.endsWith(".tzst"));
    this.zstd = !(t.gzip || t.brotli) && t.zstd !== void 0 ? t.zstd : i ? true : void 0, this.on("end", () => this[$s]()), typeof t.onwarn == "function" && this.on("warn", t.onwarn), typeof t.onReadEntry == "function" && this.on("entry", t.onReadEntry);
  }
  warn(t, e, i = {}) {
    Dt(this, t, e, i);
  }
  [Vs](t, e) {
    this[It] === void 0 && (this[It] = false);
    let i;
    try {
      i = new F(t, e, this[V], this[he]);
    } catch (r) {
      return this.warn("TAR_ENTRY_INVALID", r);
    }
    if (i.nullBlock) this[je] ? (this[ti] = true, this[B] === "begin" && (this[B] = "header"), this[At]("eof")) : (this[je] = true, this[At]("nullBlock"));
    else if (this[je] = false, !i.cksumValid) this.warn("TAR_ENTRY_INVALID", "checksum failure", { header: i });
    else if (!i.path) this.warn("TAR_ENTRY_INVALID", "path is required", { header: i });
    else {
      let r = i.type;
      if (/^(Symbolic)?Link$/.test(r) && !i.linkpath) this.warn("TAR_ENTRY_INVALID", "linkpath required", { header: i });
      else if (!/^(Symbolic)?Link$/.test(r) && !/^(Global)?ExtendedHeader$/.test(r) && i.linkpath) this.warn("TAR_ENTRY_INVALID", "linkpath forbidden", { header: i });
      else {
        let n = this[Nt] = new $e(i, this[V], this[he]);
        if (!this[It]) if (n.remain) {
          let o = () => {
            n.invalid || (this[It] = true);
          };
          n.on("end", o);
        } else this[It] = true;
        n.meta ? n.size > this.maxMetaEntrySize ? (n.ignore = true, this[At]("ignoredEntry", n), this[B] = "ignore", n.resume()) : n.size > 0 && (this[dt] = "", n.on("data", (o) => this[dt] += o), this[B] = "meta") : (this[V] = void 0, n.ignore = n.ignore || !this.filter(n.path, n), n.ignore ? (this[At]("ignoredEntry", n), this[B] = n.remain ? "ignore" : "header", n.resume()) : (n.remain ? this[B] = "body" : (this[B] = "header", n.end()), this[it] ? this[st].push(n) : (this[st].push(n), this[Zi]())));
      }
    }
  }
  [$s]() {
    queueMicrotask(() => this.emit("close"));
  }
  [Zs](t) {
    let e = true;
    if (!t) this[it] = void 0, e = false;
    else if (Array.isArray(t)) {
      let [i, ...r] = t;
      this.emit(i, ...r);
    } else this[it] = t, this.emit("entry", t), t.emittedEnd || (t.on("end", () => this[Zi]()), e = false);
    return e;
  }
  [Zi]() {
    do
      ;
    while (this[Zs](this[st].shift()));
    if (this[st].length === 0) {
      let t = this[it];
      !t || t.flowing || t.size === t.remain ? this[Yt] || this.emit("drain") : t.once("drain", () => this.emit("drain"));
    }
  }
  [Ki](t, e) {
    let i = this[Nt];
    if (!i) throw new Error("attempt to consume body without entry??");
    let r = i.blockRemain ?? 0, n = r >= t.length && e === 0 ? t : t.subarray(e, e + r);
    return i.write(n), i.blockRemain || (this[B] = "header", this[Nt] = void 0, i.end()), n.length;
  }
  [Ks](t, e) {
    let i = this[Nt], r = this[Ki](t, e);
    return !this[Nt] && i && this[Ys](i), r;
  }
  [At](t, e, i) {
    this[st].length === 0 && !this[it] ? this.emit(t, e, i) : this[st].push([t, e, i]);
  }
  [Ys](t) {
    switch (this[At]("meta", this[dt]), t.type) {
      case "ExtendedHeader":
      case "OldExtendedHeader":
        this[V] = ft.parse(this[dt], this[V], false);
        break;
      case "GlobalExtendedHeader":
        this[he] = ft.parse(this[dt], this[he], true);
        break;
      case "NextFileHasLongPath":
      case "OldGnuLongPath": {
        let e = this[V] ?? /* @__PURE__ */ Object.create(null);
        this[V] = e, e.path = this[dt].replace(/\0.*/, "");
        break;
      }
      case "NextFileHasLongLinkpath": {
        let e = this[V] || /* @__PURE__ */ Object.create(null);
        this[V] = e, e.linkpath = this[dt].replace(/\0.*/, "");
        break;
      }
      default:
        throw new Error("unknown meta: " + t.type);
    }
  }
  abort(t) {
    if (!this[$]) {
      if (this[w]) {
        let e = this[w];
        e.write = () => true, e.end = () => e, e.emit = () => false, e.destroy?.();
      }
      this[$] = true, this.emit("abort", t), this.warn("TAR_ABORT", t, { recoverable: false });
    }
  }
  [Xs](t) {
    this[$i] += t.length;
    let e = this[$i] / this[le];
    return e > this.maxDecompressionRatio ? (this.abort(new Error(`max decompression ratio exceeded: ${e.toFixed(2)} > ${this.maxDecompressionRatio}`)), false) : true;
  }
  write(t, e, i) {
    if (typeof e == "function" && (i = e, e = void 0), typeof t == "string" && (t = Buffer.from(t, typeof e == "string" ? e : "utf8")), this[$]) return i?.(), false;
    if ((this[w] === void 0 || this.brotli === void 0 && this[w] === false) && t) {
      if (this[p] && (t = Buffer.concat([this[p], t]), this[p] = void 0), t.length < An) return this[p] = t, i?.(), true;
      for (let a = 0; this[w] === void 0 && a < Xi.length; a++) t[a] !== Xi[a] && (this[w] = false);
      let o = false;
      if (this[w] === false && this.zstd !== false) {
        o = true;
        for (let a = 0; a < qi.length; a++) if (t[a] !== qi[a]) {
          o = false;
          break;
        }
      }
      let h = this.brotli === void 0 && !o;
      if (this[w] === false && h) if (t.length < 512) if (this[ut]) this.brotli = true;
      else return this[p] = t, i?.(), true;
      else try {
        new F(t.subarray(0, 512)), this.brotli = false;
      } catch {
        this.brotli = true;
      }
      if (this[w] === void 0 || this[w] === false && (this.brotli || o)) {
        let a = this[ut];
        this[ut] = false, this[w] = this[w] === void 0 ? new Ue({}) : o ? new Ke({}) : new Ge({}), this[w].on("data", (c) => {
          this[Xs](c) && this[Xe](c);
        }), this[w].on("error", (c) => {
          this[$] || this.abort(c);
        }), this[w].on("end", () => {
          this[ut] = true, this[Xe]();
        }), this[Yt] = true, this[le] += t.length;
        let l = !!this[w][a ? "end" : "write"](t);
        return this[Yt] = false, i?.(), l;
      }
    }
    this[Yt] = true, this[w] ? (this[le] += t.length, this[w].write(t)) : this[Xe](t), this[Yt] = false;
    let n = this[st].length > 0 ? false : this[it] ? this[it].flowing : true;
    return !n && this[st].length === 0 && this[it]?.once("drain", () => this.emit("drain")), i?.(), n;
  }
  [Vi](t) {
    t && !this[$] && (this[p] = this[p] ? Buffer.concat([this[p], t]) : t);
  }
  [Qe]() {
    if (this[ut] && !this[Yi] && !this[$] && !this[ae]) {
      this[Yi] = true;
      let t = this[Nt];
      if (t?.blockRemain) {
        let e = this[p] ? this[p].length : 0;
        this.warn("TAR_BAD_ARCHIVE", `Truncated input (needed ${t.blockRemain} more bytes, only ${e} available)`, { entry: t }), this[p] && t.write(this[p]), t.end();
      }
      this[At](Je);
    }
  }
  [Xe](t) {
    if (this[ae] && t) this[Vi](t);
    else if (!t && !this[p]) this[Qe]();
    else if (t) {
      if (this[ae] = true, this[p]) {
        this[Vi](t);
        let e = this[p];
        this[p] = void 0, this[qe](e);
      } else this[qe](t);
      for (; this[p] && this[p]?.length >= 512 && !this[$] && !this[ti]; ) {
        let e = this[p];
        this[p] = void 0, this[qe](e);
      }
      this[ae] = false;
    }
    (!this[p] || this[ut]) && this[Qe]();
  }
  [qe](t) {
    let e = 0, i = t.length;
    for (; e + 512 <= i && !this[$] && !this[ti]; ) switch (this[B]) {
      case "begin":
      case "header":
        this[Vs](t, e), e += 512;
        break;
      case "ignore":
      case "body":
        e += this[Ki](t, e);
        break;
      case "meta":
        e += this[Ks](t, e);
        break;
      default:
        throw new Error("invalid state: " + this[B]);
    }
    e < i && (this[p] = this[p] ? Buffer.concat([t.subarray(e), this[p]]) : t.subarray(e));
  }
  end(t, e, i) {
    return typeof t == "function" && (i = t, e = void 0, t = void 0), typeof e == "function" && (i = e, e = void 0), typeof t == "string" && (t = Buffer.from(t, e)), i && this.once("finish", i), this[$] || (this[w] ? (t && (this[le] += t.length, this[w].write(t)), this[w].end()) : (this[ut] = true, (this.brotli === void 0 || this.zstd === void 0) && (t = t || Buffer.alloc(0)), t && this.write(t), this[Qe]())), this;
  }
};
var mt = (s3) => {
  let t = s3.length - 1, e = -1;
  for (; t > -1 && s3.charAt(t) === "/"; ) e = t, t--;
  return e === -1 ? s3 : s3.slice(0, e);
};
var vn = (s3) => {
  let t = s3.onReadEntry;
  s3.onReadEntry = t ? (e) => {
    t(e), e.resume();
  } : (e) => e.resume();
};
var Qi = (s3, t) => {
  let e = new Map(t.map((o) => [mt(o), true])), i = s3.filter, r = 100, n = (o, h = "", a = 0) => {
    if (a >= r) return e.set(o, false), false;
    let l = h || kn(o).root || ".", c;
    if (o === l) c = false;
    else {
      let d = e.get(o);
      c = d !== void 0 ? d : n(Fn(o), l, a + 1);
    }
    return e.set(o, c), c;
  };
  s3.filter = i ? (o, h) => i(o, h) && n(mt(o)) : (o) => n(mt(o));
};
var Mn = (s3) => {
  let t = new rt(s3), e = s3.file, i;
  try {
    i = Kt.openSync(e, "r");
    let r = Kt.fstatSync(i), n = s3.maxReadSize || 16 * 1024 * 1024;
    if (r.size < n) {
      let o = Buffer.allocUnsafe(r.size), h = Kt.readSync(i, o, 0, r.size, 0);
      t.end(h === o.byteLength ? o : o.subarray(0, h));
    } else {
      let o = 0, h = Buffer.allocUnsafe(n);
      for (; o < r.size; ) {
        let a = Kt.readSync(i, h, 0, n, o);
        if (a === 0) break;
        o += a, t.write(h.subarray(0, a));
      }
      t.end();
    }
  } finally {
    if (typeof i == "number") try {
      Kt.closeSync(i);
    } catch {
    }
  }
};
var Bn = (s3, t) => {
  let e = new rt(s3), i = s3.maxReadSize || 16 * 1024 * 1024, r = s3.file;
  return new Promise((o, h) => {
    e.on("error", h), e.on("end", o), Kt.stat(r, (a, l) => {
      if (a) h(a);
      else {
        let c = new _t(r, { readSize: i, size: l.size });
        c.on("error", h), c.pipe(e);
      }
    });
  });
};
var Ct = K(Mn, Bn, (s3) => new rt(s3), (s3) => new rt(s3), (s3, t) => {
  t?.length && Qi(s3, t), s3.noResume || vn(s3);
});
var Ji = (s3, t, e) => (s3 &= 4095, e && (s3 = (s3 | 384) & -19), t && (s3 & 256 && (s3 |= 64), s3 & 32 && (s3 |= 8), s3 & 4 && (s3 |= 1)), s3);
var { isAbsolute: zn, parse: qs } = Pn;
var ce = (s3) => {
  let t = "", e = qs(s3);
  for (; zn(s3) || e.root; ) {
    let i = s3.charAt(0) === "/" && s3.slice(0, 4) !== "//?/" ? "/" : e.root;
    s3 = s3.slice(i.length), t += i, e = qs(s3);
  }
  return [t, s3];
};
var ei = ["|", "<", ">", "?", ":"];
var ji = ei.map((s3) => String.fromCodePoint(61440 + Number(s3.codePointAt(0))));
var Un = new Map(ei.map((s3, t) => [s3, ji[t]]));
var Hn = new Map(ji.map((s3, t) => [s3, ei[t]]));
var ts = (s3) => ei.reduce((t, e) => t.split(e).join(Un.get(e)), s3);
var Qs = (s3) => ji.reduce((t, e) => t.split(e).join(Hn.get(e)), s3);
var rr = (s3, t) => t ? (s3 = f(s3).replace(/^\.(\/|$)/, ""), mt(t) + "/" + s3) : f(s3);
var Wn = 16 * 1024 * 1024;
var tr = /* @__PURE__ */ Symbol("process");
var er = /* @__PURE__ */ Symbol("file");
var ir = /* @__PURE__ */ Symbol("directory");
var is = /* @__PURE__ */ Symbol("symlink");
var sr = /* @__PURE__ */ Symbol("hardlink");
var fe = /* @__PURE__ */ Symbol("header");
var ii = /* @__PURE__ */ Symbol("read");
var ss = /* @__PURE__ */ Symbol("lstat");
var si = /* @__PURE__ */ Symbol("onlstat");
var rs = /* @__PURE__ */ Symbol("onread");
var ns = /* @__PURE__ */ Symbol("onreadlink");
var os = /* @__PURE__ */ Symbol("openfile");
var hs = /* @__PURE__ */ Symbol("onopenfile");
var pt = /* @__PURE__ */ Symbol("close");
var ri = /* @__PURE__ */ Symbol("mode");
var as = /* @__PURE__ */ Symbol("awaitDrain");
var es = /* @__PURE__ */ Symbol("ondrain");
var q = /* @__PURE__ */ Symbol("prefix");
var de = class extends A {
  path;
  portable;
  myuid = process.getuid && process.getuid() || 0;
  myuser = process.env.USER || "";
  maxReadSize;
  linkCache;
  statCache;
  preservePaths;
  cwd;
  strict;
  mtime;
  noPax;
  noMtime;
  prefix;
  fd;
  blockLen = 0;
  blockRemain = 0;
  buf;
  pos = 0;
  remain = 0;
  length = 0;
  offset = 0;
  win32;
  absolute;
  header;
  type;
  linkpath;
  stat;
  onWriteEntry;
  #t = false;
  constructor(t, e = {}) {
    let i = se(e);
    super(), this.path = f(t), this.portable = !!i.portable, this.maxReadSize = i.maxReadSize || Wn, this.linkCache = i.linkCache || /* @__PURE__ */ new Map(), this.statCache = i.statCache || /* @__PURE__ */ new Map(), this.preservePaths = !!i.preservePaths, this.cwd = f(i.cwd || process.cwd()), this.strict = !!i.strict, this.noPax = !!i.noPax, this.noMtime = !!i.noMtime, this.mtime = i.mtime, this.prefix = i.prefix ? f(i.prefix) : void 0, this.onWriteEntry = i.onWriteEntry, typeof i.onwarn == "function" && this.on("warn", i.onwarn);
    let r = false;
    if (!this.preservePaths) {
      let [o, h] = ce(this.path);
      o && typeof h == "string" && (this.path = h, r = o);
    }
    this.win32 = !!i.win32 || process.platform === "win32", this.win32 && (this.path = Qs(this.path.replaceAll(/\\/g, "/")), t = t.replaceAll(/\\/g, "/")), this.absolute = f(i.absolute || js.resolve(this.cwd, t)), this.path === "" && (this.path = "./"), r && this.warn("TAR_ENTRY_INFO", `stripping ${r} from absolute path`, { entry: this, path: r + this.path });
    let n = this.statCache.get(this.absolute);
    n ? this[si](n) : this[ss]();
  }
  warn(t, e, i = {}) {
    return Dt(this, t, e, i);
  }
  emit(t, ...e) {
    return t === "error" && (this.#t = true), super.emit(t, ...e);
  }
  [ss]() {
    X.lstat(this.absolute, (t, e) => {
      if (t) return this.emit("error", t);
      this[si](e);
    });
  }
  [si](t) {
    this.statCache.set(this.absolute, t), this.stat = t, t.isFile() || (t.size = 0), this.type = Gn(t), this.emit("stat", t), this[tr]();
  }
  [tr]() {
    switch (this.type) {
      case "File":
        return this[er]();
      case "Directory":
        return this[ir]();
      case "SymbolicLink":
        return this[is]();
      default:
        return this.end();
    }
  }
  [ri](t) {
    return Ji(t, this.type === "Directory", this.portable);
  }
  [q](t) {
    return rr(t, this.prefix);
  }
  [fe]() {
    if (!this.stat) throw new Error("cannot write header before stat");
    this.type === "Directory" && this.portable && (this.noMtime = true), this.onWriteEntry?.(this), this.header = new F({ path: this[q](this.path), linkpath: this.type === "Link" && this.linkpath !== void 0 ? this[q](this.linkpath) : this.linkpath, mode: this[ri](this.stat.mode), uid: this.portable ? void 0 : this.stat.uid, gid: this.portable ? void 0 : this.stat.gid, size: this.stat.size, mtime: this.noMtime ? void 0 : this.mtime || this.stat.mtime, type: this.type === "Unsupported" ? void 0 : this.type, uname: this.portable ? void 0 : this.stat.uid === this.myuid ? this.myuser : "", atime: this.portable ? void 0 : this.stat.atime, ctime: this.portable ? void 0 : this.stat.ctime }), this.header.encode() && !this.noPax && super.write(new ft({ atime: this.portable ? void 0 : this.header.atime, ctime: this.portable ? void 0 : this.header.ctime, gid: this.portable ? void 0 : this.header.gid, mtime: this.noMtime ? void 0 : this.mtime || this.header.mtime, path: this[q](this.path), linkpath: this.type === "Link" && this.linkpath !== void 0 ? this[q](this.linkpath) : this.linkpath, size: this.header.size, uid: this.portable ? void 0 : this.header.uid, uname: this.portable ? void 0 : this.header.uname, dev: this.portable ? void 0 : this.stat.dev, ino: this.portable ? void 0 : this.stat.ino, nlink: this.portable ? void 0 : this.stat.nlink }).encode());
    let t = this.header?.block;
    if (!t) throw new Error("failed to encode header");
    super.write(t);
  }
  [ir]() {
    if (!this.stat) throw new Error("cannot create directory entry without stat");
    this.path.slice(-1) !== "/" && (this.path += "/"), this.stat.size = 0, this[fe](), this.end();
  }
  [is]() {
    X.readlink(this.absolute, (t, e) => {
      if (t) return this.emit("error", t);
      this[ns](e);
    });
  }
  [ns](t) {
    this.linkpath = f(t), this[fe](), this.end();
  }
  [sr](t) {
    if (!this.stat) throw new Error("cannot create link entry without stat");
    this.type = "Link", this.linkpath = f(js.relative(this.cwd, t)), this.stat.size = 0, this[fe](), this.end();
  }
  [er]() {
    if (!this.stat) throw new Error("cannot create file entry without stat");
    if (this.stat.nlink > 1) {
      let t = `${this.stat.dev}:${this.stat.ino}`, e = this.linkCache.get(t);
      if (e?.indexOf(this.cwd) === 0) return this[sr](e);
      this.linkCache.set(t, this.absolute);
    }
    if (this[fe](), this.stat.size === 0) return this.end();
    this[os]();
  }
  [os]() {
    X.open(this.absolute, "r", (t, e) => {
      if (t) return this.emit("error", t);
      this[hs](e);
    });
  }
  [hs](t) {
    if (this.fd = t, this.#t) return this[pt]();
    if (!this.stat) throw new Error("should stat before calling onopenfile");
    this.blockLen = 512 * Math.ceil(this.stat.size / 512), this.blockRemain = this.blockLen;
    let e = Math.min(this.blockLen, this.maxReadSize);
    this.buf = Buffer.allocUnsafe(e), this.offset = 0, this.pos = 0, this.remain = this.stat.size, this.length = this.buf.length, this[ii]();
  }
  [ii]() {
    let { fd: t, buf: e, offset: i, length: r, pos: n } = this;
    if (t === void 0 || e === void 0) throw new Error("cannot read file without first opening");
    X.read(t, e, i, r, n, (o, h) => {
      if (o) return this[pt](() => this.emit("error", o));
      this[rs](h);
    });
  }
  [pt](t = () => {
  }) {
    this.fd !== void 0 && X.close(this.fd, t);
  }
  [rs](t) {
    if (t <= 0 && this.remain > 0) {
      let r = Object.assign(new Error("encountered unexpected EOF"), { path: this.absolute, syscall: "read", code: "EOF" });
      return this[pt](() => this.emit("error", r));
    }
    if (t > this.remain) {
      let r = Object.assign(new Error("did not encounter expected EOF"), { path: this.absolute, syscall: "read", code: "EOF" });
      return this[pt](() => this.emit("error", r));
    }
    if (!this.buf) throw new Error("should have created buffer prior to reading");
    if (t === this.remain) for (let r = t; r < this.length && t < this.blockRemain; r++) this.buf[r + this.offset] = 0, t++, this.remain++;
    let e = this.offset === 0 && t === this.buf.length ? this.buf : this.buf.subarray(this.offset, this.offset + t);
    this.write(e) ? this[es]() : this[as](() => this[es]());
  }
  [as](t) {
    this.once("drain", t);
  }
  write(t, e, i) {
    if (typeof e == "function" && (i = e, e = void 0), typeof t == "string" && (t = Buffer.from(t, typeof e == "string" ? e : "utf8")), this.blockRemain < t.length) {
      let r = Object.assign(new Error("writing more data than expected"), { path: this.absolute });
      return this.emit("error", r);
    }
    return this.remain -= t.length, this.blockRemain -= t.length, this.pos += t.length, this.offset += t.length, super.write(t, null, i);
  }
  [es]() {
    if (!this.remain) return this.blockRemain && super.write(Buffer.alloc(this.blockRemain)), this[pt]((t) => t ? this.emit("error", t) : this.end());
    if (!this.buf) throw new Error("buffer lost somehow in ONDRAIN");
    this.offset >= this.length && (this.buf = Buffer.allocUnsafe(Math.min(this.blockRemain, this.buf.length)), this.offset = 0), this.length = this.buf.length - this.offset, this[ii]();
  }
};
var ni = class extends de {
  sync = true;
  [ss]() {
    this[si](X.lstatSync(this.absolute));
  }
  [is]() {
    this[ns](X.readlinkSync(this.absolute));
  }
  [os]() {
    this[hs](X.openSync(this.absolute, "r"));
  }
  [ii]() {
    let t = true;
    try {
      let { fd: e, buf: i, offset: r, length: n, pos: o } = this;
      if (e === void 0 || i === void 0) throw new Error("fd and buf must be set in READ method");
      let h = X.readSync(e, i, r, n, o);
      this[rs](h), t = false;
    } finally {
      if (t) try {
        this[pt](() => {
        });
      } catch {
      }
    }
  }
  [as](t) {
    t();
  }
  [pt](t = () => {
  }) {
    this.fd !== void 0 && X.closeSync(this.fd), t();
  }
};
var oi = class extends A {
  blockLen = 0;
  blockRemain = 0;
  buf = 0;
  pos = 0;
  remain = 0;
  length = 0;
  preservePaths;
  portable;
  strict;
  noPax;
  noMtime;
  readEntry;
  type;
  prefix;
  path;
  mode;
  uid;
  gid;
  uname;
  gname;
  header;
  mtime;
  atime;
  ctime;
  linkpath;
  size;
  onWriteEntry;
  warn(t, e, i = {}) {
    return Dt(this, t, e, i);
  }
  constructor(t, e = {}) {
    let i = se(e);
    super(), this.preservePaths = !!i.preservePaths, this.portable = !!i.portable, this.strict = !!i.strict, this.noPax = !!i.noPax, this.noMtime = !!i.noMtime, this.onWriteEntry = i.onWriteEntry, this.readEntry = t;
    let { type: r } = t;
    if (r === "Unsupported") throw new Error("writing entry that should be ignored");
    this.type = r, this.type === "Directory" && this.portable && (this.noMtime = true), this.prefix = i.prefix, this.path = f(t.path), this.mode = t.mode !== void 0 ? this[ri](t.mode) : void 0, this.uid = this.portable ? void 0 : t.uid, this.gid = this.portable ? void 0 : t.gid, this.uname = this.portable ? void 0 : t.uname, this.gname = this.portable ? void 0 : t.gname, this.size = t.size, this.mtime = this.noMtime ? void 0 : i.mtime || t.mtime, this.atime = this.portable ? void 0 : t.atime, this.ctime = this.portable ? void 0 : t.ctime, this.linkpath = t.linkpath !== void 0 ? f(t.linkpath) : void 0, typeof i.onwarn == "function" && this.on("warn", i.onwarn);
    let n = false;
    if (!this.preservePaths) {
      let [h, a] = ce(this.path);
      h && typeof a == "string" && (this.path = a, n = h);
    }
    this.remain = t.size, this.blockRemain = t.startBlockSize, this.onWriteEntry?.(this), this.header = new F({ path: this[q](this.path), linkpath: this.type === "Link" && this.linkpath !== void 0 ? this[q](this.linkpath) : this.linkpath, mode: this.mode, uid: this.portable ? void 0 : this.uid, gid: this.portable ? void 0 : this.gid, size: this.size, mtime: this.noMtime ? void 0 : this.mtime, type: this.type, uname: this.portable ? void 0 : this.uname, atime: this.portable ? void 0 : this.atime, ctime: this.portable ? void 0 : this.ctime }), n && this.warn("TAR_ENTRY_INFO", `stripping ${n} from absolute path`, { entry: this, path: n + this.path }), this.header.encode() && !this.noPax && super.write(new ft({ atime: this.portable ? void 0 : this.atime, ctime: this.portable ? void 0 : this.ctime, gid: this.portable ? void 0 : this.gid, mtime: this.noMtime ? void 0 : this.mtime, path: this[q](this.path), linkpath: this.type === "Link" && this.linkpath !== void 0 ? this[q](this.linkpath) : this.linkpath, size: this.size, uid: this.portable ? void 0 : this.uid, uname: this.portable ? void 0 : this.uname, dev: this.portable ? void 0 : this.readEntry.dev, ino: this.portable ? void 0 : this.readEntry.ino, nlink: this.portable ? void 0 : this.readEntry.nlink }).encode());
    let o = this.header?.block;
    if (!o) throw new Error("failed to encode header");
    super.write(o), t.pipe(this);
  }
  [q](t) {
    return rr(t, this.prefix);
  }
  [ri](t) {
    return Ji(t, this.type === "Directory", this.portable);
  }
  write(t, e, i) {
    typeof e == "function" && (i = e, e = void 0), typeof t == "string" && (t = Buffer.from(t, typeof e == "string" ? e : "utf8"));
    let r = t.length;
    if (r > this.blockRemain) throw new Error("writing more to entry than is appropriate");
    return this.blockRemain -= r, super.write(t, i);
  }
  end(t, e, i) {
    return this.blockRemain && super.write(Buffer.alloc(this.blockRemain)), typeof t == "function" && (i = t, e = void 0, t = void 0), typeof e == "function" && (i = e, e = void 0), typeof t == "string" && (t = Buffer.from(t, e ?? "utf8")), i && this.once("finish", i), t ? super.end(t, i) : super.end(i), this;
  }
};
var Gn = (s3) => s3.isFile() ? "File" : s3.isDirectory() ? "Directory" : s3.isSymbolicLink() ? "SymbolicLink" : "Unsupported";
var hi = class s2 {
  tail;
  head;
  length = 0;
  static create(t = []) {
    return new s2(t);
  }
  constructor(t = []) {
    for (let e of t) this.push(e);
  }
  *[Symbol.iterator]() {
    for (let t = this.head; t; t = t.next) yield t.value;
  }
  removeNode(t) {
    if (t.list !== this) throw new Error("removing node which does not belong to this list");
    let e = t.next, i = t.prev;
    return e && (e.prev = i), i && (i.next = e), t === this.head && (this.head = e), t === this.tail && (this.tail = i), this.length--, t.next = void 0, t.prev = void 0, t.list = void 0, e;
  }
  unshiftNode(t) {
    if (t === this.head) return;
    t.list && t.list.removeNode(t);
    let e = this.head;
    t.list = this, t.next = e, e && (e.prev = t), this.head = t, this.tail || (this.tail = t), this.length++;
  }
  pushNode(t) {
    if (t === this.tail) return;
    t.list && t.list.removeNode(t);
    let e = this.tail;
    t.list = this, t.prev = e, e && (e.next = t), this.tail = t, this.head || (this.head = t), this.length++;
  }
  push(...t) {
    for (let e = 0, i = t.length; e < i; e++) Yn(this, t[e]);
    return this.length;
  }
  unshift(...t) {
    for (var e = 0, i = t.length; e < i; e++) Kn(this, t[e]);
    return this.length;
  }
  pop() {
    if (!this.tail) return;
    let t = this.tail.value, e = this.tail;
    return this.tail = this.tail.prev, this.tail ? this.tail.next = void 0 : this.head = void 0, e.list = void 0, this.length--, t;
  }
  shift() {
    if (!this.head) return;
    let t = this.head.value, e = this.head;
    return this.head = this.head.next, this.head ? this.head.prev = void 0 : this.tail = void 0, e.list = void 0, this.length--, t;
  }
  forEach(t, e) {
    e = e || this;
    for (let i = this.head, r = 0; i; r++) t.call(e, i.value, r, this), i = i.next;
  }
  forEachReverse(t, e) {
    e = e || this;
    for (let i = this.tail, r = this.length - 1; i; r--) t.call(e, i.value, r, this), i = i.prev;
  }
  get(t) {
    let e = 0, i = this.head;
    for (; i && e < t; e++) i = i.next;
    if (e === t && i) return i.value;
  }
  getReverse(t) {
    let e = 0, i = this.tail;
    for (; i && e < t; e++) i = i.prev;
    if (e === t && i) return i.value;
  }
  map(t, e) {
    e = e || this;
    let i = new s2();
    for (let r = this.head; r; ) i.push(t.call(e, r.value, this)), r = r.next;
    return i;
  }
  mapReverse(t, e) {
    e = e || this;
    var i = new s2();
    for (let r = this.tail; r; ) i.push(t.call(e, r.value, this)), r = r.prev;
    return i;
  }
  reduce(t, e) {
    let i, r = this.head;
    if (arguments.length > 1) i = e;
    else if (this.head) r = this.head.next, i = this.head.value;
    else throw new TypeError("Reduce of empty list with no initial value");
    for (var n = 0; r; n++) i = t(i, r.value, n), r = r.next;
    return i;
  }
  reduceReverse(t, e) {
    let i, r = this.tail;
    if (arguments.length > 1) i = e;
    else if (this.tail) r = this.tail.prev, i = this.tail.value;
    else throw new TypeError("Reduce of empty list with no initial value");
    for (let n = this.length - 1; r; n--) i = t(i, r.value, n), r = r.prev;
    return i;
  }
  toArray() {
    let t = new Array(this.length);
    for (let e = 0, i = this.head; i; e++) t[e] = i.value, i = i.next;
    return t;
  }
  toArrayReverse() {
    let t = new Array(this.length);
    for (let e = 0, i = this.tail; i; e++) t[e] = i.value, i = i.prev;
    return t;
  }
  slice(t = 0, e = this.length) {
    e < 0 && (e += this.length), t < 0 && (t += this.length);
    let i = new s2();
    if (e < t || e < 0) return i;
    t < 0 && (t = 0), e > this.length && (e = this.length);
    let r = this.head, n = 0;
    for (n = 0; r && n < t; n++) r = r.next;
    for (; r && n < e; n++, r = r.next) i.push(r.value);
    return i;
  }
  sliceReverse(t = 0, e = this.length) {
    e < 0 && (e += this.length), t < 0 && (t += this.length);
    let i = new s2();
    if (e < t || e < 0) return i;
    t < 0 && (t = 0), e > this.length && (e = this.length);
    let r = this.length, n = this.tail;
    for (; n && r > e; r--) n = n.prev;
    for (; n && r > t; r--, n = n.prev) i.push(n.value);
    return i;
  }
  splice(t, e = 0, ...i) {
    t > this.length && (t = this.length - 1), t < 0 && (t = this.length + t);
    let r = this.head;
    for (let o = 0; r && o < t; o++) r = r.next;
    let n = [];
    for (let o = 0; r && o < e; o++) n.push(r.value), r = this.removeNode(r);
    r ? r !== this.tail && (r = r.prev) : r = this.tail;
    for (let o of i) r = Zn(this, r, o);
    return n;
  }
  reverse() {
    let t = this.head, e = this.tail;
    for (let i = t; i; i = i.prev) {
      let r = i.prev;
      i.prev = i.next, i.next = r;
    }
    return this.head = e, this.tail = t, this;
  }
};
function Zn(s3, t, e) {
  let i = t, r = t ? t.next : s3.head, n = new ue(e, i, r, s3);
  return n.next === void 0 && (s3.tail = n), n.prev === void 0 && (s3.head = n), s3.length++, n;
}
function Yn(s3, t) {
  s3.tail = new ue(t, s3.tail, void 0, s3), s3.head || (s3.head = s3.tail), s3.length++;
}
function Kn(s3, t) {
  s3.head = new ue(t, void 0, s3.head, s3), s3.tail || (s3.tail = s3.head), s3.length++;
}
var ue = class {
  list;
  next;
  prev;
  value;
  constructor(t, e, i, r) {
    this.list = r, this.value = t, e ? (e.next = this, this.prev = e) : this.prev = void 0, i ? (i.prev = this, this.next = i) : this.next = void 0;
  }
};
var pi = class {
  path;
  absolute;
  entry;
  stat;
  readdir;
  pending = false;
  pendingLink = false;
  ignore = false;
  piped = false;
  constructor(t, e) {
    this.path = t || "./", this.absolute = e;
  }
};
var nr = Buffer.alloc(1024);
var li = /* @__PURE__ */ Symbol("onStat");
var me = /* @__PURE__ */ Symbol("ended");
var W = /* @__PURE__ */ Symbol("queue");
var pe = /* @__PURE__ */ Symbol("pendingLinks");
var Et = /* @__PURE__ */ Symbol("current");
var Ft = /* @__PURE__ */ Symbol("process");
var Ee = /* @__PURE__ */ Symbol("processing");
var ai = /* @__PURE__ */ Symbol("processJob");
var G = /* @__PURE__ */ Symbol("jobs");
var ls = /* @__PURE__ */ Symbol("jobDone");
var ci = /* @__PURE__ */ Symbol("addFSEntry");
var or = /* @__PURE__ */ Symbol("addTarEntry");
var ds = /* @__PURE__ */ Symbol("stat");
var us = /* @__PURE__ */ Symbol("readdir");
var fi = /* @__PURE__ */ Symbol("onreaddir");
var di = /* @__PURE__ */ Symbol("pipe");
var hr = /* @__PURE__ */ Symbol("entry");
var cs = /* @__PURE__ */ Symbol("entryOpt");
var ui = /* @__PURE__ */ Symbol("writeEntryClass");
var lr = /* @__PURE__ */ Symbol("write");
var fs = /* @__PURE__ */ Symbol("ondrain");
var wt = class extends A {
  sync = false;
  opt;
  cwd;
  maxReadSize;
  preservePaths;
  strict;
  noPax;
  prefix;
  linkCache;
  statCache;
  file;
  portable;
  zip;
  readdirCache;
  noDirRecurse;
  follow;
  noMtime;
  mtime;
  filter;
  jobs;
  [ui];
  onWriteEntry;
  [W];
  [pe] = /* @__PURE__ */ new Map();
  [G] = 0;
  [Ee] = false;
  [me] = false;
  constructor(t = {}) {
    if (super(), this.opt = t, this.file = t.file || "", this.cwd = t.cwd || process.cwd(), this.maxReadSize = t.maxReadSize, this.preservePaths = !!t.preservePaths, this.strict = !!t.strict, this.noPax = !!t.noPax, this.prefix = f(t.prefix || ""), this.linkCache = t.linkCache || /* @__PURE__ */ new Map(), this.statCache = t.statCache || /* @__PURE__ */ new Map(), this.readdirCache = t.readdirCache || /* @__PURE__ */ new Map(), this.onWriteEntry = t.onWriteEntry, this[ui] = de, typeof t.onwarn == "function" && this.on("warn", t.onwarn), this.portable = !!t.portable, t.gzip || t.brotli || t.zstd) {
      if ((t.gzip ? 1 : 0) + (t.brotli ? 1 : 0) + (t.zstd ? 1 : 0) > 1) throw new TypeError("gzip, brotli, zstd are mutually exclusive");
      if (t.gzip && (typeof t.gzip != "object" && (t.gzip = {}), this.portable && (t.gzip.portable = true), this.zip = new ze(t.gzip)), t.brotli && (typeof t.brotli != "object" && (t.brotli = {}), this.zip = new We(t.brotli)), t.zstd && (typeof t.zstd != "object" && (t.zstd = {}), this.zip = new Ye(t.zstd)), !this.zip) throw new Error("impossible");
      let e = this.zip;
      e.on("data", (i) => super.write(i)), e.on("end", () => super.end()), e.on("drain", () => this[fs]()), this.on("resume", () => e.resume());
    } else this.on("drain", this[fs]);
    this.noDirRecurse = !!t.noDirRecurse, this.follow = !!t.follow, this.noMtime = !!t.noMtime, t.mtime && (this.mtime = t.mtime), this.filter = typeof t.filter == "function" ? t.filter : () => true, this[W] = new hi(), this[G] = 0, this.jobs = Number(t.jobs) || 4, this[Ee] = false, this[me] = false;
  }
  [lr](t) {
    return super.write(t);
  }
  add(t) {
    return this.write(t), this;
  }
  end(t, e, i) {
    return typeof t == "function" && (i = t, t = void 0), typeof e == "function" && (i = e, e = void 0), t && this.add(t), this[me] = true, this[Ft](), i && i(), this;
  }
  write(t) {
    if (this[me]) throw new Error("write after end");
    return typeof t == "string" ? this[ci](t) : this[or](t), this.flowing;
  }
  [or](t) {
    let e = f(ar.resolve(this.cwd, t.path));
    if (!this.filter(t.path, t)) t.resume();
    else {
      let i = new pi(t.path, e);
      i.entry = new oi(t, this[cs](i)), i.entry.on("end", () => this[ls](i)), this[G] += 1, this[W].push(i);
    }
    this[Ft]();
  }
  [ci](t) {
    let e = f(ar.resolve(this.cwd, t));
    this[W].push(new pi(t, e)), this[Ft]();
  }
  [ds](t) {
    t.pending = true, this[G] += 1;
    let e = this.follow ? "stat" : "lstat";
    mi[e](t.absolute, (i, r) => {
      t.pending = false, this[G] -= 1, i ? this.emit("error", i) : this[li](t, r);
    });
  }
  [li](t, e) {
    if (this.statCache.set(t.absolute, e), t.stat = e, !this.filter(t.path, e)) t.ignore = true;
    else if (e.isFile() && e.nlink > 1 && !this.linkCache.get(`${e.dev}:${e.ino}`) && !this.sync) if (t === this[Et]) this[ai](t);
    else {
      let i = `${e.dev}:${e.ino}`, r = this[pe].get(i);
      r ? r.push(t) : this[pe].set(i, [t]), t.pendingLink = true, t.pending = true;
    }
    this[Ft]();
  }
  [us](t) {
    t.pending = true, this[G] += 1, mi.readdir(t.absolute, (e, i) => {
      if (t.pending = false, this[G] -= 1, e) return this.emit("error", e);
      this[fi](t, i);
    });
  }
  [fi](t, e) {
    this.readdirCache.set(t.absolute, e), t.readdir = e, this[Ft]();
  }
  [Ft]() {
    if (!this[Ee]) {
      this[Ee] = true;
      for (let t = this[W].head; t && this[G] < this.jobs; t = t.next) if (this[ai](t.value), t.value.ignore) {
        let e = t.next;
        this[W].removeNode(t), t.next = e;
      }
      this[Ee] = false, this[me] && this[W].length === 0 && this[G] === 0 && (this.zip ? this.zip.end(nr) : (super.write(nr), super.end()));
    }
  }
  get [Et]() {
    return this[W] && this[W].head && this[W].head.value;
  }
  [ls](t) {
    this[W].shift(), this[G] -= 1;
    let { stat: e } = t;
    if (e && e.isFile() && e.nlink > 1) {
      let i = `${e.dev}:${e.ino}`, r = this[pe].get(i);
      if (r) {
        this[pe].delete(i);
        for (let n of r) n.pending = false, this[ai](n);
      }
    }
    this[Ft]();
  }
  [ai](t) {
    if (t.pending && t.pendingLink && t === this[Et] && (t.pending = false, t.pendingLink = false), !t.pending) {
      if (t.entry) {
        t === this[Et] && !t.piped && this[di](t);
        return;
      }
      if (!t.stat) {
        let e = this.statCache.get(t.absolute);
        e ? this[li](t, e) : this[ds](t);
      }
      if (t.stat && !t.ignore) {
        if (!this.noDirRecurse && t.stat.isDirectory() && !t.readdir) {
          let e = this.readdirCache.get(t.absolute);
          if (e ? this[fi](t, e) : this[us](t), !t.readdir) return;
        }
        if (t.entry = this[hr](t), !t.entry) {
          t.ignore = true;
          return;
        }
        t === this[Et] && !t.piped && this[di](t);
      }
    }
  }
  [cs](t) {
    return { onwarn: (e, i, r) => this.warn(e, i, r), noPax: this.noPax, cwd: this.cwd, absolute: t.absolute, preservePaths: this.preservePaths, maxReadSize: this.maxReadSize, strict: this.strict, portable: this.portable, linkCache: this.linkCache, statCache: this.statCache, noMtime: this.noMtime, mtime: this.mtime, prefix: this.prefix, onWriteEntry: this.onWriteEntry };
  }
  [hr](t) {
    this[G] += 1;
    try {
      return new this[ui](t.path, this[cs](t)).on("end", () => this[ls](t)).on("error", (i) => this.emit("error", i));
    } catch (e) {
      this.emit("error", e);
    }
  }
  [fs]() {
    this[Et] && this[Et].entry && this[Et].entry.resume();
  }
  [di](t) {
    t.piped = true, t.readdir && t.readdir.forEach((r) => {
      let n = t.path, o = n === "./" ? "" : n.replace(/\/*$/, "/");
      this[ci](o + r);
    });
    let e = t.entry, i = this.zip;
    if (!e) throw new Error("cannot pipe without source");
    i ? e.on("data", (r) => {
      i.write(r) || e.pause();
    }) : e.on("data", (r) => {
      super.write(r) || e.pause();
    });
  }
  pause() {
    return this.zip && this.zip.pause(), super.pause();
  }
  warn(t, e, i = {}) {
    Dt(this, t, e, i);
  }
};
var kt = class extends wt {
  sync = true;
  constructor(t) {
    super(t), this[ui] = ni;
  }
  pause() {
  }
  resume() {
  }
  [ds](t) {
    let e = this.follow ? "statSync" : "lstatSync";
    this[li](t, mi[e](t.absolute));
  }
  [us](t) {
    this[fi](t, mi.readdirSync(t.absolute));
  }
  [di](t) {
    let e = t.entry, i = this.zip;
    if (t.readdir && t.readdir.forEach((r) => {
      let n = t.path, o = n === "./" ? "" : n.replace(/\/*$/, "/");
      this[ci](o + r);
    }), !e) throw new Error("Cannot pipe without source");
    i ? e.on("data", (r) => {
      i.write(r);
    }) : e.on("data", (r) => {
      super[lr](r);
    });
  }
};
var Vn = (s3, t) => {
  let e = new kt(s3), i = new Wt(s3.file, { mode: s3.mode || 438 });
  e.pipe(i), fr(e, t);
};
var $n = (s3, t) => {
  let e = new wt(s3), i = new et(s3.file, { mode: s3.mode || 438 });
  e.pipe(i);
  let r = new Promise((n, o) => {
    i.on("error", o), i.on("close", n), e.on("error", o);
  });
  return dr(e, t).catch((n) => e.emit("error", n)), r;
};
var fr = (s3, t) => {
  t.forEach((e) => {
    e.charAt(0) === "@" ? Ct({ file: cr.resolve(s3.cwd, e.slice(1)), sync: true, noResume: true, onReadEntry: (i) => s3.add(i) }) : s3.add(e);
  }), s3.end();
};
var dr = async (s3, t) => {
  for (let e of t) e.charAt(0) === "@" ? await Ct({ file: cr.resolve(String(s3.cwd), e.slice(1)), noResume: true, onReadEntry: (i) => {
    s3.add(i);
  } }) : s3.add(e);
  s3.end();
};
var Xn = (s3, t) => {
  let e = new kt(s3);
  return fr(e, t), e;
};
var qn = (s3, t) => {
  let e = new wt(s3);
  return dr(e, t).catch((i) => e.emit("error", i)), e;
};
var Qn = K(Vn, $n, Xn, qn, (s3, t) => {
  if (!t?.length) throw new TypeError("no paths specified to add to archive");
});
var Jn = process.env.__FAKE_PLATFORM__ || process.platform;
var Er = Jn === "win32";
var { O_CREAT: wr, O_NOFOLLOW: ur, O_TRUNC: Sr, O_WRONLY: yr } = pr.constants;
var Rr = Number(process.env.__FAKE_FS_O_FILENAME__) || pr.constants.UV_FS_O_FILEMAP || 0;
var jn = Er && !!Rr;
var to = 512 * 1024;
var eo = Rr | Sr | wr | yr;
var mr = !Er && typeof ur == "number" ? ur | Sr | wr | yr : null;
var ms = mr !== null ? () => mr : jn ? (s3) => s3 < to ? eo : "w" : () => "w";
var ps = (s3, t, e) => {
  try {
    return wi.lchownSync(s3, t, e);
  } catch (i) {
    if (i?.code !== "ENOENT") throw i;
  }
};
var Ei = (s3, t, e, i) => {
  wi.lchown(s3, t, e, (r) => {
    i(r && r?.code !== "ENOENT" ? r : null);
  });
};
var io = (s3, t, e, i, r) => {
  if (t.isDirectory()) Es(we.resolve(s3, t.name), e, i, (n) => {
    if (n) return r(n);
    let o = we.resolve(s3, t.name);
    Ei(o, e, i, r);
  });
  else {
    let n = we.resolve(s3, t.name);
    Ei(n, e, i, r);
  }
};
var Es = (s3, t, e, i) => {
  wi.readdir(s3, { withFileTypes: true }, (r, n) => {
    if (r) {
      if (r.code === "ENOENT") return i();
      if (r.code !== "ENOTDIR" && r.code !== "ENOTSUP") return i(r);
    }
    if (r || !n.length) return Ei(s3, t, e, i);
    let o = n.length, h = null, a = (l) => {
      if (!h) {
        if (l) return i(h = l);
        if (--o === 0) return Ei(s3, t, e, i);
      }
    };
    for (let l of n) io(s3, l, t, e, a);
  });
};
var so = (s3, t, e, i) => {
  t.isDirectory() && ws(we.resolve(s3, t.name), e, i), ps(we.resolve(s3, t.name), e, i);
};
var ws = (s3, t, e) => {
  let i;
  try {
    i = wi.readdirSync(s3, { withFileTypes: true });
  } catch (r) {
    let n = r;
    if (n?.code === "ENOENT") return;
    if (n?.code === "ENOTDIR" || n?.code === "ENOTSUP") return ps(s3, t, e);
    throw n;
  }
  for (let r of i) so(s3, r, t, e);
  return ps(s3, t, e);
};
var Se = class extends Error {
  path;
  code;
  syscall = "chdir";
  constructor(t, e) {
    super(`${e}: Cannot cd into '${t}'`), this.path = t, this.code = e;
  }
  get name() {
    return "CwdError";
  }
};
var St = class extends Error {
  path;
  symlink;
  syscall = "symlink";
  code = "TAR_SYMLINK_ERROR";
  constructor(t, e) {
    super("TAR_SYMLINK_ERROR: Cannot extract through symbolic link"), this.symlink = t, this.path = e;
  }
  get name() {
    return "SymlinkError";
  }
};
var no = (s3, t) => {
  k.stat(s3, (e, i) => {
    (e || !i.isDirectory()) && (e = new Se(s3, e?.code || "ENOTDIR")), t(e);
  });
};
var gr = (s3, t, e) => {
  s3 = f(s3);
  let i = t.umask ?? 18, r = t.mode | 448, n = (r & i) !== 0, o = t.uid, h = t.gid, a = typeof o == "number" && typeof h == "number" && (o !== t.processUid || h !== t.processGid), l = t.preserve, c = t.unlink, d = f(t.cwd), y = (E, x) => {
    E ? e(E) : x && a ? Es(x, o, h, (Le) => y(Le)) : n ? k.chmod(s3, r, e) : e();
  };
  if (s3 === d) return no(s3, y);
  if (l) return ro.mkdir(s3, { mode: r, recursive: true }).then((E) => y(null, E ?? void 0), y);
  let D = f(Si.relative(d, s3)).split("/");
  Ss(d, D, r, c, d, void 0, y);
};
var Ss = (s3, t, e, i, r, n, o) => {
  if (t.length === 0) return o(null, n);
  let h = t.shift(), a = f(Si.resolve(s3 + "/" + h));
  k.mkdir(a, e, br(a, t, e, i, r, n, o));
};
var br = (s3, t, e, i, r, n, o) => (h) => {
  h ? k.lstat(s3, (a, l) => {
    if (a) a.path = a.path && f(a.path), o(a);
    else if (l.isDirectory()) Ss(s3, t, e, i, r, n, o);
    else if (i) k.unlink(s3, (c) => {
      if (c) return o(c);
      k.mkdir(s3, e, br(s3, t, e, i, r, n, o));
    });
    else {
      if (l.isSymbolicLink()) return o(new St(s3, s3 + "/" + t.join("/")));
      o(h);
    }
  }) : (n = n || s3, Ss(s3, t, e, i, r, n, o));
};
var oo = (s3) => {
  let t = false, e;
  try {
    t = k.statSync(s3).isDirectory();
  } catch (i) {
    e = i?.code;
  } finally {
    if (!t) throw new Se(s3, e ?? "ENOTDIR");
  }
};
var _r = (s3, t) => {
  s3 = f(s3);
  let e = t.umask ?? 18, i = t.mode | 448, r = (i & e) !== 0, n = t.uid, o = t.gid, h = typeof n == "number" && typeof o == "number" && (n !== t.processUid || o !== t.processGid), a = t.preserve, l = t.unlink, c = f(t.cwd), d = (E) => {
    E && h && ws(E, n, o), r && k.chmodSync(s3, i);
  };
  if (s3 === c) return oo(c), d();
  if (a) return d(k.mkdirSync(s3, { mode: i, recursive: true }) ?? void 0);
  let T = f(Si.relative(c, s3)).split("/"), D;
  for (let E = T.shift(), x = c; E && (x += "/" + E); E = T.shift()) {
    x = f(Si.resolve(x));
    try {
      k.mkdirSync(x, i), D = D || x;
    } catch {
      let Le = k.lstatSync(x);
      if (Le.isDirectory()) continue;
      if (l) {
        k.unlinkSync(x), k.mkdirSync(x, i), D = D || x;
        continue;
      } else if (Le.isSymbolicLink()) return new St(x, x + "/" + T.join("/"));
    }
  }
  return d(D);
};
var ys = /* @__PURE__ */ Object.create(null);
var Or = 1e4;
var Vt = /* @__PURE__ */ new Set();
var Tr = (s3) => {
  Vt.has(s3) ? Vt.delete(s3) : ys[s3] = s3.normalize("NFD").toLocaleLowerCase("en").toLocaleUpperCase("en"), Vt.add(s3);
  let t = ys[s3], e = Vt.size - Or;
  if (e > Or / 10) {
    for (let i of Vt) if (Vt.delete(i), delete ys[i], --e <= 0) break;
  }
  return t;
};
var ho = process.env.TESTING_TAR_FAKE_PLATFORM || process.platform;
var ao = ho === "win32";
var lo = (s3) => s3.split("/").slice(0, -1).reduce((e, i) => {
  let r = e.at(-1);
  return r !== void 0 && (i = xr(r, i)), e.push(i || "/"), e;
}, []);
var yi = class {
  #t = /* @__PURE__ */ new Map();
  #i = /* @__PURE__ */ new Map();
  #s = /* @__PURE__ */ new Set();
  reserve(t, e) {
    t = ao ? ["win32 parallelization disabled"] : t.map((r) => mt(xr(Tr(r))));
    let i = new Set(t.map((r) => lo(r)).reduce((r, n) => r.concat(n)));
    this.#i.set(e, { dirs: i, paths: t });
    for (let r of t) {
      let n = this.#t.get(r);
      n ? n.push(e) : this.#t.set(r, [e]);
    }
    for (let r of i) {
      let n = this.#t.get(r);
      if (!n) this.#t.set(r, [/* @__PURE__ */ new Set([e])]);
      else {
        let o = n.at(-1);
        o instanceof Set ? o.add(e) : n.push(/* @__PURE__ */ new Set([e]));
      }
    }
    return this.#r(e);
  }
  #n(t) {
    let e = this.#i.get(t);
    if (!e) throw new Error("function does not have any path reservations");
    return { paths: e.paths.map((i) => this.#t.get(i)), dirs: [...e.dirs].map((i) => this.#t.get(i)) };
  }
  check(t) {
    let { paths: e, dirs: i } = this.#n(t);
    return e.every((r) => r && r[0] === t) && i.every((r) => r && r[0] instanceof Set && r[0].has(t));
  }
  #r(t) {
    return this.#s.has(t) || !this.check(t) ? false : (this.#s.add(t), t(() => this.#e(t)), true);
  }
  #e(t) {
    if (!this.#s.has(t)) return false;
    let e = this.#i.get(t);
    if (!e) throw new Error("invalid reservation");
    let { paths: i, dirs: r } = e, n = /* @__PURE__ */ new Set();
    for (let o of i) {
      let h = this.#t.get(o);
      if (!h || h?.[0] !== t) continue;
      let a = h[1];
      if (!a) {
        this.#t.delete(o);
        continue;
      }
      if (h.shift(), typeof a == "function") n.add(a);
      else for (let l of a) n.add(l);
    }
    for (let o of r) {
      let h = this.#t.get(o), a = h?.[0];
      if (!(!h || !(a instanceof Set))) if (a.size === 1 && h.length === 1) {
        this.#t.delete(o);
        continue;
      } else if (a.size === 1) {
        h.shift();
        let l = h[0];
        typeof l == "function" && n.add(l);
      } else a.delete(t);
    }
    return this.#s.delete(t), n.forEach((o) => this.#r(o)), true;
  }
};
var Lr = () => process.umask();
var Dr = /* @__PURE__ */ Symbol("onEntry");
var _s = /* @__PURE__ */ Symbol("checkFs");
var Nr = /* @__PURE__ */ Symbol("checkFs2");
var Os = /* @__PURE__ */ Symbol("isReusable");
var P = /* @__PURE__ */ Symbol("makeFs");
var Ts = /* @__PURE__ */ Symbol("file");
var xs = /* @__PURE__ */ Symbol("directory");
var gi = /* @__PURE__ */ Symbol("link");
var Ar = /* @__PURE__ */ Symbol("symlink");
var Ir = /* @__PURE__ */ Symbol("hardlink");
var Re = /* @__PURE__ */ Symbol("ensureNoSymlink");
var Cr = /* @__PURE__ */ Symbol("unsupported");
var Fr = /* @__PURE__ */ Symbol("checkPath");
var Rs = /* @__PURE__ */ Symbol("stripAbsolutePath");
var yt = /* @__PURE__ */ Symbol("mkdir");
var O = /* @__PURE__ */ Symbol("onError");
var Ri = /* @__PURE__ */ Symbol("pending");
var kr = /* @__PURE__ */ Symbol("pend");
var $t = /* @__PURE__ */ Symbol("unpend");
var gs = /* @__PURE__ */ Symbol("ended");
var bs = /* @__PURE__ */ Symbol("maybeClose");
var Ls = /* @__PURE__ */ Symbol("skip");
var ge = /* @__PURE__ */ Symbol("doChown");
var be = /* @__PURE__ */ Symbol("uid");
var _e = /* @__PURE__ */ Symbol("gid");
var Oe = /* @__PURE__ */ Symbol("checkedCwd");
var fo = process.env.TESTING_TAR_FAKE_PLATFORM || process.platform;
var Te = fo === "win32";
var uo = 1024;
var mo = (s3, t) => {
  if (!Te) return u.unlink(s3, t);
  let e = s3 + ".DELETE." + Mr(16).toString("hex");
  u.rename(s3, e, (i) => {
    if (i) return t(i);
    u.unlink(e, t);
  });
};
var po = (s3) => {
  if (!Te) return u.unlinkSync(s3);
  let t = s3 + ".DELETE." + Mr(16).toString("hex");
  u.renameSync(s3, t), u.unlinkSync(t);
};
var vr = (s3, t, e) => s3 !== void 0 && s3 === s3 >>> 0 ? s3 : t !== void 0 && t === t >>> 0 ? t : e;
var Xt = class extends rt {
  [gs] = false;
  [Oe] = false;
  [Ri] = 0;
  reservations = new yi();
  transform;
  writable = true;
  readable = false;
  uid;
  gid;
  setOwner;
  preserveOwner;
  processGid;
  processUid;
  maxDepth;
  forceChown;
  win32;
  newer;
  keep;
  noMtime;
  preservePaths;
  unlink;
  cwd;
  strip;
  processUmask;
  umask;
  dmode;
  fmode;
  chmod;
  constructor(t = {}) {
    if (t.ondone = () => {
      this[gs] = true, this[bs]();
    }, super(t), this.transform = t.transform, this.chmod = !!t.chmod, typeof t.uid == "number" || typeof t.gid == "number") {
      if (typeof t.uid != "number" || typeof t.gid != "number") throw new TypeError("cannot set owner without number uid and gid");
      if (t.preserveOwner) throw new TypeError("cannot preserve owner in archive and also set owner explicitly");
      this.uid = t.uid, this.gid = t.gid, this.setOwner = true;
    } else this.uid = void 0, this.gid = void 0, this.setOwner = false;
    this.preserveOwner = t.preserveOwner === void 0 && typeof t.uid != "number" ? process.getuid?.() === 0 : !!t.preserveOwner, this.processUid = (this.preserveOwner || this.setOwner) && process.getuid ? process.getuid() : void 0, this.processGid = (this.preserveOwner || this.setOwner) && process.getgid ? process.getgid() : void 0, this.maxDepth = typeof t.maxDepth == "number" ? t.maxDepth : uo, this.forceChown = t.forceChown === true, this.win32 = !!t.win32 || Te, this.newer = !!t.newer, this.keep = !!t.keep, this.noMtime = !!t.noMtime, this.preservePaths = !!t.preservePaths, this.unlink = !!t.unlink, this.cwd = f(R.resolve(t.cwd || process.cwd())), this.strip = Number(t.strip) || 0, this.processUmask = this.chmod ? typeof t.processUmask == "number" ? t.processUmask : Lr() : 0, this.umask = typeof t.umask == "number" ? t.umask : this.processUmask, this.dmode = t.dmode || 511 & ~this.umask, this.fmode = t.fmode || 438 & ~this.umask, this.on("entry", (e) => this[Dr](e));
  }
  warn(t, e, i = {}) {
    return (t === "TAR_BAD_ARCHIVE" || t === "TAR_ABORT") && (i.recoverable = false), super.warn(t, e, i);
  }
  [bs]() {
    this[gs] && this[Ri] === 0 && (this.emit("prefinish"), this.emit("finish"), this.emit("end"));
  }
  [Rs](t, e) {
    let i = t[e], { type: r } = t;
    if (!i || this.preservePaths) return true;
    let [n, o] = ce(i), h = o.replaceAll(/\\/g, "/").split("/");
    if (h.includes("..") || Te && /^[a-z]:\.\.$/i.test(h[0] ?? "")) {
      if (e === "path" || r === "Link") return this.warn("TAR_ENTRY_ERROR", `${e} contains '..'`, { entry: t, [e]: i }), false;
      let a = R.posix.dirname(t.path), l = R.posix.normalize(R.posix.join(a, h.join("/")));
      if (l.startsWith("../") || l === "..") return this.warn("TAR_ENTRY_ERROR", `${e} escapes extraction directory`, { entry: t, [e]: i }), false;
    }
    return n && (t[e] = String(o), this.warn("TAR_ENTRY_INFO", `stripping ${n} from absolute ${e}`, { entry: t, [e]: i })), true;
  }
  [Fr](t) {
    let e = f(t.path), i = e.split("/");
    if (this.strip) {
      if (i.length < this.strip) return false;
      if (t.type === "Link") {
        let r = f(String(t.linkpath)).split("/");
        if (r.length >= this.strip) t.linkpath = r.slice(this.strip).join("/");
        else return false;
      }
      i.splice(0, this.strip), t.path = i.join("/");
    }
    if (isFinite(this.maxDepth) && i.length > this.maxDepth) return this.warn("TAR_ENTRY_ERROR", "path excessively deep", { entry: t, path: e, depth: i.length, maxDepth: this.maxDepth }), false;
    if (!this[Rs](t, "path") || !this[Rs](t, "linkpath")) return false;
    if (t.absolute = R.isAbsolute(t.path) ? f(R.resolve(t.path)) : f(R.resolve(this.cwd, t.path)), !this.preservePaths && typeof t.absolute == "string" && t.absolute.indexOf(this.cwd + "/") !== 0 && t.absolute !== this.cwd) return this.warn("TAR_ENTRY_ERROR", "path escaped extraction target", { entry: t, path: f(t.path), resolvedPath: t.absolute, cwd: this.cwd }), false;
    if (t.absolute === this.cwd && t.type !== "Directory" && t.type !== "GNUDumpDir") return false;
    if (this.win32) {
      let { root: r } = R.win32.parse(String(t.absolute));
      t.absolute = r + ts(String(t.absolute).slice(r.length));
      let { root: n } = R.win32.parse(t.path);
      t.path = n + ts(t.path.slice(n.length));
    }
    return true;
  }
  [Dr](t) {
    if (!this[Fr](t)) return t.resume();
    switch (co.equal(typeof t.absolute, "string"), t.type) {
      case "Directory":
      case "GNUDumpDir":
        t.mode && (t.mode = t.mode | 448);
      case "File":
      case "OldFile":
      case "ContiguousFile":
      case "Link":
      case "SymbolicLink":
        return this[_s](t);
      default:
        return this[Cr](t);
    }
  }
  [O](t, e) {
    t.name === "CwdError" ? this.emit("error", t) : (this.warn("TAR_ENTRY_ERROR", t, { entry: e }), this[$t](), e.resume());
  }
  [yt](t, e, i) {
    gr(f(t), { uid: this.uid, gid: this.gid, processUid: this.processUid, processGid: this.processGid, umask: this.processUmask, preserve: this.preservePaths, unlink: this.unlink, cwd: this.cwd, mode: e }, i);
  }
  [ge](t) {
    return this.forceChown || this.preserveOwner && (typeof t.uid == "number" && t.uid !== this.processUid || typeof t.gid == "number" && t.gid !== this.processGid) || typeof this.uid == "number" && this.uid !== this.processUid || typeof this.gid == "number" && this.gid !== this.processGid;
  }
  [be](t) {
    return vr(this.uid, t.uid, this.processUid);
  }
  [_e](t) {
    return vr(this.gid, t.gid, this.processGid);
  }
  [Ts](t, e) {
    let i = typeof t.mode == "number" ? t.mode & 4095 : this.fmode, r = new et(String(t.absolute), { flags: ms(t.size), mode: i, autoClose: false });
    r.on("error", (a) => {
      r.fd && u.close(r.fd, () => {
      }), r.write = () => true, this[O](a, t), e();
    });
    let n = 1, o = (a) => {
      if (a) {
        r.fd && u.close(r.fd, () => {
        }), this[O](a, t), e();
        return;
      }
      --n === 0 && r.fd !== void 0 && u.close(r.fd, (l) => {
        l ? this[O](l, t) : this[$t](), e();
      });
    };
    r.on("finish", () => {
      let a = String(t.absolute), l = r.fd;
      if (typeof l == "number" && t.mtime && !this.noMtime) {
        n++;
        let c = t.atime || /* @__PURE__ */ new Date(), d = t.mtime;
        u.futimes(l, c, d, (y) => y ? u.utimes(a, c, d, (T) => o(T && y)) : o());
      }
      if (typeof l == "number" && this[ge](t)) {
        n++;
        let c = this[be](t), d = this[_e](t);
        typeof c == "number" && typeof d == "number" && u.fchown(l, c, d, (y) => y ? u.chown(a, c, d, (T) => o(T && y)) : o());
      }
      o();
    });
    let h = this.transform && this.transform(t) || t;
    h !== t && (h.on("error", (a) => {
      this[O](a, t), e();
    }), t.pipe(h)), h.pipe(r);
  }
  [xs](t, e) {
    let i = typeof t.mode == "number" ? t.mode & 4095 : this.dmode;
    this[yt](String(t.absolute), i, (r) => {
      if (r) {
        this[O](r, t), e();
        return;
      }
      let n = 1, o = () => {
        --n === 0 && (e(), this[$t](), t.resume());
      };
      t.mtime && !this.noMtime && (n++, u.utimes(String(t.absolute), t.atime || /* @__PURE__ */ new Date(), t.mtime, o)), this[ge](t) && (n++, u.chown(String(t.absolute), Number(this[be](t)), Number(this[_e](t)), o)), o();
    });
  }
  [Cr](t) {
    t.unsupported = true, this.warn("TAR_ENTRY_UNSUPPORTED", `unsupported entry type: ${t.type}`, { entry: t }), t.resume();
  }
  [Ar](t, e) {
    let i = f(R.relative(this.cwd, R.resolve(R.dirname(String(t.absolute)), String(t.linkpath)))).split("/");
    this[Re](t, this.cwd, i, () => this[gi](t, String(t.linkpath), "symlink", e), (r) => {
      this[O](r, t), e();
    });
  }
  [Ir](t, e) {
    let i = f(R.resolve(this.cwd, String(t.linkpath))), r = f(String(t.linkpath)).split("/");
    this[Re](t, this.cwd, r, () => this[gi](t, i, "link", e), (n) => {
      this[O](n, t), e();
    });
  }
  [Re](t, e, i, r, n) {
    let o = i.shift();
    if (this.preservePaths || o === void 0) return r();
    let h = R.resolve(e, o);
    u.lstat(h, (a, l) => {
      if (a) return r();
      if (l?.isSymbolicLink()) return n(new St(h, R.resolve(h, i.join("/"))));
      this[Re](t, h, i, r, n);
    });
  }
  [kr]() {
    this[Ri]++;
  }
  [$t]() {
    this[Ri]--, this[bs]();
  }
  [Ls](t) {
    this[$t](), t.resume();
  }
  [Os](t, e) {
    return t.type === "File" && !this.unlink && e.isFile() && e.nlink <= 1 && !Te;
  }
  [_s](t) {
    this[kr]();
    let e = [t.path];
    t.linkpath && e.push(t.linkpath), this.reservations.reserve(e, (i) => this[Nr](t, i));
  }
  [Nr](t, e) {
    let i = (h) => {
      e(h);
    }, r = () => {
      this[yt](this.cwd, this.dmode, (h) => {
        if (h) {
          this[O](h, t), i();
          return;
        }
        this[Oe] = true, n();
      });
    }, n = () => {
      if (t.absolute !== this.cwd) {
        let h = f(R.dirname(String(t.absolute)));
        if (h !== this.cwd) return this[yt](h, this.dmode, (a) => {
          if (a) {
            this[O](a, t), i();
            return;
          }
          o();
        });
      }
      o();
    }, o = () => {
      u.lstat(String(t.absolute), (h, a) => {
        if (a && (this.keep || this.newer && a.mtime > (t.mtime ?? a.mtime))) {
          this[Ls](t), i();
          return;
        }
        if (h || this[Os](t, a)) return this[P](null, t, i);
        if (a.isDirectory()) {
          if (t.type === "Directory") {
            let l = this.chmod && t.mode && (a.mode & 4095) !== t.mode, c = (d) => this[P](d ?? null, t, i);
            return l ? u.chmod(String(t.absolute), Number(t.mode), c) : c();
          }
          if (t.absolute !== this.cwd) return u.rmdir(String(t.absolute), (l) => this[P](l ?? null, t, i));
        }
        if (t.absolute === this.cwd) return this[P](null, t, i);
        mo(String(t.absolute), (l) => this[P](l ?? null, t, i));
      });
    };
    this[Oe] ? n() : r();
  }
  [P](t, e, i) {
    if (t) {
      this[O](t, e), i();
      return;
    }
    switch (e.type) {
      case "File":
      case "OldFile":
      case "ContiguousFile":
        return this[Ts](e, i);
      case "Link":
        return this[Ir](e, i);
      case "SymbolicLink":
        return this[Ar](e, i);
      case "Directory":
      case "GNUDumpDir":
        return this[xs](e, i);
    }
  }
  [gi](t, e, i, r) {
    u[i](e, String(t.absolute), (n) => {
      n ? this[O](n, t) : (this[$t](), t.resume()), r();
    });
  }
};
var ye = (s3) => {
  try {
    return [null, s3()];
  } catch (t) {
    return [t, null];
  }
};
var xe = class extends Xt {
  sync = true;
  [P](t, e) {
    return super[P](t, e, () => {
    });
  }
  [_s](t) {
    if (!this[Oe]) {
      let n = this[yt](this.cwd, this.dmode);
      if (n) return this[O](n, t);
      this[Oe] = true;
    }
    if (t.absolute !== this.cwd) {
      let n = f(R.dirname(String(t.absolute)));
      if (n !== this.cwd) {
        let o = this[yt](n, this.dmode);
        if (o) return this[O](o, t);
      }
    }
    let [e, i] = ye(() => u.lstatSync(String(t.absolute)));
    if (i && (this.keep || this.newer && i.mtime > (t.mtime ?? i.mtime))) return this[Ls](t);
    if (e || this[Os](t, i)) return this[P](null, t);
    if (i.isDirectory()) {
      if (t.type === "Directory") {
        let o = this.chmod && t.mode && (i.mode & 4095) !== t.mode, [h] = o ? ye(() => {
          u.chmodSync(String(t.absolute), Number(t.mode));
        }) : [];
        return this[P](h, t);
      }
      let [n] = ye(() => u.rmdirSync(String(t.absolute)));
      this[P](n, t);
    }
    let [r] = t.absolute === this.cwd ? [] : ye(() => po(String(t.absolute)));
    this[P](r, t);
  }
  [Ts](t, e) {
    let i = typeof t.mode == "number" ? t.mode & 4095 : this.fmode, r = (h) => {
      let a;
      try {
        u.closeSync(n);
      } catch (l) {
        a = l;
      }
      (h || a) && this[O](h || a, t), e();
    }, n;
    try {
      n = u.openSync(String(t.absolute), ms(t.size), i);
    } catch (h) {
      return r(h);
    }
    let o = this.transform && this.transform(t) || t;
    o !== t && (o.on("error", (h) => this[O](h, t)), t.pipe(o)), o.on("data", (h) => {
      try {
        u.writeSync(n, h, 0, h.length);
      } catch (a) {
        r(a);
      }
    }), o.on("end", () => {
      let h = null;
      if (t.mtime && !this.noMtime) {
        let a = t.atime || /* @__PURE__ */ new Date(), l = t.mtime;
        try {
          u.futimesSync(n, a, l);
        } catch (c) {
          try {
            u.utimesSync(String(t.absolute), a, l);
          } catch {
            h = c;
          }
        }
      }
      if (this[ge](t)) {
        let a = this[be](t), l = this[_e](t);
        try {
          u.fchownSync(n, Number(a), Number(l));
        } catch (c) {
          try {
            u.chownSync(String(t.absolute), Number(a), Number(l));
          } catch {
            h = h || c;
          }
        }
      }
      r(h);
    });
  }
  [xs](t, e) {
    let i = typeof t.mode == "number" ? t.mode & 4095 : this.dmode, r = this[yt](String(t.absolute), i);
    if (r) {
      this[O](r, t), e();
      return;
    }
    if (t.mtime && !this.noMtime) try {
      u.utimesSync(String(t.absolute), t.atime || /* @__PURE__ */ new Date(), t.mtime);
    } catch {
    }
    if (this[ge](t)) try {
      u.chownSync(String(t.absolute), Number(this[be](t)), Number(this[_e](t)));
    } catch {
    }
    e(), t.resume();
  }
  [yt](t, e) {
    try {
      return _r(f(t), { uid: this.uid, gid: this.gid, processUid: this.processUid, processGid: this.processGid, umask: this.processUmask, preserve: this.preservePaths, unlink: this.unlink, cwd: this.cwd, mode: e });
    } catch (i) {
      return i;
    }
  }
  [Re](t, e, i, r, n) {
    if (this.preservePaths || i.length === 0) return r();
    let o = e;
    for (let h of i) {
      o = R.resolve(o, h);
      let [a, l] = ye(() => u.lstatSync(o));
      if (a) return r();
      if (l.isSymbolicLink()) return n(new St(o, R.resolve(e, i.join("/"))));
    }
    r();
  }
  [gi](t, e, i, r) {
    let n = `${i}Sync`;
    try {
      u[n](e, String(t.absolute)), r(), t.resume();
    } catch (o) {
      return this[O](o, t);
    }
  }
};
var Eo = (s3) => {
  let t = new xe(s3), e = s3.file, i = Br.statSync(e), r = s3.maxReadSize || 16 * 1024 * 1024;
  new Be(e, { readSize: r, size: i.size }).pipe(t);
};
var wo = (s3, t) => {
  let e = new Xt(s3), i = s3.maxReadSize || 16 * 1024 * 1024, r = s3.file;
  return new Promise((o, h) => {
    e.on("error", h), e.on("close", o), Br.stat(r, (a, l) => {
      if (a) h(a);
      else {
        let c = new _t(r, { readSize: i, size: l.size });
        c.on("error", h), c.pipe(e);
      }
    });
  });
};
var So = K(Eo, wo, (s3) => new xe(s3), (s3) => new Xt(s3), (s3, t) => {
  t?.length && Qi(s3, t);
});
var yo = (s3, t) => {
  let e = new kt(s3), i = true, r, n;
  try {
    try {
      r = v.openSync(s3.file, "r+");
    } catch (a) {
      if (a?.code === "ENOENT") r = v.openSync(s3.file, "w+");
      else throw a;
    }
    let o = v.fstatSync(r), h = Buffer.alloc(512);
    t: for (n = 0; n < o.size; n += 512) {
      for (let c = 0, d = 0; c < 512; c += d) {
        if (d = v.readSync(r, h, c, h.length - c, n + c), n === 0 && h[0] === 31 && h[1] === 139) throw new Error("cannot append to compressed archives");
        if (!d) break t;
      }
      let a = new F(h);
      if (!a.cksumValid) break;
      let l = 512 * Math.ceil((a.size || 0) / 512);
      if (n + l + 512 > o.size) break;
      n += l, s3.mtimeCache && a.mtime && s3.mtimeCache.set(String(a.path), a.mtime);
    }
    i = false, Ro(s3, e, n, r, t);
  } finally {
    if (i) try {
      v.closeSync(r);
    } catch {
    }
  }
};
var Ro = (s3, t, e, i, r) => {
  let n = new Wt(s3.file, { fd: i, start: e });
  t.pipe(n), bo(t, r);
};
var go = (s3, t) => {
  t = Array.from(t);
  let e = new wt(s3), i = (n, o, h) => {
    let a = (T, D) => {
      T ? v.close(n, (E) => h(T)) : h(null, D);
    }, l = 0;
    if (o === 0) return a(null, 0);
    let c = 0, d = Buffer.alloc(512), y = (T, D) => {
      if (T || D === void 0) return a(T);
      if (c += D, c < 512 && D) return v.read(n, d, c, d.length - c, l + c, y);
      if (l === 0 && d[0] === 31 && d[1] === 139) return a(new Error("cannot append to compressed archives"));
      if (c < 512) return a(null, l);
      let E = new F(d);
      if (!E.cksumValid) return a(null, l);
      let x = 512 * Math.ceil((E.size ?? 0) / 512);
      if (l + x + 512 > o || (l += x + 512, l >= o)) return a(null, l);
      s3.mtimeCache && E.mtime && s3.mtimeCache.set(String(E.path), E.mtime), c = 0, v.read(n, d, 0, 512, l, y);
    };
    v.read(n, d, 0, 512, l, y);
  };
  return new Promise((n, o) => {
    e.on("error", o);
    let h = "r+", a = (l, c) => {
      if (l && l.code === "ENOENT" && h === "r+") return h = "w+", v.open(s3.file, h, a);
      if (l || !c) return o(l);
      v.fstat(c, (d, y) => {
        if (d) return v.close(c, () => o(d));
        i(c, y.size, (T, D) => {
          if (T) return o(T);
          let E = new et(s3.file, { fd: c, start: D });
          e.pipe(E), E.on("error", o), E.on("close", n), _o(e, t);
        });
      });
    };
    v.open(s3.file, h, a);
  });
};
var bo = (s3, t) => {
  t.forEach((e) => {
    e.charAt(0) === "@" ? Ct({ file: Pr.resolve(s3.cwd, e.slice(1)), sync: true, noResume: true, onReadEntry: (i) => s3.add(i) }) : s3.add(e);
  }), s3.end();
};
var _o = async (s3, t) => {
  for (let e of t) e.charAt(0) === "@" ? await Ct({ file: Pr.resolve(String(s3.cwd), e.slice(1)), noResume: true, onReadEntry: (i) => s3.add(i) }) : s3.add(e);
  s3.end();
};
var vt = K(yo, go, () => {
  throw new TypeError("file is required");
}, () => {
  throw new TypeError("file is required");
}, (s3, t) => {
  if (!Bs(s3)) throw new TypeError("file is required");
  if (s3.gzip || s3.brotli || s3.zstd || s3.file.endsWith(".br") || s3.file.endsWith(".tbr")) throw new TypeError("cannot append to compressed archives");
  if (!t?.length) throw new TypeError("no paths specified to add/replace");
});
var Oo = K(vt.syncFile, vt.asyncFile, vt.syncNoFile, vt.asyncNoFile, (s3, t = []) => {
  vt.validate?.(s3, t), To(s3);
});
var To = (s3) => {
  let t = s3.filter;
  s3.mtimeCache || (s3.mtimeCache = /* @__PURE__ */ new Map()), s3.filter = t ? (e, i) => t(e, i) && !((s3.mtimeCache?.get(e) ?? i.mtime ?? 0) > (i.mtime ?? 0)) : (e, i) => !((s3.mtimeCache?.get(e) ?? i.mtime ?? 0) > (i.mtime ?? 0));
};

// packages/core/dist/archive/tar.js
var TarWriteError = class extends KilnError {
};
var TAR_BLOCK = 512;
var MAX_OCTAL_8 = 2097151;
var MAX_OCTAL_12 = 8589934591;
var BATCH = 64 * 1024;
var TAR_TYPE = {
  file: "File",
  dir: "Directory",
  symlink: "SymbolicLink",
  hardlink: "Link",
  char: "CharacterDevice",
  block: "BlockDevice",
  fifo: "FIFO"
};
function isEntryType(type) {
  return Object.prototype.hasOwnProperty.call(TAR_TYPE, type);
}
var ZEROS = Buffer.alloc(2 * TAR_BLOCK);
var SLAB = 256 * 1024;
async function* writeTar(entries, options = {}) {
  const { onOffset } = options;
  const gather = options.recycle ? slabGatherer() : listGatherer();
  let offset = 0;
  const add = (buf) => {
    offset += buf.length;
    return gather.add(buf);
  };
  for await (const item of entries) {
    onOffset?.(offset);
    if ("encoded" in item) {
      const before = gather.flush();
      if (before)
        yield before;
      let seen = 0;
      for await (const chunk of item.encoded) {
        seen += chunk.length;
        yield chunk;
      }
      if (seen !== item.length)
        throw new TarWriteError(`encoded tar entries: ${seen} bytes, expected ${item.length}`);
      offset += seen;
      continue;
    }
    const { header, body } = item;
    const ready2 = add(encodeHeader(header));
    if (ready2)
      yield ready2;
    const size = header.type === "file" ? header.size : 0;
    if (body === void 0) {
      if (size !== 0)
        throw bodySizeError(header, 0);
      continue;
    }
    if (body instanceof Uint8Array) {
      if (body.length !== size)
        throw bodySizeError(header, body.length);
      const buf = Buffer.from(body.buffer, body.byteOffset, body.byteLength);
      if (buf.length >= BATCH) {
        const before = gather.flush();
        if (before)
          yield before;
        offset += buf.length;
        yield buf;
      } else if (buf.length > 0) {
        const r = add(buf);
        if (r)
          yield r;
      }
    } else {
      const before = gather.flush();
      if (before)
        yield before;
      let seen = 0;
      for await (const chunk of body) {
        seen += chunk.length;
        if (seen > size)
          throw bodySizeError(header, seen, true);
        yield Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
      }
      if (seen !== size)
        throw bodySizeError(header, seen);
      offset += seen;
    }
    const pad = (TAR_BLOCK - size % TAR_BLOCK) % TAR_BLOCK;
    if (pad) {
      const r = add(ZEROS.subarray(0, pad));
      if (r)
        yield r;
    }
  }
  onOffset?.(offset);
  const ready = add(ZEROS);
  if (ready)
    yield ready;
  const last = gather.flush();
  if (last)
    yield last;
}
function listGatherer() {
  let pending = [];
  let pendingLength = 0;
  const flush = () => {
    if (pendingLength === 0)
      return void 0;
    const out = pending.length === 1 ? pending[0] : Buffer.concat(pending, pendingLength);
    pending = [];
    pendingLength = 0;
    return out;
  };
  return {
    add(buf) {
      pending.push(buf);
      pendingLength += buf.length;
      return pendingLength >= BATCH ? flush() : void 0;
    },
    flush
  };
}
function slabGatherer() {
  const slabs = [Buffer.allocUnsafe(SLAB), Buffer.allocUnsafe(SLAB)];
  let turn = 0;
  let fill = 0;
  const flush = () => {
    if (fill === 0)
      return void 0;
    const out = slabs[turn].subarray(0, fill);
    turn ^= 1;
    fill = 0;
    return out;
  };
  return {
    add(buf) {
      if (buf.length > SLAB) {
        const before = flush();
        const copy = Buffer.from(buf);
        return before ? Buffer.concat([before, copy]) : copy;
      }
      const out = fill + buf.length > SLAB ? flush() : void 0;
      buf.copy(slabs[turn], fill);
      fill += buf.length;
      return out;
    },
    flush
  };
}
function bodySizeError(h, got, larger = false) {
  const size = h.type === "file" ? h.size : 0;
  const what = larger ? `is larger than its ${size} bytes` : `has ${got} bytes, expected ${size}`;
  return new TarWriteError(`tar entry ${JSON.stringify(h.path)}: the body ${what}`);
}
var TAR_HEADER_ENCODING = 1;
function encodeHeader(e) {
  const mtime = new Date(Math.floor(e.mtime) * 1e3);
  const data = {
    path: e.type === "dir" ? `${e.path}/` : e.path,
    mode: e.mode,
    uid: e.uid,
    gid: e.gid,
    size: e.type === "file" ? e.size : 0,
    mtime,
    type: TAR_TYPE[e.type],
    linkpath: e.linkTarget ?? "",
    uname: "",
    gname: "",
    devmaj: e.devMajor ?? 0,
    devmin: e.devMinor ?? 0
  };
  const block = Buffer.alloc(TAR_BLOCK);
  const header = new F(data);
  let needPax = header.encode(block, 0);
  if (e.type === "dir")
    ensureDirSlash(block);
  const forcePath = ustarPath(block) !== data.path;
  const capability = e.type === "file" && e.capability?.length ? e.capability : void 0;
  needPax ||= forcePath || capability !== void 0;
  if (!needPax)
    return block;
  const pax = {};
  if (forcePath || fieldNeedsPax({ path: data.path }))
    pax.path = data.path;
  if (e.linkTarget !== void 0 && fieldNeedsPax({ linkpath: e.linkTarget }))
    pax.linkpath = e.linkTarget;
  if (e.uid > MAX_OCTAL_8)
    pax.uid = e.uid;
  if (e.gid > MAX_OCTAL_8)
    pax.gid = e.gid;
  if (data.size !== void 0 && data.size > MAX_OCTAL_12)
    pax.size = data.size;
  const fields = Buffer.from(new ft(pax).encodeBody(), "utf8");
  const body = capability ? Buffer.concat([fields, paxRecord(`SCHILY.xattr.${CAPABILITY_XATTR}`, capability)]) : fields;
  if (body.length === 0) {
    throw new TarWriteError(`tar entry ${JSON.stringify(e.path)} cannot be encoded in a tar header`);
  }
  const paxHeader = Buffer.alloc(TAR_BLOCK);
  new F({
    path: paxHeaderName(e.path),
    mode: 420,
    uid: 0,
    gid: 0,
    size: body.length,
    mtime,
    type: "ExtendedHeader",
    linkpath: "",
    uname: "",
    gname: "",
    devmaj: 0,
    devmin: 0
  }).encode(paxHeader, 0);
  const bodyPadded = Buffer.alloc(Math.ceil(body.length / TAR_BLOCK) * TAR_BLOCK);
  body.copy(bodyPadded);
  return Buffer.concat([paxHeader, bodyPadded, block]);
}
var CAPABILITY_XATTR = "security.capability";
function paxRecord(key, value) {
  const rest = Buffer.byteLength(key) + value.length + 3;
  let length = rest + String(rest).length;
  if (String(length).length !== String(rest).length)
    length = rest + String(length).length;
  return Buffer.concat([Buffer.from(`${length} ${key}=`), value, Buffer.from("\n")]);
}
function ustarPath(block) {
  const field = (start, size) => {
    const end = block.indexOf(0, start);
    return block.toString("utf8", start, end < 0 || end > start + size ? start + size : end);
  };
  const name = field(0, 100);
  const prefix = field(345, 155);
  return prefix ? `${prefix}/${name}` : name;
}
function ensureDirSlash(block) {
  let len = block.indexOf(0);
  if (len < 0 || len > 100)
    len = 100;
  if (len === 0 || len >= 100 || block[len - 1] === 47)
    return;
  block[len] = 47;
  block.write(`${headerChecksum(block).toString(8).padStart(6, "0")} \0`, 148, 8, "ascii");
}
function headerChecksum(block) {
  let sum = 8 * 32;
  for (let i = 0; i < 148; i++)
    sum += block[i];
  for (let i = 156; i < TAR_BLOCK; i++)
    sum += block[i];
  return sum;
}
function fieldNeedsPax(data) {
  return new F({ ...data, type: "File" }).encode(Buffer.alloc(TAR_BLOCK), 0);
}
function paxHeaderName(path) {
  const ascii = path.slice(path.lastIndexOf("/") + 1).replace(/[^\x20-\x7e]/g, "_");
  return `PaxHeader/${ascii}`.slice(0, 99);
}

// packages/core/dist/oci/media-types.js
var MediaTypes = {
  ociManifest: "application/vnd.oci.image.manifest.v1+json",
  ociIndex: "application/vnd.oci.image.index.v1+json",
  ociConfig: "application/vnd.oci.image.config.v1+json",
  ociLayer: "application/vnd.oci.image.layer.v1.tar",
  ociLayerGzip: "application/vnd.oci.image.layer.v1.tar+gzip",
  ociLayerZstd: "application/vnd.oci.image.layer.v1.tar+zstd",
  ociLayoutHeader: "application/vnd.oci.layout.header.v1+json",
  ociEmpty: "application/vnd.oci.empty.v1+json",
  dockerManifest: "application/vnd.docker.distribution.manifest.v2+json",
  dockerManifestList: "application/vnd.docker.distribution.manifest.list.v2+json",
  dockerConfig: "application/vnd.docker.container.image.v1+json",
  dockerLayerGzip: "application/vnd.docker.image.rootfs.diff.tar.gzip",
  dockerForeignLayerGzip: "application/vnd.docker.image.rootfs.foreign.diff.tar.gzip"
};
function isManifest(mediaType) {
  return mediaType === MediaTypes.ociManifest || mediaType === MediaTypes.dockerManifest;
}
function isIndex(mediaType) {
  return mediaType === MediaTypes.ociIndex || mediaType === MediaTypes.dockerManifestList;
}
function layerCompression(mediaType) {
  switch (mediaType) {
    case MediaTypes.ociLayer:
    case "application/vnd.docker.image.rootfs.diff.tar":
      return "none";
    case MediaTypes.ociLayerGzip:
    case MediaTypes.dockerLayerGzip:
    case MediaTypes.dockerForeignLayerGzip:
    case "application/vnd.oci.image.layer.nondistributable.v1.tar+gzip":
      return "gzip";
    case MediaTypes.ociLayerZstd:
      return "zstd";
    default:
      return void 0;
  }
}

// packages/core/dist/layer/writer.js
var LayerSourceChangedError = class extends KilnError {
};
var READ_CHUNK2 = 256 * 1024;
var RANGE_CHUNK = 1024 * 1024;
var SMALL_FILE = 64 * 1024;
var MAX_CAPABILITY = 64;
var MAX_ID = 4294967295;
async function writeLayer(entries, store, options) {
  const compression = options.compression ?? "gzip";
  if (compression !== "gzip" && compression !== "none") {
    throw new KilnError(`unsupported layer compression ${JSON.stringify(compression)} (use 'gzip' or 'none')`);
  }
  const level = options.gzipLevel ?? 6;
  if (!Number.isInteger(level) || level < 0 || level > 9) {
    throw new KilnError(`gzip level must be an integer from 0 to 9, got ${String(options.gzipLevel)}`);
  }
  if (!Number.isFinite(options.epoch) || options.epoch < 0 || options.epoch > MAX_OCTAL_12) {
    throw new KilnError(`layer epoch must be a non-negative number of seconds, got ${String(options.epoch)}`);
  }
  const epoch = Math.floor(options.epoch);
  const prepared = await prepareEntries(entries, epoch);
  const diffHash = compression === "gzip" ? createHash3("sha256") : void 0;
  const fingerprints = compression === "none" && (options.spans || options.reuse) ? prepared.map(fingerprint) : void 0;
  const plan = fingerprints ? planReuse(fingerprints, options.reuse) : void 0;
  const starts = [];
  let uncompressedSize = 0;
  const recycle = compression === "none";
  async function* tarBytes() {
    const items = plan && options.reuse ? withReuse(prepared, plan, options.reuse.file, recycle) : tarEntries(prepared, recycle);
    for await (const chunk of writeTar(items, { onOffset: plan ? (offset) => starts.push(offset) : void 0, recycle })) {
      diffHash?.update(chunk);
      uncompressedSize += chunk.length;
      yield chunk;
    }
  }
  const writer = await store.createBlobWriter();
  let size = 0;
  try {
    const out = compression === "gzip" ? parallelGzip(Readable3.from(tarBytes(), { objectMode: false, highWaterMark: 1024 * 1024 }), { level }) : tarBytes();
    for await (const chunk of out) {
      size += chunk.length;
      await writer.write(chunk);
    }
    const info = await writer.commit();
    return {
      digest: info.digest,
      diffId: diffHash ? `sha256:${diffHash.digest("hex")}` : info.digest,
      size: info.size,
      mediaType: compression === "gzip" ? MediaTypes.ociLayerGzip : MediaTypes.ociLayer,
      uncompressedSize,
      entries: prepared.length,
      headers: prepared.map(({ content: _content, capability: _capability, devMajor, devMinor, ...header }) => header.type === "char" || header.type === "block" ? { ...header, devMajor, devMinor } : header),
      ...plan && options.spans ? { spans: entrySpans(fingerprints, plan, starts, uncompressedSize) } : {},
      reused: plan?.reused ?? 0
    };
  } catch (err) {
    await writer.abort().catch(() => void 0);
    throw err;
  }
}
async function prepareEntries(entries, epoch) {
  const byPath = /* @__PURE__ */ new Map();
  for (const entry of entries) {
    const p2 = await prepareEntry(entry, epoch);
    if (byPath.has(p2.path))
      throw new LayerEntryError(`duplicate layer entry ${JSON.stringify(p2.path)}`);
    byPath.set(p2.path, p2);
  }
  reorderHardlinks(byPath);
  return [...byPath.values()].sort((a, b2) => comparePaths(a.path, b2.path));
}
async function prepareEntry(entry, epoch) {
  validateEntryPath(entry.path);
  const where = `layer entry ${JSON.stringify(entry.path)}`;
  if (!isEntryType(entry.type))
    throw new LayerEntryError(`${where}: unknown type ${JSON.stringify(entry.type)}`);
  for (const [name, value] of [["uid", entry.uid], ["gid", entry.gid], ["mode", entry.mode]]) {
    if (!Number.isSafeInteger(value) || value < 0 || value > MAX_ID) {
      throw new LayerEntryError(`${where}: ${name} must be an integer from 0 to ${MAX_ID}, got ${String(value)}`);
    }
  }
  const mtimeIn = entry.mtime ?? epoch;
  if (!Number.isFinite(mtimeIn))
    throw new LayerEntryError(`${where}: mtime must be a number of seconds`);
  const p2 = {
    path: entry.path,
    type: entry.type,
    mode: entry.mode & 4095,
    uid: entry.uid,
    gid: entry.gid,
    size: 0,
    mtime: Math.max(0, Math.floor(Math.min(mtimeIn, epoch))),
    devMajor: 0,
    devMinor: 0
  };
  switch (entry.type) {
    case "file": {
      const content = entry.content;
      if (!content) {
        if (entry.size !== void 0 && entry.size !== 0) {
          throw new LayerEntryError(`${where}: size ${entry.size} given but no content`);
        }
      } else if ("data" in content) {
        if (entry.size !== void 0 && entry.size !== content.data.length) {
          throw new LayerEntryError(`${where}: size ${entry.size} does not match the ${content.data.length} bytes given`);
        }
        p2.size = content.data.length;
        p2.content = content;
      } else {
        if (entry.size !== void 0) {
          if (!Number.isSafeInteger(entry.size) || entry.size < 0) {
            throw new LayerEntryError(`${where}: size must be a non-negative integer, got ${String(entry.size)}`);
          }
          p2.size = entry.size;
        } else {
          const st2 = await stat2(content.path);
          if (!st2.isFile())
            throw new LayerEntryError(`${where}: ${content.path} is not a regular file`);
          p2.size = st2.size;
        }
        p2.content = content.digest ? { path: content.path, digest: content.digest } : { path: content.path };
      }
      if (entry.capability !== void 0) {
        if (!(entry.capability instanceof Uint8Array) || entry.capability.length === 0 || entry.capability.length > MAX_CAPABILITY) {
          throw new LayerEntryError(`${where}: a file capability must be 1 to ${MAX_CAPABILITY} bytes`);
        }
        p2.capability = entry.capability;
      }
      break;
    }
    case "symlink":
      if (!entry.linkTarget || entry.linkTarget.includes("\0")) {
        throw new LayerEntryError(`${where}: a symlink needs a non-empty linkTarget without NUL bytes`);
      }
      p2.linkTarget = entry.linkTarget;
      break;
    case "hardlink":
      if (entry.linkTarget === void 0)
        throw new LayerEntryError(`${where}: a hardlink needs a linkTarget`);
      validateEntryPath(entry.linkTarget, `hardlink target of ${where}`);
      if (entry.linkTarget === entry.path)
        throw new LayerEntryError(`${where}: a hardlink cannot point at itself`);
      p2.linkTarget = entry.linkTarget;
      break;
    case "char":
    case "block":
      for (const [name, value] of [["devMajor", entry.devMajor ?? 0], ["devMinor", entry.devMinor ?? 0]]) {
        if (!Number.isSafeInteger(value) || value < 0 || value > MAX_OCTAL_8) {
          throw new LayerEntryError(`${where}: ${name} must be an integer from 0 to ${MAX_OCTAL_8}, got ${String(value)}`);
        }
      }
      p2.devMajor = entry.devMajor ?? 0;
      p2.devMinor = entry.devMinor ?? 0;
      break;
    case "dir":
    case "fifo":
      break;
  }
  return p2;
}
function reorderHardlinks(byPath) {
  const ultimate = (p2) => {
    let cur = p2;
    const seen = /* @__PURE__ */ new Set();
    while (cur.type === "hardlink") {
      if (seen.has(cur.path))
        throw new LayerEntryError(`hardlink cycle through ${JSON.stringify(p2.path)}`);
      seen.add(cur.path);
      const next = byPath.get(cur.linkTarget ?? "");
      if (!next)
        return void 0;
      cur = next;
    }
    return cur;
  };
  const groups = /* @__PURE__ */ new Map();
  for (const p2 of byPath.values()) {
    if (p2.type !== "hardlink")
      continue;
    const target = ultimate(p2);
    if (!target)
      continue;
    if (target.type === "dir") {
      throw new LayerEntryError(`layer entry ${JSON.stringify(p2.path)}: a hardlink cannot point at a directory (${JSON.stringify(target.path)})`);
    }
    const names = groups.get(target.path) ?? [target.path];
    names.push(p2.path);
    groups.set(target.path, names);
  }
  for (const [targetPath, names] of groups) {
    const target = byPath.get(targetPath);
    if (!target)
      continue;
    names.sort(comparePaths);
    const first = names[0] ?? targetPath;
    for (const name of names) {
      if (name === first) {
        byPath.set(name, { ...target, path: name });
      } else {
        byPath.set(name, {
          ...target,
          path: name,
          type: "hardlink",
          size: 0,
          linkTarget: first,
          content: void 0,
          capability: void 0
        });
      }
    }
  }
}
function fingerprint(p2) {
  let content = "";
  if (p2.type === "file" && p2.size > 0) {
    if (!p2.content)
      return void 0;
    if ("data" in p2.content)
      content = createHash3("sha256").update(p2.content.data).digest("hex");
    else if (p2.content.digest)
      content = p2.content.digest;
    else
      return void 0;
  }
  const capability = p2.type === "file" && p2.capability ? Buffer.from(p2.capability).toString("hex") : "";
  const fields = [TAR_HEADER_ENCODING, p2.type, p2.path, p2.linkTarget ?? "", p2.mode, p2.uid, p2.gid, p2.size, Math.floor(p2.mtime), p2.devMajor, p2.devMinor, capability, content];
  return createHash3("sha256").update(fields.join("\0")).digest("base64url").slice(0, 22);
}
function planReuse(fingerprints, reuse) {
  const known = /* @__PURE__ */ new Map();
  for (const [fp, offset, length] of reuse?.spans ?? [])
    known.set(fp, [offset, length]);
  const items = [];
  let reused = 0;
  for (const [i, fp] of fingerprints.entries()) {
    const span = fp === void 0 ? void 0 : known.get(fp);
    if (!span) {
      items.push({ fresh: i });
      continue;
    }
    reused++;
    const last = items.at(-1);
    const lastSpan = last && "spans" in last ? last.spans.at(-1) : void 0;
    if (lastSpan && lastSpan[0] + lastSpan[1] === span[0])
      last.spans.push(span);
    else
      items.push({ spans: [span] });
  }
  return { items, reused };
}
async function* withReuse(entries, plan, file, recycle) {
  let fresh = [];
  for (const item of plan.items) {
    if ("fresh" in item) {
      fresh.push(entries[item.fresh]);
      continue;
    }
    if (fresh.length)
      yield* tarEntries(fresh, recycle);
    fresh = [];
    const start = item.spans[0][0];
    const length = item.spans.reduce((n, [, l]) => n + l, 0);
    yield { encoded: readRange(file, start, length), length };
  }
  if (fresh.length)
    yield* tarEntries(fresh, recycle);
}
async function* readRange(file, start, length) {
  const fh = await open3(file, fsc.O_RDONLY);
  const buffers = [Buffer.allocUnsafe(Math.min(RANGE_CHUNK, length)), Buffer.allocUnsafe(Math.min(RANGE_CHUNK, length))];
  let turn = 0;
  const readAt = (at2) => {
    const buf = buffers[turn++ % 2];
    return fh.read(buf, 0, Math.min(buf.length, length - at2), start + at2).then(({ bytesRead }) => buf.subarray(0, bytesRead));
  };
  let next = readAt(0);
  try {
    for (let done = 0; next; ) {
      const chunk = await next;
      next = void 0;
      if (chunk.length === 0)
        throw new KilnError(`${file} ended at ${start + done}, before the entries it was to supply`);
      done += chunk.length;
      if (done < length)
        next = readAt(done);
      yield chunk;
    }
  } finally {
    await next?.catch(() => void 0);
    await fh.close();
  }
}
function entrySpans(fingerprints, plan, itemStarts, size) {
  const starts = [];
  for (const [k2, item] of plan.items.entries()) {
    let at2 = itemStarts[k2];
    if ("fresh" in item) {
      starts.push(at2);
      continue;
    }
    for (const [, length] of item.spans) {
      starts.push(at2);
      at2 += length;
    }
  }
  const end = itemStarts[plan.items.length];
  const spans = [];
  for (const [i, fp] of fingerprints.entries()) {
    const next = i + 1 < starts.length ? starts[i + 1] : end;
    if (fp !== void 0)
      spans.push([fp, starts[i], next - starts[i]]);
  }
  return { size, spans };
}
async function* tarEntries(entries, recycle = false) {
  const scratch = recycle ? { small: Buffer.allocUnsafe(SMALL_FILE + 1), chunk: Buffer.allocUnsafe(READ_CHUNK2 + 1) } : void 0;
  for (const header of entries) {
    const content = header.type === "file" && header.size > 0 ? header.content : void 0;
    if (!content)
      yield { header };
    else if ("data" in content)
      yield { header, body: content.data };
    else if (header.size < SMALL_FILE)
      yield { header, body: readSmallFile(content.path, header.size, header.path, scratch?.small) };
    else
      yield { header, body: readFileBody(content.path, header.size, header.path, scratch?.chunk) };
  }
}
function sourceChanged(file, entryPath, what) {
  return new LayerSourceChangedError(`${file} (layer entry ${JSON.stringify(entryPath)}) changed while the layer was being written: ${what}; make sure nothing modifies the build context during the build, then retry`);
}
function openError(err, file, entryPath) {
  const code = err.code;
  if (code === "ENOENT")
    return sourceChanged(file, entryPath, "it was deleted");
  if (code === "EISDIR" || code === "EAGAIN" || code === "ENXIO") {
    return sourceChanged(file, entryPath, "it is no longer a regular file");
  }
  return err;
}
function readSmallFile(file, size, entryPath, into) {
  let fd;
  try {
    fd = openSync(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw openError(err, file, entryPath);
  }
  try {
    const buf = into ? into.subarray(0, size + 1) : Buffer.allocUnsafe(size + 1);
    let filled = 0;
    for (; ; ) {
      let bytesRead;
      try {
        bytesRead = readSync(fd, buf, filled, buf.length - filled, filled);
      } catch (err) {
        throw openError(err, file, entryPath);
      }
      if (bytesRead === 0)
        break;
      filled += bytesRead;
      if (filled > size)
        throw sourceChanged(file, entryPath, `expected ${size} bytes, it grew`);
    }
    if (filled < size)
      throw sourceChanged(file, entryPath, `expected ${size} bytes, it ended after ${filled}`);
    return buf.subarray(0, size);
  } finally {
    closeSync(fd);
  }
}
async function* readFileBody(file, size, entryPath, into) {
  const changed = (what) => sourceChanged(file, entryPath, what);
  let fh;
  try {
    fh = await open3(file, fsc.O_RDONLY | fsc.O_NONBLOCK);
  } catch (err) {
    throw openError(err, file, entryPath);
  }
  try {
    const st2 = await fh.stat();
    if (!st2.isFile())
      throw changed("it is no longer a regular file");
    if (st2.size !== size)
      throw changed(`expected ${size} bytes, it now has ${st2.size}`);
    let remaining = size;
    let position = 0;
    while (remaining > 0) {
      const last = remaining <= READ_CHUNK2;
      const buf = into ? into.subarray(0, last ? remaining + 1 : READ_CHUNK2) : Buffer.allocUnsafe(last ? remaining + 1 : READ_CHUNK2);
      const want = last ? remaining : READ_CHUNK2;
      let filled = 0;
      for (; ; ) {
        const { bytesRead } = await fh.read(buf, filled, buf.length - filled, position);
        if (bytesRead === 0)
          break;
        filled += bytesRead;
        position += bytesRead;
        if (filled >= buf.length)
          break;
      }
      if (filled > want)
        throw changed(`expected ${size} bytes, it grew`);
      if (filled < want)
        throw changed(`expected ${size} bytes, it ended after ${position}`);
      remaining -= want;
      yield last ? buf.subarray(0, want) : buf;
    }
  } finally {
    await fh.close();
  }
}

// packages/core/dist/layer/reader.js
import { Readable as Readable4 } from "node:stream";
var LayerFormatError = class extends KilnError {
};
async function readLayer(stream, compression, onEntry) {
  let plain;
  try {
    plain = decompress(stream, compression, { what: "layers" });
  } catch (err) {
    stream.destroy();
    throw err;
  }
  await readTar(plain, onEntry, { what: "layer" });
}
function normalizeTarPath(path) {
  const out = [];
  for (const segment of path.split("/")) {
    if (segment === "" || segment === ".")
      continue;
    out.push(segment);
  }
  return out.join("/");
}
var TYPES = {
  File: "file",
  OldFile: "file",
  ContiguousFile: "file",
  Directory: "dir",
  GNUDumpDir: "dir",
  SymbolicLink: "symlink",
  Link: "hardlink",
  CharacterDevice: "char",
  BlockDevice: "block",
  FIFO: "fifo"
};
function toHeader(e) {
  const type = TYPES[e.type];
  if (!type)
    throw new LayerFormatError(`unsupported tar entry type ${e.type} for ${JSON.stringify(e.path)}`);
  const h = e.header;
  const header = {
    path: normalizeTarPath(e.path),
    type,
    mode: (h.mode ?? 0) & 4095,
    uid: h.uid ?? 0,
    gid: h.gid ?? 0,
    size: type === "file" ? h.size ?? 0 : 0,
    mtime: h.mtime ? h.mtime.getTime() / 1e3 : 0
  };
  if (type === "symlink")
    header.linkTarget = e.linkpath ?? "";
  if (type === "hardlink")
    header.linkTarget = normalizeTarPath(e.linkpath ?? "");
  if (type === "char" || type === "block") {
    header.devMajor = h.devmaj;
    header.devMinor = h.devmin;
  }
  return header;
}
function entryBody(e) {
  const body = new Readable4({
    highWaterMark: 256 * 1024,
    read() {
      e.resume();
    },
    destroy(err, cb) {
      e.resume();
      cb(err);
    }
  });
  body.on("error", () => void 0);
  e.on("data", (chunk) => {
    if (body.destroyed)
      return;
    if (!body.push(chunk))
      e.pause();
  });
  e.on("end", () => {
    if (!body.destroyed)
      body.push(null);
  });
  return body;
}
function readTar(input, onEntry, options = {}) {
  const what = options.what ?? "archive";
  const parser = new rt({ strict: true, zstd: false, brotli: false, maxMetaEntrySize: MAX_META_ENTRY_SIZE });
  const fixer = new StrayLinknameFilter();
  const queue = [];
  let failed = false;
  let parserDone = false;
  let consuming = false;
  let current;
  let onlyZeros = true;
  return new Promise((resolve3, reject) => {
    const fail = (err, fromHandler = false) => {
      if (failed)
        return;
      if (onlyZeros && !fromHandler && err?.code === "TAR_BAD_ARCHIVE") {
        parserDone = true;
        void consume();
        return;
      }
      failed = true;
      const error = fromHandler || err instanceof KilnError ? err : formatError(err, what);
      current?.destroy(error instanceof Error ? error : new Error(String(error)));
      input.destroy();
      for (const e of queue)
        e.resume();
      reject(error);
    };
    const resumeInput = () => {
      if (!failed && input.isPaused())
        input.resume();
    };
    const consume = async () => {
      if (consuming || failed)
        return;
      consuming = true;
      try {
        for (let e = queue.shift(); e && !failed; e = queue.shift()) {
          const header = toHeader(e);
          const body = entryBody(e);
          current = body;
          await onEntry(header, body);
          if (!e.emittedEnd) {
            const entry = e;
            if (!body.destroyed)
              body.resume();
            else
              entry.resume();
            await new Promise((res) => {
              entry.once("end", res);
              if (entry.emittedEnd)
                res();
            });
          }
          current = void 0;
          resumeInput();
        }
        consuming = false;
        if (!failed && parserDone && queue.length === 0)
          resolve3();
      } catch (err) {
        consuming = false;
        fail(err, true);
      }
    };
    parser.on("entry", (e) => {
      queue.push(e);
      void consume();
    });
    parser.on("ignoredEntry", (e) => {
      fail(e.meta ? new LayerFormatError(`invalid ${what}: oversized extended header before ${JSON.stringify(e.path)}`) : new LayerFormatError(`invalid ${what}: unsupported tar entry type ${e.type} for ${JSON.stringify(e.path)}`));
    });
    parser.on("error", (err) => fail(err));
    parser.on("end", () => {
      parserDone = true;
      void consume();
    });
    parser.on("drain", resumeInput);
    input.on("error", (err) => fail(err));
    input.on("data", (chunk) => {
      if (failed)
        return;
      if (onlyZeros && chunk.some((b2) => b2 !== 0))
        onlyZeros = false;
      let more = true;
      for (const part of fixer.write(chunk)) {
        if (failed)
          return;
        if (!parser.write(part))
          more = false;
      }
      if (!more)
        input.pause();
    });
    input.on("end", () => {
      if (failed)
        return;
      const rest = fixer.end();
      if (rest)
        parser.write(rest);
      if (!failed)
        parser.end();
    });
  });
}
var MAX_META_ENTRY_SIZE = 1024 * 1024;
var META_TYPES = /* @__PURE__ */ new Set([
  "ExtendedHeader",
  "OldExtendedHeader",
  "GlobalExtendedHeader",
  "NextFileHasLongPath",
  "OldGnuLongPath",
  "NextFileHasLongLinkpath"
]);
var decString = (b2, off, len) => b2.toString("utf8", off, off + len).replace(/\0.*/, "");
function decOctal(b2, off, len) {
  const n = parseInt(b2.toString("utf8", off, off + len).replace(/\0.*$/, "").trim(), 8);
  return Number.isNaN(n) ? void 0 : n;
}
function emptyField(b2, off, len) {
  if (b2[off] !== 0)
    return false;
  for (let i = off + 1; i < off + len; i++) {
    const c = b2[i];
    if (c === 10 || c === 13 || c === 226)
      return decString(b2, off, len) === "";
  }
  return true;
}
function endsWithSlash(b2, off, len) {
  let end = off;
  while (end < off + len && b2[end] !== 0)
    end++;
  for (let i = end; i < off + len; i++) {
    const c = b2[i];
    if (c === 10 || c === 13 || c === 226)
      return decString(b2, off, len).slice(-1) === "/";
  }
  return end > off && b2[end - 1] === 47;
}
var FAST_TYPES = {
  "": "File",
  "0": "File",
  "1": "Link",
  "2": "SymbolicLink",
  "3": "CharacterDevice",
  "4": "BlockDevice",
  "5": "Directory",
  "6": "FIFO",
  "7": "ContiguousFile",
  D: "GNUDumpDir",
  x: "ExtendedHeader",
  g: "GlobalExtendedHeader",
  L: "NextFileHasLongPath",
  K: "NextFileHasLongLinkpath"
};
function inspectHeaderBlock(block, ex, gex) {
  const t = decString(block, 156, 1);
  const fastType = FAST_TYPES[t];
  if (ex === void 0 && gex === void 0 && fastType !== void 0 && !(block[124] & 128) && !(block[148] & 128)) {
    const sum = headerChecksum(block);
    const cksum = decOctal(block, 148, 12);
    let hasPath = !emptyField(block, 0, 100);
    if (!hasPath && block.toString("latin1", 257, 265) === "ustar\x0000") {
      hasPath = block[475] !== 0 || !emptyField(block, 345, 130);
    }
    const type = fastType === "File" && endsWithSlash(block, 0, 100) ? "Directory" : fastType;
    const size2 = type === "Directory" ? 0 : decOctal(block, 124, 12) ?? 0;
    return {
      nullBlock: cksum === void 0 && sum === 8 * 32,
      cksumValid: sum === cksum,
      hasPath,
      type,
      hasLinkpath: !emptyField(block, 157, 100),
      size: size2 < 0 ? 0 : size2
    };
  }
  let h;
  try {
    h = new F(block, 0, ex, gex);
  } catch {
    return void 0;
  }
  const size = Number(h.size ?? 0);
  return {
    nullBlock: h.nullBlock,
    cksumValid: h.cksumValid,
    hasPath: !!h.path,
    type: h.type,
    hasLinkpath: !!h.linkpath,
    size: Number.isFinite(size) && size > 0 ? size : 0
  };
}
var StrayLinknameFilter = class {
  /** Bytes of a header block split across chunks, held back until complete. */
  partial;
  /** Body bytes (padding included) of the current entry still to pass through. */
  bodyRemaining = 0;
  /** The body of the current meta entry, collected while it passes through. */
  meta;
  ex;
  gex;
  sawNullBlock = false;
  /** After the end of the archive, or for data node-tar decompresses itself: pass through. */
  passThrough = false;
  /** The first bytes, until there are enough to tell a gzip stream from a tar. */
  sniff = Buffer.alloc(0);
  /** The bytes to hand to the parser for this chunk, in order (possibly none, for now). */
  write(chunk) {
    if (this.sniff) {
      chunk = this.sniff.length ? Buffer.concat([this.sniff, chunk]) : chunk;
      if (chunk.length < 2) {
        this.sniff = chunk;
        return [];
      }
      this.sniff = void 0;
      if (chunk[0] === 31 && chunk[1] === 139)
        this.passThrough = true;
    }
    if (this.passThrough)
      return [chunk];
    const out = [];
    let pos = 0;
    let start = 0;
    const flush = (end) => {
      if (end > start)
        out.push(chunk.subarray(start, end));
      start = end;
    };
    while (pos < chunk.length && !this.passThrough) {
      if (this.bodyRemaining > 0) {
        const n = Math.min(this.bodyRemaining, chunk.length - pos);
        if (this.meta)
          this.collectMeta(chunk.subarray(pos, pos + n));
        this.bodyRemaining -= n;
        pos += n;
        if (this.bodyRemaining === 0 && this.meta)
          this.finishMeta();
        continue;
      }
      if (this.partial) {
        const n = Math.min(512 - this.partial.length, chunk.length - pos);
        this.partial = Buffer.concat([this.partial, chunk.subarray(pos, pos + n)]);
        pos += n;
        start = pos;
        if (this.partial.length < 512)
          break;
        const block = this.partial;
        this.partial = void 0;
        out.push(this.header(block) ?? block);
        continue;
      }
      if (chunk.length - pos < 512) {
        flush(pos);
        this.partial = Buffer.from(chunk.subarray(pos));
        pos = start = chunk.length;
        break;
      }
      const fixed = this.header(chunk.subarray(pos, pos + 512));
      if (fixed) {
        flush(pos);
        out.push(fixed);
        start = pos + 512;
      }
      pos += 512;
    }
    flush(chunk.length);
    return out;
  }
  /** At the end of the input: whatever is still held back (a truncated header; the parser says so). */
  end() {
    const rest = this.sniff?.length ? this.sniff : this.partial;
    this.sniff = this.partial = void 0;
    return rest;
  }
  /** Looks at one header block as node-tar will; returns a fixed copy, or undefined to keep it. */
  header(block) {
    const h = inspectHeaderBlock(block, this.ex, this.gex);
    if (!h)
      return void 0;
    if (h.nullBlock) {
      if (this.sawNullBlock)
        this.passThrough = true;
      this.sawNullBlock = true;
      return void 0;
    }
    this.sawNullBlock = false;
    if (!h.cksumValid || !h.hasPath)
      return void 0;
    const type = h.type;
    const isLink = type === "Link" || type === "SymbolicLink";
    if (isLink && !h.hasLinkpath)
      return void 0;
    let fixed;
    if (!isLink && type !== "ExtendedHeader" && type !== "GlobalExtendedHeader" && h.hasLinkpath) {
      fixed = Buffer.from(block);
      fixed.fill(0, 157, 257);
      fixed.write(`${headerChecksum(fixed).toString(8).padStart(6, "0")}\0 `, 148, 8, "latin1");
    }
    this.bodyRemaining = 512 * Math.ceil(h.size / 512);
    if (META_TYPES.has(type)) {
      if (h.size > 0 && h.size <= MAX_META_ENTRY_SIZE)
        this.meta = { type, size: h.size, parts: [], got: 0 };
    } else {
      this.ex = void 0;
    }
    return fixed;
  }
  collectMeta(part) {
    const meta = this.meta;
    const take = Math.min(part.length, meta.size - meta.got);
    if (take > 0) {
      meta.parts.push(Buffer.from(part.subarray(0, take)));
      meta.got += take;
    }
  }
  finishMeta() {
    const { type, parts } = this.meta;
    this.meta = void 0;
    const text = Buffer.concat(parts).toString();
    switch (type) {
      case "ExtendedHeader":
      case "OldExtendedHeader":
        this.ex = ft.parse(text, this.ex, false);
        break;
      case "GlobalExtendedHeader":
        this.gex = ft.parse(text, this.gex, true);
        break;
      case "NextFileHasLongPath":
      case "OldGnuLongPath":
        this.ex ??= /* @__PURE__ */ Object.create(null);
        this.ex.path = text.replace(/\0.*/, "");
        break;
      case "NextFileHasLongLinkpath":
        this.ex ??= /* @__PURE__ */ Object.create(null);
        this.ex.linkpath = text.replace(/\0.*/, "");
        break;
    }
  }
};
function formatError(err, what) {
  const e = err;
  const message = e?.message ?? String(err);
  if (e?.code === "Z_DATA_ERROR" || e?.code === "Z_BUF_ERROR" || e?.code?.startsWith?.("ERR_ZSTD")) {
    return new LayerFormatError(`invalid ${what}: the compressed data is corrupt or not in the declared format (${message})`);
  }
  if (e?.tarCode || e?.code?.startsWith?.("TAR_")) {
    return new LayerFormatError(`invalid ${what}: ${message.replace(/^TAR_[A-Z_]+: /, "")}`);
  }
  if (err instanceof LayerEntryError)
    return err;
  const wrapped = new KilnError(`cannot read ${what}: ${message}`);
  wrapped.cause = err;
  return wrapped;
}

// packages/core/dist/layer/extract.js
import { execFile } from "node:child_process";
import { constants as fsc2, createReadStream } from "node:fs";
import { link, lchown, lstat as lstat2, lutimes, mkdir as mkdir2, open as open4, readdir as readdir2, readlink, rm as rm2, symlink } from "node:fs/promises";
import { dirname as dirname2, isAbsolute as isAbsolute2, join as join2, relative, resolve as resolve2, sep } from "node:path";
import { Readable as Readable5 } from "node:stream";
var UnsafeEntryError = class extends LayerEntryError {
};
async function extractLayer(stream, compression, root, options = {}) {
  const x = new Extractor(resolve2(root), "", { ...options, whiteouts: true, record: false, what: "layer" });
  await readLayer(stream, compression, (h, body) => x.apply(h, body));
  await x.finish();
  return x.result();
}
async function extractArchive(archivePath, destDir, options = {}) {
  const dest = resolve2(destDir);
  const root = resolve2(options.root ?? destDir);
  const destRelNative = relative(root, dest);
  if (destRelNative === ".." || destRelNative.startsWith(`..${sep}`) || isAbsolute2(destRelNative)) {
    throw new KilnError(`extraction directory ${dest} is not inside the root ${root}`);
  }
  const destRel = destRelNative.split(sep).filter((s3) => s3 !== "").join("/");
  const compression = await sniffFileCompression(archivePath);
  const source = decompress(createReadStream(archivePath), compression, { commands: true, what: archivePath });
  const it2 = source[Symbol.asyncIterator]();
  let head = Buffer.alloc(0);
  try {
    while (head.length < 512) {
      const r = await it2.next();
      if (r.done)
        break;
      head = Buffer.concat([head, r.value]);
    }
  } catch {
    await it2.return?.().catch(() => void 0);
    source.destroy();
    return false;
  }
  if (!looksLikeTar(head)) {
    await it2.return?.().catch(() => void 0);
    source.destroy();
    return false;
  }
  const rest = Readable5.from((async function* () {
    yield head;
    for (; ; ) {
      const r = await it2.next();
      if (r.done)
        return;
      yield r.value;
    }
  })(), { objectMode: false });
  if (options.root === void 0)
    await mkdir2(root, { recursive: true });
  const x = new Extractor(root, destRel, { ...options, whiteouts: false, record: true, what: archivePath });
  await x.ensureDir(destRel);
  await readTar(rest, (h, body) => x.apply(h, body), { what: `archive ${archivePath}` });
  await x.finish();
  return x.records();
}
function looksLikeTar(head) {
  if (head.length < 512)
    return false;
  try {
    const h = new F(head.subarray(0, 512));
    return h.cksumValid && !h.nullBlock && !!h.path;
  } catch {
    return false;
  }
}
var MAX_SYMLINKS = 255;
var isRoot = typeof process.getuid === "function" && process.getuid() === 0;
var Extractor = class {
  root;
  base;
  opts;
  sameOwner;
  devices;
  /** Resolved parent directories, by the relative path asked for. Cleared on any removal. */
  dirCache = /* @__PURE__ */ new Map();
  /** Host paths this extraction wrote, and their ancestors (for whiteouts and opaque dirs). */
  written = /* @__PURE__ */ new Set();
  writtenAncestors = /* @__PURE__ */ new Set();
  deferred = [];
  recorded = /* @__PURE__ */ new Map();
  count = 0;
  whiteoutCount = 0;
  skipped = [];
  opaqueDirs = [];
  constructor(root, base, opts) {
    this.root = root;
    this.base = base;
    this.opts = opts;
    this.sameOwner = opts.sameOwner ?? isRoot;
    this.devices = opts.devices ?? isRoot;
  }
  result() {
    return { entries: this.count, whiteouts: this.whiteoutCount, skipped: this.skipped, opaqueDirs: this.opaqueDirs };
  }
  records() {
    return [...this.recorded.values()];
  }
  /** Create `rel` (and missing parents) inside the root. */
  async ensureDir(rel) {
    const dir = await this.resolveDir(rel, true);
    if (!dir)
      throw new KilnError(`cannot create ${join2(this.root, rel)}`);
    return dir;
  }
  refuse(h, why) {
    throw new UnsafeEntryError(`refusing to extract ${JSON.stringify(h.path)} from ${this.opts.what}: ${why}`);
  }
  fullRel(rel) {
    return this.base && rel ? `${this.base}/${rel}` : this.base || rel;
  }
  async apply(h, body) {
    try {
      await this.applyEntry(h, body);
    } catch (err) {
      if (err instanceof KilnError || !(err instanceof Error) || !("code" in err))
        throw err;
      const wrapped = new KilnError(`cannot extract ${JSON.stringify(h.path)} from ${this.opts.what}: ${err.message}`);
      wrapped.cause = err;
      throw wrapped;
    }
  }
  async applyEntry(h, body) {
    this.count++;
    const cleaned2 = cleanArchivePath(h.path);
    if (cleaned2 === void 0)
      this.refuse(h, `the path climbs out of the ${this.base ? "destination" : "root"} directory`);
    const rel = this.fullRel(cleaned2);
    if (cleaned2 === "") {
      if (h.type !== "dir")
        this.refuse(h, "the root can only be a directory");
      await this.ensureDir(rel);
      if (this.opts.whiteouts)
        this.defer(rel, h);
      return;
    }
    const name = baseName(rel);
    const parentRel = parentPath(rel);
    if (this.opts.whiteouts && name.startsWith(WHITEOUT_PREFIX)) {
      await this.whiteout(parentRel, name);
      return;
    }
    const parent = await this.resolveDir(parentRel, true);
    if (!parent)
      this.refuse(h, "its parent directory cannot be created");
    const host = join2(parent.host, name);
    const hostRel = parent.rel ? `${parent.rel}/${name}` : name;
    const existing = await lstatOrUndefined(host);
    switch (h.type) {
      case "dir": {
        if (existing && !existing.isDirectory())
          await this.remove(host, hostRel);
        if (!existing || !existing.isDirectory())
          await mkdir2(host, { mode: 448 });
        this.defer(hostRel, h);
        this.record(hostRel, { path: hostRel, type: "dir", mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime });
        break;
      }
      case "file": {
        if (existing)
          await this.remove(host, hostRel);
        const fh = await open4(host, fsc2.O_WRONLY | fsc2.O_CREAT | fsc2.O_EXCL | fsc2.O_NOFOLLOW, 384);
        try {
          await writeAll(fh, body);
          await this.applyMeta(fh, h);
        } finally {
          await fh.close();
        }
        this.record(hostRel, {
          path: hostRel,
          type: "file",
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime,
          size: h.size,
          content: { path: host }
        });
        break;
      }
      case "symlink": {
        if (existing)
          await this.remove(host, hostRel);
        const target = h.linkTarget ?? "";
        if (!target || target.includes("\0"))
          this.refuse(h, "the symlink has no target");
        await symlink(target, host);
        if (this.sameOwner)
          await lchown(host, h.uid, h.gid);
        await lutimes(host, h.mtime, h.mtime);
        this.record(hostRel, { path: hostRel, type: "symlink", mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkTarget: target });
        break;
      }
      case "hardlink": {
        const targetCleaned = cleanArchivePath(h.linkTarget ?? "");
        if (targetCleaned === void 0 || targetCleaned === "") {
          this.refuse(h, `the hardlink target ${JSON.stringify(h.linkTarget)} is outside the ${this.base ? "destination" : "root"} directory`);
        }
        const targetRel = this.fullRel(targetCleaned);
        const targetParent = await this.resolveDir(parentPath(targetRel), false);
        const targetHost = targetParent ? join2(targetParent.host, baseName(targetRel)) : void 0;
        const targetStat = targetHost ? await lstatOrUndefined(targetHost) : void 0;
        if (!targetHost || !targetParent || !targetStat) {
          throw new LayerEntryError(`cannot extract hardlink ${JSON.stringify(h.path)} from ${this.opts.what}: its target ${JSON.stringify(h.linkTarget)} does not exist`);
        }
        if (targetStat.isDirectory())
          this.refuse(h, "a hardlink cannot point at a directory");
        if (targetHost === host)
          break;
        if (existing)
          await this.remove(host, hostRel);
        await link(targetHost, host);
        const targetHostRel = targetParent.rel ? `${targetParent.rel}/${baseName(targetRel)}` : baseName(targetRel);
        this.record(hostRel, { path: hostRel, type: "hardlink", mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime, linkTarget: targetHostRel });
        break;
      }
      case "char":
      case "block":
      case "fifo": {
        if (h.type !== "fifo" && !this.devices) {
          this.skipped.push({ path: h.path, reason: `${h.type} device nodes can only be created as root` });
          return;
        }
        if (existing)
          await this.remove(host, hostRel);
        const mode = (h.mode & 4095).toString(8);
        if (h.type === "fifo")
          await run("mkfifo", ["-m", mode, "--", host]);
        else {
          await run("mknod", ["-m", mode, "--", host, h.type === "char" ? "c" : "b", String(h.devMajor ?? 0), String(h.devMinor ?? 0)]);
        }
        if (this.sameOwner)
          await lchown(host, h.uid, h.gid);
        await lutimes(host, h.mtime, h.mtime);
        this.record(hostRel, {
          path: hostRel,
          type: h.type,
          mode: h.mode,
          uid: h.uid,
          gid: h.gid,
          mtime: h.mtime,
          ...h.type === "fifo" ? {} : { devMajor: h.devMajor ?? 0, devMinor: h.devMinor ?? 0 }
        });
        break;
      }
    }
    this.markWritten(host);
  }
  /** Apply deferred directory metadata (deepest/last first, so parents' mtimes stick). */
  async finish() {
    const done = /* @__PURE__ */ new Set();
    for (let i = this.deferred.length - 1; i >= 0; i--) {
      const d = this.deferred[i];
      if (!d || done.has(d.rel))
        continue;
      done.add(d.rel);
      let host;
      if (d.rel === "")
        host = this.root;
      else {
        const parent = await this.resolveDir(parentPath(d.rel), false);
        if (!parent)
          continue;
        host = join2(parent.host, baseName(d.rel));
      }
      let fh;
      try {
        fh = await open4(host, fsc2.O_RDONLY | fsc2.O_DIRECTORY | fsc2.O_NOFOLLOW);
      } catch {
        continue;
      }
      try {
        if (this.sameOwner)
          await fh.chown(d.uid, d.gid);
        await fh.chmod(d.mode);
        await fh.utimes(d.mtime, d.mtime);
      } finally {
        await fh.close();
      }
    }
  }
  defer(rel, h) {
    this.deferred.push({ rel, mode: h.mode, uid: h.uid, gid: h.gid, mtime: h.mtime });
  }
  record(rel, entry) {
    if (this.opts.record) {
      this.recorded.delete(rel);
      this.recorded.set(rel, entry);
    }
  }
  async applyMeta(fh, h) {
    if (this.sameOwner)
      await fh.chown(h.uid, h.gid);
    await fh.chmod(h.mode);
    await fh.utimes(h.mtime, h.mtime);
  }
  markWritten(host) {
    if (!this.opts.whiteouts)
      return;
    this.written.add(host);
    for (let dir = dirname2(host); dir.length > this.root.length && !this.writtenAncestors.has(dir); dir = dirname2(dir)) {
      this.writtenAncestors.add(dir);
    }
  }
  /** Remove whatever is at `host` (never following it); forget cached resolutions. */
  async remove(host, hostRel) {
    await rm2(host, { recursive: true, force: true });
    this.dirCache.clear();
    if (this.opts.record) {
      const prefix = `${hostRel}/`;
      for (const key of [...this.recorded.keys()]) {
        if (key === hostRel || key.startsWith(prefix))
          this.recorded.delete(key);
      }
    }
  }
  async whiteout(parentRel, name) {
    this.whiteoutCount++;
    if (this.opts.whiteoutFormat === "overlay")
      return this.overlayWhiteout(parentRel, name);
    if (name === OPAQUE_WHITEOUT) {
      const dir2 = await this.resolveDir(parentRel, true);
      if (dir2)
        await this.opaque(dir2.host);
      return;
    }
    if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`))
      return;
    const victim = name.slice(WHITEOUT_PREFIX.length);
    if (!victim || victim === "." || victim === ".." || victim.includes("/"))
      return;
    const dir = await this.resolveDir(parentRel, false);
    if (!dir)
      return;
    const host = join2(dir.host, victim);
    const st2 = await lstatOrUndefined(host);
    if (!st2)
      return;
    if (this.written.has(host) || this.writtenAncestors.has(host)) {
      if (st2.isDirectory())
        await this.opaque(host);
      return;
    }
    await rm2(host, { recursive: true, force: true });
    this.dirCache.clear();
  }
  /** A whiteout in overlayfs's own format, inside this layer's directory. */
  async overlayWhiteout(parentRel, name) {
    const dir = await this.resolveDir(parentRel, true);
    if (!dir)
      return;
    if (name === OPAQUE_WHITEOUT) {
      this.opaqueDirs.push(dir.rel);
      return;
    }
    if (name.startsWith(`${WHITEOUT_PREFIX}${WHITEOUT_PREFIX}`))
      return;
    const victim = name.slice(WHITEOUT_PREFIX.length);
    if (!victim || victim === "." || victim === ".." || victim.includes("/"))
      return;
    const host = join2(dir.host, victim);
    if (await lstatOrUndefined(host))
      return;
    await makeWhiteout(host);
    this.markWritten(host);
  }
  /** Remove from `dir` everything this extraction did not write. */
  async opaque(dir) {
    for (const name of await readdir2(dir)) {
      const p2 = join2(dir, name);
      const keep = this.written.has(p2) || this.writtenAncestors.has(p2);
      if (!keep) {
        await rm2(p2, { recursive: true, force: true });
        this.dirCache.clear();
        continue;
      }
      const st2 = await lstat2(p2);
      if (st2.isDirectory())
        await this.opaque(p2);
    }
  }
  /**
   * Resolve a relative directory path inside the root, following symlinks as if the root were '/'.
   * Missing components are created (mode 0755) when `create`, else the result is undefined; a
   * component that exists but is not a directory gives undefined (or an error when creating).
   */
  async resolveDir(rel, create) {
    if (rel === "")
      return { host: this.root, rel: "" };
    const cached = this.dirCache.get(rel);
    if (cached)
      return cached;
    const parts = rel.split("/");
    let start = 0;
    let resolved = [];
    for (let n = parts.length - 1; n > 0; n--) {
      const hit = this.dirCache.get(parts.slice(0, n).join("/"));
      if (hit) {
        start = n;
        resolved = hit.rel ? hit.rel.split("/") : [];
        break;
      }
    }
    const queue = parts.slice(start).map((c, k2) => ({ c, i: start + k2 }));
    let links = 0;
    while (queue.length > 0) {
      const { c } = queue.shift();
      if (c === "" || c === ".")
        continue;
      if (c === "..") {
        resolved.pop();
      } else {
        const host = join2(this.root, ...resolved, c);
        const st2 = await lstatOrUndefined(host);
        if (!st2) {
          if (!create)
            return void 0;
          await mkdir2(host, { mode: 493 });
          const createdRel = [...resolved, c].join("/");
          this.record(createdRel, { path: createdRel, type: "dir", mode: 493, uid: 0, gid: 0 });
          resolved.push(c);
        } else if (st2.isSymbolicLink()) {
          if (++links > MAX_SYMLINKS) {
            throw new UnsafeEntryError(`too many levels of symbolic links resolving ${JSON.stringify(rel)} in ${this.root}`);
          }
          const target = await readlink(host);
          if (target.startsWith("/"))
            resolved = [];
          queue.unshift(...target.split("/").map((t) => ({ c: t })));
          continue;
        } else if (st2.isDirectory()) {
          resolved.push(c);
        } else {
          if (!create)
            return void 0;
          throw new LayerEntryError(`cannot extract into ${JSON.stringify(rel)} in ${this.opts.what}: ${JSON.stringify([...resolved, c].join("/"))} is not a directory`);
        }
      }
      if (queue.every((q2) => q2.i !== void 0)) {
        const upTo = queue[0]?.i ?? parts.length;
        const r2 = resolved.join("/");
        this.dirCache.set(parts.slice(0, upTo).join("/"), { host: r2 ? join2(this.root, r2) : this.root, rel: r2 });
      }
    }
    const r = resolved.join("/");
    const out = { host: r ? join2(this.root, r) : this.root, rel: r };
    this.dirCache.set(rel, out);
    return out;
  }
};
async function lstatOrUndefined(p2) {
  try {
    return await lstat2(p2);
  } catch (err) {
    const code = err.code;
    if (code === "ENOENT" || code === "ENOTDIR")
      return void 0;
    throw err;
  }
}
async function writeAll(fh, body) {
  let position = 0;
  for await (const chunk of body) {
    const buf = chunk;
    let off = 0;
    while (off < buf.length) {
      const { bytesWritten } = await fh.write(buf, off, buf.length - off, position);
      off += bytesWritten;
      position += bytesWritten;
    }
  }
}
function makeWhiteout(host) {
  return run("mknod", ["-m", "000", "--", host, "c", "0", "0"]);
}
function run(cmd, args) {
  return new Promise((res, rej) => {
    execFile(cmd, args, (err, _stdout, stderr) => {
      if (!err)
        return res();
      const e = err;
      rej(new KilnError(e.code === "ENOENT" ? `cannot run ${cmd}: command not found` : `${cmd} ${args.join(" ")} failed: ${String(stderr).trim() || e.message}`));
    });
  });
}

// packages/core/dist/layer/header-scan.js
import { closeSync as closeSync2, openSync as openSync2, readSync as readSync2 } from "node:fs";
var MAX_META_ENTRY_SIZE2 = 1024 * 1024;
function scanTarHeaders(file) {
  let fd;
  try {
    fd = openSync2(file, "r");
  } catch {
    return void 0;
  }
  try {
    return scan(fd);
  } finally {
    closeSync2(fd);
  }
}
function scan(fd) {
  const headers = [];
  const block = Buffer.alloc(TAR_BLOCK);
  let position = 0;
  let ex;
  let gex;
  let nullBlocks = 0;
  const read = (buf, at2) => readSync2(fd, buf, 0, buf.length, at2) === buf.length;
  for (; ; ) {
    if (!read(block, position))
      return void 0;
    position += TAR_BLOCK;
    let h;
    try {
      h = new F(block, 0, ex, gex);
    } catch {
      return void 0;
    }
    if (h.nullBlock) {
      if (++nullBlocks === 2)
        return headers;
      continue;
    }
    nullBlocks = 0;
    if (!h.cksumValid || !h.path || !h.type)
      return void 0;
    const size = h.type === "Directory" ? 0 : Number(h.size ?? 0);
    if (!Number.isSafeInteger(size) || size < 0)
      return void 0;
    const bodyStart = position;
    position += Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
    switch (h.type) {
      case "ExtendedHeader":
      case "OldExtendedHeader":
      case "GlobalExtendedHeader":
      case "NextFileHasLongPath":
      case "OldGnuLongPath":
      case "NextFileHasLongLinkpath": {
        if (size > MAX_META_ENTRY_SIZE2)
          return void 0;
        const body = Buffer.alloc(size);
        if (size > 0 && !read(body, bodyStart))
          return void 0;
        const text = body.toString();
        if (h.type === "GlobalExtendedHeader")
          gex = ft.parse(text, gex, true);
        else if (h.type === "ExtendedHeader" || h.type === "OldExtendedHeader")
          ex = ft.parse(text, ex, false);
        else {
          ex ??= /* @__PURE__ */ Object.create(null);
          if (h.type === "NextFileHasLongLinkpath")
            ex.linkpath = text.replace(/\0.*/, "");
          else
            ex.path = text.replace(/\0.*/, "");
        }
        continue;
      }
    }
    const path = ex?.path ?? h.path;
    const linkpath = gex?.linkpath ?? ex?.linkpath ?? h.linkpath;
    const isLink = h.type === "Link" || h.type === "SymbolicLink";
    if (isLink && !linkpath)
      return void 0;
    try {
      headers.push(toHeader({ type: h.type, path, linkpath, header: h }));
    } catch {
      return void 0;
    }
    ex = void 0;
  }
}

// packages/core/dist/layer/fs-index.js
function storedLayer(store, layer) {
  const compression = layerCompression(layer.mediaType);
  if (!compression)
    throw new KilnError(`unsupported layer media type ${layer.mediaType} (layer ${layer.digest})`);
  const plainFile = compression === "none" ? store.blobPath?.(layer.digest) : void 0;
  return { open: () => store.openBlob(layer.digest), compression, ...plainFile ? { plainFile } : {} };
}
async function buildFsIndex(layers) {
  const tree = new FsTree();
  for (let i = 0; i < layers.length; i++) {
    const headers = await layerHeaders(layers[i]);
    applyHeaders(tree, headers, (h, path) => ({ ...h, path, layer: i }));
  }
  return tree.entries;
}
async function layerHeaders(layer) {
  const scanned = layer.plainFile ? scanTarHeaders(layer.plainFile) : void 0;
  if (scanned)
    return scanned;
  const headers = [];
  await readLayer(layer.open(), layer.compression, async (h, body) => {
    body.resume();
    headers.push(h);
  });
  return headers;
}
function withLayerApplied(base, layer, toEntry) {
  const tree = new FsTree(base);
  applyHeaders(tree, layer, toEntry);
  return tree.entries;
}
function applyHeaders(tree, headers, toEntry) {
  for (const h of headers) {
    const path = cleanArchivePath(h.path);
    if (path === void 0 || path === "")
      continue;
    const name = baseName(path);
    if (!name.startsWith(WHITEOUT_PREFIX))
      continue;
    const dir = parentPath(path);
    if (name === OPAQUE_WHITEOUT)
      tree.removeChildren(dir);
    else if (!name.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX))
      tree.remove(dir ? `${dir}/${name.slice(4)}` : name.slice(4));
  }
  for (const h of headers) {
    const path = cleanArchivePath(h.path);
    if (path === void 0 || path === "" || baseName(path).startsWith(WHITEOUT_PREFIX))
      continue;
    tree.set(path, toEntry(h, path));
  }
}
function resolveInIndex(index, path, options = {}) {
  const followFinal = options.followFinal ?? true;
  const queue = path.split("/").filter((s3) => s3 !== "" && s3 !== ".");
  const done = [];
  let hops = 0;
  while (queue.length > 0) {
    const part = queue.shift();
    if (part === "..") {
      done.pop();
      continue;
    }
    const candidate = [...done, part].join("/");
    const entry = index.get(candidate);
    if (entry?.type === "symlink" && entry.linkTarget && (followFinal || queue.length > 0)) {
      if (++hops > 40)
        throw new KilnError(`too many levels of symbolic links resolving /${path}`);
      if (entry.linkTarget.startsWith("/"))
        done.length = 0;
      queue.unshift(...entry.linkTarget.split("/").filter((s3) => s3 !== "" && s3 !== "."));
      continue;
    }
    done.push(part);
  }
  const resolved = done.join("/");
  return { path: resolved, entry: index.get(resolved) };
}
var StopScan = class extends Error {
};
async function readFileFromLayers(layers, path, depth = 0) {
  if (depth > 40)
    throw new KilnError(`too many levels of links reading /${path}`);
  const target = cleanArchivePath(path);
  if (target === void 0 || target === "")
    return void 0;
  const ancestors = /* @__PURE__ */ new Set();
  for (let p2 = parentPath(target); p2 !== ""; p2 = parentPath(p2))
    ancestors.add(p2);
  const dirsAbove = /* @__PURE__ */ new Set();
  for (let i = layers.length - 1; i >= 0; i--) {
    const layer = layers[i];
    let found;
    let redirect;
    let hidden = false;
    let gone = false;
    const dirsHere = [];
    try {
      await readLayer(layer.open(), layer.compression, async (h, body) => {
        const p2 = cleanArchivePath(h.path);
        if (p2 === void 0 || p2 === "")
          return;
        const name = baseName(p2);
        const dir = parentPath(p2);
        if (name.startsWith(WHITEOUT_PREFIX)) {
          if (name === OPAQUE_WHITEOUT) {
            if (ancestors.has(dir) || dir === "")
              hidden = true;
          } else {
            const victim = dir ? `${dir}/${name.slice(4)}` : name.slice(4);
            if (victim === target || ancestors.has(victim))
              hidden = true;
          }
          return;
        }
        if (p2 === target) {
          if (h.type === "file") {
            const chunks = [];
            for await (const c of body)
              chunks.push(c);
            found = Buffer.concat(chunks);
          } else if (h.type === "hardlink" && h.linkTarget) {
            redirect = { path: h.linkTarget, layers: layers.slice(0, i + 1) };
          } else if (h.type === "symlink" && h.linkTarget) {
            redirect = { path: joinLink(dir, h.linkTarget), layers };
          } else {
            gone = true;
          }
          throw new StopScan();
        }
        if (ancestors.has(p2)) {
          if (h.type === "dir") {
            dirsHere.push(p2);
          } else if (dirsAbove.has(p2)) {
            hidden = true;
          } else if (h.type === "symlink" && h.linkTarget) {
            redirect = { path: joinLink(dir, h.linkTarget) + target.slice(p2.length), layers };
            throw new StopScan();
          } else {
            gone = true;
            throw new StopScan();
          }
        }
      });
    } catch (err) {
      if (!(err instanceof StopScan))
        throw err;
    }
    if (found)
      return found;
    if (redirect)
      return readFileFromLayers(redirect.layers, redirect.path, depth + 1);
    if (gone || hidden)
      return void 0;
    for (const d of dirsHere)
      dirsAbove.add(d);
  }
  return void 0;
}
function joinLink(dir, target) {
  const parts = target.startsWith("/") ? [] : dir.split("/").filter(Boolean);
  for (const s3 of target.split("/")) {
    if (s3 === "" || s3 === ".")
      continue;
    if (s3 === "..")
      parts.pop();
    else
      parts.push(s3);
  }
  return parts.join("/");
}
var FsTree = class {
  entries = /* @__PURE__ */ new Map();
  children = /* @__PURE__ */ new Map();
  constructor(base) {
    if (!base)
      return;
    for (const [path, entry] of base) {
      this.entries.set(path, entry);
      this.child(path);
    }
  }
  child(path) {
    const dir = parentPath(path);
    let kids = this.children.get(dir);
    if (!kids)
      this.children.set(dir, kids = /* @__PURE__ */ new Set());
    kids.add(baseName(path));
  }
  set(path, entry) {
    const old = this.entries.get(path);
    if (old && (old.type !== "dir" || entry.type !== "dir"))
      this.removeChildren(path);
    this.entries.set(path, entry);
    this.child(path);
  }
  remove(path) {
    this.removeChildren(path);
    this.entries.delete(path);
    this.children.get(parentPath(path))?.delete(baseName(path));
  }
  removeChildren(dir) {
    const kids = this.children.get(dir);
    if (!kids)
      return;
    this.children.delete(dir);
    for (const k2 of kids) {
      const p2 = dir ? `${dir}/${k2}` : k2;
      this.removeChildren(p2);
      this.entries.delete(p2);
    }
  }
};

// packages/core/dist/layer/overlay-diff.js
import { lstat as lstat3, open as open5, readdir as readdir3, readlink as readlink2 } from "node:fs/promises";
import { join as join3 } from "node:path";
var NS_PER_SECOND = 1000000000n;
var MAX_LINK_HOPS = 40;
var COMPARE_CHUNK = 64 * 1024;
async function diffOverlayUpper(input) {
  const diff = new OverlayDiff(input);
  await diff.walkDir("");
  await diff.finishHardlinks();
  diff.addAncestors();
  return [...diff.out.values()].sort((a, b2) => comparePaths(a.path, b2.path));
}
var OverlayDiff = class {
  input;
  out = /* @__PURE__ */ new Map();
  /** Every directory of the upper (relative path -> its entry), for the ancestors. */
  upperDirs = /* @__PURE__ */ new Map();
  /** Regular files with more than one link, by inode. */
  inodes = /* @__PURE__ */ new Map();
  lowerChildren;
  constructor(input) {
    this.input = input;
  }
  /** Diff one upper directory's children; returns how many of them are kept (not dropped stubs). */
  async walkDir(dir) {
    const { upperDir, lower, exclude } = this.input;
    const names = (await readdir3(join3(upperDir, dir))).sort(comparePaths);
    const whitedOut = /* @__PURE__ */ new Set();
    let kept = 0;
    for (const name of names) {
      const path = dir === "" ? name : `${dir}/${name}`;
      const host = join3(upperDir, path);
      const st2 = await lstat3(host, { bigint: true }).catch((err) => {
        if (err.code === "ENOENT" && name.includes("�")) {
          throw new LayerEntryError(`a file name in /${dir} is not valid UTF-8 (${JSON.stringify(name)}): Kiln cannot put it in a layer yet; rename it in the step`);
        }
        throw err;
      });
      if (st2.isSocket()) {
        kept++;
        continue;
      }
      if (st2.isCharacterDevice() && st2.rdev === 0n) {
        kept++;
        whitedOut.add(name);
        if (lower.has(path))
          this.whiteout(dir, name);
        continue;
      }
      const stub = exclude?.has(path) === true && !lower.has(path);
      if (st2.isDirectory()) {
        const entry = dirEntry(path, st2);
        this.upperDirs.set(path, entry);
        const children = await this.walkDir(path);
        if (stub && children === 0)
          continue;
        kept++;
        const below = lower.get(path);
        if (below?.type !== "dir" || (below.mode & 4095) !== entry.mode || below.uid !== entry.uid || below.gid !== entry.gid) {
          this.emit(entry);
        }
        continue;
      }
      if (stub && st2.isFile() && st2.size === 0n)
        continue;
      kept++;
      const capability = st2.isFile() ? this.input.capabilities?.get(path) : void 0;
      const changed = capability !== void 0 || !await this.unchanged(path, host, st2);
      if (st2.isFile() && st2.nlink > 1n) {
        const links = this.inodes.get(st2.ino) ?? [];
        links.push({ path, host, st: st2, changed });
        this.inodes.set(st2.ino, links);
      } else if (changed) {
        this.emit(await nonDirEntry(path, host, st2, capability));
      }
    }
    await this.hiddenLowerChildren(dir, whitedOut);
    return kept;
  }
  /**
   * A lower directory kept in the upper: its lower children that the merged view no longer shows
   * (an opaque directory hides them all) and that no whiteout in the upper names already.
   */
  async hiddenLowerChildren(dir, whitedOut) {
    if (dir !== "" && this.input.lower.get(dir)?.type !== "dir")
      return;
    const children = this.lowerChildrenOf(dir);
    if (children.length === 0)
      return;
    const visible = new Set(await readdir3(join3(this.input.mergedDir, dir)));
    for (const name of children) {
      if (!visible.has(name) && !whitedOut.has(name))
        this.whiteout(dir, name);
    }
  }
  lowerChildrenOf(dir) {
    if (!this.lowerChildren) {
      this.lowerChildren = /* @__PURE__ */ new Map();
      for (const path of this.input.lower.keys()) {
        if (path === "")
          continue;
        const parent = parentPath(path);
        const kids = this.lowerChildren.get(parent) ?? [];
        kids.push(path.slice(parent === "" ? 0 : parent.length + 1));
        this.lowerChildren.set(parent, kids);
      }
    }
    return this.lowerChildren.get(dir) ?? [];
  }
  whiteout(dir, name) {
    const path = `${dir === "" ? "" : `${dir}/`}${WHITEOUT_PREFIX}${name}`;
    this.out.set(path, { path, type: "file", mode: 0, uid: 0, gid: 0, mtime: 0 });
  }
  emit(entry) {
    const name = entry.path.slice(entry.path.lastIndexOf("/") + 1);
    if (name.startsWith(WHITEOUT_PREFIX)) {
      throw new LayerEntryError(`/${entry.path} was written by the step, but a layer cannot hold a name starting with "${WHITEOUT_PREFIX}" (it would be read as a whiteout that deletes a file); rename it`);
    }
    this.out.set(entry.path, entry);
  }
  /**
   * Whether a non-directory of the upper is a copy-up that changed nothing (BuildKit's sameDirent):
   * the same type, permission bits, owner, size, symlink target and device numbers as below, and
   * exactly the mtime of its lower copy; when that mtime has no nanoseconds (as unpacked from a tar),
   * a rewrite in the same second cannot be told from it, so the contents are compared too.
   */
  async unchanged(path, host, st2) {
    const below = this.lowerFile(path);
    const type = upperType(st2);
    if (!below || below.type !== type)
      return false;
    if ((below.mode & 4095) !== modeBits(st2) || below.uid !== Number(st2.uid) || below.gid !== Number(st2.gid))
      return false;
    if (below.mtime !== void 0 && Math.floor(below.mtime) !== seconds(st2))
      return false;
    if (type === "file" && (below.size ?? 0) !== Number(st2.size))
      return false;
    if (type === "symlink" && below.linkTarget !== await readlink2(host))
      return false;
    if (type === "char" || type === "block") {
      const { major: major2, minor: minor2 } = deviceNumbers(st2.rdev);
      if ((below.devMajor ?? 0) !== major2 || (below.devMinor ?? 0) !== minor2)
        return false;
    }
    const copy = await this.lowerCopy(path);
    if (!copy && this.input.wholeCopy)
      return st2.mtimeNs % NS_PER_SECOND === 0n;
    if (!copy || upperType(copy.st) !== type || copy.st.mtimeNs !== st2.mtimeNs)
      return false;
    if (st2.mtimeNs % NS_PER_SECOND !== 0n)
      return true;
    if (type === "file")
      return sameContent(host, copy.host, Number(st2.size));
    if (type === "symlink")
      return await readlink2(copy.host) === await readlink2(host);
    return true;
  }
  /** The lower entry at `path`, a lower hardlink resolved to the file it stands for. */
  lowerFile(path) {
    let entry = this.input.lower.get(path);
    for (let hops = 0; entry?.type === "hardlink" && hops < MAX_LINK_HOPS; hops++) {
      entry = entry.linkTarget === void 0 ? void 0 : this.input.lower.get(entry.linkTarget);
    }
    return entry?.type === "hardlink" ? void 0 : entry;
  }
  /** The visible lower copy of `path`: the first lower directory (topmost first) that has it. */
  async lowerCopy(path) {
    for (const dir of this.input.lowerDirs) {
      const host = join3(dir, path);
      try {
        return { host, st: await lstat3(host, { bigint: true }) };
      } catch (err) {
        const code = err.code;
        if (code !== "ENOENT" && code !== "ENOTDIR")
          throw err;
      }
    }
    return void 0;
  }
  /**
   * Regular files with several links: when any name of an inode is new or changed, every name is
   * written (the first in path order as the file, the others as hardlinks to it), so the link
   * survives; otherwise none is.
   */
  async finishHardlinks() {
    for (const names of this.inodes.values()) {
      if (!names.some((n) => n.changed))
        continue;
      names.sort((a, b2) => comparePaths(a.path, b2.path));
      const first = names[0];
      this.emit(await nonDirEntry(first.path, first.host, first.st, this.input.capabilities?.get(first.path)));
      for (const n of names.slice(1)) {
        this.emit({ ...ownerAndTime(n.st), path: n.path, type: "hardlink", linkTarget: first.path });
      }
    }
  }
  /** Every entry gets its ancestor directories, with the metadata they have in the upper. */
  addAncestors() {
    for (const path of [...this.out.keys()]) {
      for (let dir = parentPath(path); dir !== "" && !this.out.has(dir); dir = parentPath(dir)) {
        const entry = this.upperDirs.get(dir);
        if (!entry)
          throw new Error(`overlay diff: the parent directory of /${path} is not in the upper`);
        this.out.set(dir, entry);
      }
    }
  }
};
function upperType(st2) {
  if (st2.isFile())
    return "file";
  if (st2.isDirectory())
    return "dir";
  if (st2.isSymbolicLink())
    return "symlink";
  if (st2.isFIFO())
    return "fifo";
  if (st2.isCharacterDevice())
    return "char";
  if (st2.isBlockDevice())
    return "block";
  return void 0;
}
function modeBits(st2) {
  return Number(st2.mode & 4095n);
}
function seconds(st2) {
  let s3 = st2.mtimeNs / NS_PER_SECOND;
  if (st2.mtimeNs % NS_PER_SECOND < 0n)
    s3 -= 1n;
  return Number(s3);
}
function ownerAndTime(st2) {
  return { mode: modeBits(st2), uid: Number(st2.uid), gid: Number(st2.gid), mtime: seconds(st2) };
}
function dirEntry(path, st2) {
  return { ...ownerAndTime(st2), path, type: "dir" };
}
async function nonDirEntry(path, host, st2, capability) {
  const base = ownerAndTime(st2);
  const type = upperType(st2);
  switch (type) {
    case "file":
      return { ...base, path, type, size: Number(st2.size), content: { path: host }, ...capability ? { capability } : {} };
    case "symlink":
      return { ...base, path, type, linkTarget: await readlink2(host) };
    case "char":
    case "block": {
      const { major: major2, minor: minor2 } = deviceNumbers(st2.rdev);
      return { ...base, path, type, devMajor: major2, devMinor: minor2 };
    }
    case "fifo":
      return { ...base, path, type };
    default:
      throw new Error(`overlay diff: /${path} has an unexpected file type (mode ${st2.mode.toString(8)})`);
  }
}
function deviceNumbers(rdev) {
  return {
    major: Number(rdev >> 8n & 0xfffn | rdev >> 32n & ~0xfffn),
    minor: Number(rdev & 0xffn | rdev >> 12n & ~0xffn)
  };
}
async function sameContent(a, b2, size) {
  if (size === 0)
    return true;
  const fa = await open5(a, "r");
  try {
    const fb = await open5(b2, "r");
    try {
      const ba = Buffer.allocUnsafe(COMPARE_CHUNK);
      const bb = Buffer.allocUnsafe(COMPARE_CHUNK);
      for (let position = 0; position < size; ) {
        const want = Math.min(COMPARE_CHUNK, size - position);
        const [ra, rb] = await Promise.all([readFully(fa, ba, want, position), readFully(fb, bb, want, position)]);
        if (ra !== want || rb !== want || !ba.subarray(0, want).equals(bb.subarray(0, want)))
          return false;
        position += want;
      }
      return true;
    } finally {
      await fb.close();
    }
  } finally {
    await fa.close();
  }
}
async function readFully(fh, buf, want, position) {
  let filled = 0;
  while (filled < want) {
    const { bytesRead } = await fh.read(buf, filled, want - filled, position + filled);
    if (bytesRead === 0)
      break;
    filled += bytesRead;
  }
  return filled;
}

// packages/core/dist/run/sandbox.js
import { constants as fsConstants } from "node:fs";
import { chown as chown2, lstat as lstat6, mkdir as mkdir4, open as open6, readdir as readdir7, rm as rm4, writeFile as writeFile3 } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { basename as basename2, join as join8 } from "node:path";

// packages/core/dist/run/lowers.js
import { spawn as spawn2, spawnSync as spawnSync2 } from "node:child_process";
import { lstat as lstat4, readdir as readdir4, rm as rm3 } from "node:fs/promises";
import { join as join4 } from "node:path";
import { Writable as Writable2 } from "node:stream";
import { pipeline as pipeline2 } from "node:stream/promises";

// packages/core/dist/run/user-namespace.js
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { userInfo } from "node:os";
function parseIdMap(text) {
  return text.split("\n").map((line) => line.trim().split(/\s+/).map(Number)).filter((f2) => f2.length === 3 && f2.every((n) => Number.isFinite(n))).map(([inside, outside, count]) => ({ inside, outside, count }));
}
var mappingHere;
function idMapping() {
  if (mappingHere)
    return mappingHere;
  const read = (f2) => {
    try {
      return parseIdMap(readFileSync(f2, "utf8"));
    } catch {
      return [];
    }
  };
  const uids = read("/proc/self/uid_map");
  const gids = read("/proc/self/gid_map");
  const identity = (r) => r.length === 1 && r[0].inside === 0 && r[0].outside === 0 && r[0].count === 4294967295;
  mappingHere = { inUserNamespace: uids.length > 0 && !(identity(uids) && identity(gids)), uids, gids };
  return mappingHere;
}
function isMapped(ranges, id) {
  return ranges.some((r) => id >= r.inside && id < r.inside + r.count);
}
function subordinateRange(content, user) {
  for (const line of content.split("\n")) {
    const [owner, start, count] = line.trim().split(":");
    if (owner !== user.name && owner !== String(user.id))
      continue;
    const s3 = Number(start);
    const c = Number(count);
    if (Number.isInteger(s3) && Number.isInteger(c) && c > 0)
      return { start: s3, count: c };
  }
  return void 0;
}
function onPath(tool) {
  return spawnSync(tool, ["--help"], { stdio: "ignore" }).error === void 0;
}
var launch;
function rootlessLaunch() {
  if (launch !== void 0)
    return launch ?? void 0;
  const probe = spawnSync("unshare", ["--map-root-user", "--mount", "true"], { stdio: "ignore" });
  if (probe.status !== 0) {
    launch = null;
    return void 0;
  }
  const base = ["unshare", "--map-root-user", "--mount", "--propagation", "private"];
  const { username, uid, gid } = userInfo();
  const read = (f2) => {
    try {
      return readFileSync(f2, "utf8");
    } catch {
      return "";
    }
  };
  const subUids = subordinateRange(read("/etc/subuid"), { name: username, id: uid });
  const subGids = subordinateRange(read("/etc/subgid"), { name: username, id: gid });
  const mappers = onPath("newuidmap") && onPath("newgidmap");
  if (subUids && subGids && mappers) {
    const full = [...base, "--map-users", `${subUids.start},1,${subUids.count}`, "--map-groups", `${subGids.start},1,${subGids.count}`];
    if (spawnSync(full[0], [...full.slice(1), "true"], { stdio: "ignore" }).status === 0) {
      launch = { prefix: full };
      return launch;
    }
  }
  const why = !subUids || !subGids ? `${username} has no subordinate ids in /etc/subuid and /etc/subgid` : "newuidmap and newgidmap (package uidmap) are not usable";
  launch = {
    prefix: base,
    limitation: `rootless RUN maps only ${username} (as root) because ${why}: files of other owners are unpacked as root's and steps cannot run as another USER; for the full range, install uidmap and add ids, e.g. \`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 ${username}\``
  };
  return launch;
}
function requireMapped(mapping, user, what) {
  if (!mapping.inUserNamespace)
    return;
  if (isMapped(mapping.uids, user.uid) && isMapped(mapping.gids, user.gid))
    return;
  throw new KilnError(`${what} needs uid ${user.uid} and gid ${user.gid}, which rootless RUN cannot map here (only ids ${describe(mapping.uids)} exist): add subordinate ids for this user (\`sudo usermod --add-subuids 100000-165535 --add-subgids 100000-165535 USER\`, package uidmap), or run kiln as root or with passwordless sudo`);
}
function describe(ranges) {
  return ranges.map((r) => r.count === 1 ? `${r.inside}` : `${r.inside}-${r.inside + r.count - 1}`).join(", ");
}

// packages/core/dist/run/lowers.js
function layerSourceOf(store, layer) {
  return { ...storedLayer(store, layer), path: store.blobPath(layer.digest) };
}
async function unpackLowers(store, layers, signal) {
  const ids = chainIds(layers.map((l) => l.diffId));
  const dirs = [];
  for (const [i, layer] of layers.entries()) {
    if (signal?.aborted)
      throw new KilnError("build interrupted");
    dirs.push(await store.unpackedLayer(ids[i], (dir) => unpackLower(store, layers, i, dir, signal)));
  }
  return dirs;
}
var gnuTar;
function haveGnuTar() {
  gnuTar ??= /GNU tar/.test(spawnSync2("tar", ["--version"], { encoding: "utf8" }).stdout ?? "");
  return gnuTar;
}
async function unpackLower(store, layers, i, dir, signal) {
  const src = layerSourceOf(store, layers[i]);
  const opaque = haveGnuTar() ? await untarWithWhiteouts(src, dir, signal) : (await extractLayer(src.open(), src.compression, dir, { whiteoutFormat: "overlay" })).opaqueDirs;
  if (opaque.length === 0)
    return;
  const below = await buildFsIndex(layers.slice(0, i).map((l) => layerSourceOf(store, l)));
  const hidden = new Set(opaque);
  for (const path of below.keys()) {
    if (!hidden.has(parentPath(path)))
      continue;
    const host = join4(dir, path);
    if (!await lstat4(host).catch(() => void 0))
      await makeWhiteout(host);
  }
}
async function untarWithWhiteouts(src, dir, signal) {
  const plain = src.compression === "none";
  const ids = idMapping();
  const owners = ids.inUserNamespace && ids.uids.length === 1 && ids.uids[0].count === 1 ? ["--no-same-owner"] : ["--numeric-owner", "--same-owner"];
  const args = ["-x", "-f", plain ? src.path : "-", "-C", dir, ...owners, "--same-permissions", "--xattrs", "--xattrs-include=security.capability"];
  const tar = spawn2("tar", args, { stdio: [plain ? "ignore" : "pipe", "ignore", "pipe"], signal });
  let stderr = "";
  tar.stderr.on("data", (b2) => stderr = (stderr + b2.toString()).slice(-4096));
  const exited = new Promise((resolve3, reject) => {
    tar.on("error", reject);
    tar.on("close", (code2) => resolve3(code2 ?? -1));
  });
  try {
    if (plain)
      await pipeline2(src.open(), new Writable2({ write: (_chunk, _enc, done) => done() }));
    else
      await pipeline2(decompress(src.open(), src.compression, { what: "layers" }), tar.stdin);
  } catch (err) {
    tar.kill();
    await exited.catch(() => void 0);
    throw err;
  }
  const code = await exited;
  if (code !== 0)
    throw new KilnError(`cannot unpack a layer for RUN: tar exited with ${code}: ${stderr.trim().split("\n").slice(-3).join("; ")}`);
  const opaque = [];
  const names = await whiteoutMarkers(dir);
  for (const marker of names) {
    const parent = parentPath(marker);
    const name = marker.slice(parent ? parent.length + 1 : 0);
    await rm3(join4(dir, marker), { force: true });
    if (name === OPAQUE_WHITEOUT) {
      opaque.push(parent);
      continue;
    }
    if (name.startsWith(WHITEOUT_PREFIX + WHITEOUT_PREFIX))
      continue;
    const victim = join4(dir, parent, name.slice(WHITEOUT_PREFIX.length));
    if (!await lstat4(victim).catch(() => void 0))
      await makeWhiteout(victim);
  }
  return opaque;
}
async function whiteoutMarkers(dir, prefix = "") {
  const found = [];
  for (const entry of await readdir4(join4(dir, prefix), { withFileTypes: true })) {
    const path = prefix ? `${prefix}/${entry.name}` : entry.name;
    if (entry.name.startsWith(WHITEOUT_PREFIX))
      found.push(path);
    else if (entry.isDirectory())
      found.push(...await whiteoutMarkers(dir, path));
  }
  return found;
}

// packages/core/dist/run/capabilities.js
import { spawn as spawn3 } from "node:child_process";

// packages/core/dist/archive/pax-xattrs.js
var MAX_PAX_BODY = 1024 * 1024;
async function xattrInTar(input, attribute) {
  const key = Buffer.from(`SCHILY.xattr.${attribute}=`);
  const found = /* @__PURE__ */ new Map();
  let buffered = Buffer.alloc(0);
  let skip = 0;
  let paxBody;
  let pending = {};
  for await (const chunk of input) {
    buffered = buffered.length ? Buffer.concat([buffered, chunk]) : chunk;
    for (; ; ) {
      if (skip > 0) {
        const n = Math.min(skip, buffered.length);
        buffered = buffered.subarray(n);
        skip -= n;
        if (skip > 0)
          break;
      }
      if (paxBody) {
        if (buffered.length < paxBody.padded)
          break;
        const records = parsePaxRecords(buffered.subarray(0, paxBody.size));
        buffered = buffered.subarray(paxBody.padded);
        paxBody = void 0;
        for (const record of records) {
          if (record.subarray(0, key.length).equals(key))
            pending.value = Buffer.from(record.subarray(key.length));
          else if (record.subarray(0, 5).toString("latin1") === "path=")
            pending.path = record.subarray(5).toString("utf8");
        }
        continue;
      }
      if (buffered.length < TAR_BLOCK)
        break;
      const block = buffered.subarray(0, TAR_BLOCK);
      buffered = buffered.subarray(TAR_BLOCK);
      const h = new F(block);
      if (h.nullBlock)
        continue;
      const size = Number(h.size ?? 0);
      if (!h.cksumValid || !Number.isSafeInteger(size) || size < 0)
        throw new KilnError("unreadable tar header while reading file attributes");
      const padded = Math.ceil(size / TAR_BLOCK) * TAR_BLOCK;
      if (h.type === "ExtendedHeader") {
        if (size > MAX_PAX_BODY)
          throw new KilnError(`a pax header of ${size} bytes while reading file attributes`);
        paxBody = { size, padded };
        continue;
      }
      if (h.type === "GlobalExtendedHeader" || h.type === "NextFileHasLongPath" || h.type === "NextFileHasLongLinkpath") {
        skip = padded;
        continue;
      }
      const name = pending.path ?? h.path ?? "";
      if (pending.value)
        found.set(name.replace(/^(\.\/|\/)+/, "").replace(/\/$/, ""), pending.value);
      pending = {};
      skip = h.type === "Directory" ? 0 : padded;
    }
  }
  return found;
}
function parsePaxRecords(body) {
  const records = [];
  for (let at2 = 0; at2 < body.length; ) {
    const space = body.indexOf(32, at2);
    const length = space < 0 ? NaN : Number(body.toString("latin1", at2, space));
    if (!Number.isSafeInteger(length) || length <= space - at2 + 1 || at2 + length > body.length) {
      throw new KilnError("malformed pax record while reading file attributes");
    }
    records.push(body.subarray(space + 1, at2 + length - 1));
    at2 += length;
  }
  return records;
}

// packages/core/dist/run/capabilities.js
var ATTRIBUTE = "security.capability";
async function fileCapabilities(root) {
  const listed = await runTool("getcap", ["-r", "."], root);
  if (listed === void 0)
    return void 0;
  const candidates = /* @__PURE__ */ new Set();
  for (const line of listed.toString("utf8").split("\n")) {
    if (!line.startsWith("./"))
      continue;
    for (let space = line.indexOf(" "); space > 2; space = line.indexOf(" ", space + 1))
      candidates.add(line.slice(0, space));
  }
  if (candidates.size === 0)
    return /* @__PURE__ */ new Map();
  const names = Buffer.from([...candidates].map((c) => `${c}\0`).join(""));
  const args = ["-c", "-f", "-", "--xattrs", `--xattrs-include=${ATTRIBUTE}`, "--no-recursion", "--ignore-failed-read", "--null", "--verbatim-files-from", "-T", "-"];
  const tar = spawn3("tar", args, { cwd: root, stdio: ["pipe", "pipe", "pipe"] });
  let stderr = "";
  tar.stderr.on("data", (b2) => stderr = (stderr + b2.toString()).slice(-2048));
  const exited = new Promise((resolve3, reject) => {
    tar.on("error", reject);
    tar.on("close", (code2) => resolve3(code2 ?? -1));
  });
  tar.stdin.end(names);
  const found = await xattrInTar(tar.stdout, ATTRIBUTE);
  const code = await exited;
  if (code !== 0)
    throw new KilnError(`cannot read file capabilities of a RUN step: tar exited with ${code}: ${stderr.trim().split("\n").slice(-2).join("; ")}`);
  return found;
}
function runTool(command, args, cwd) {
  return new Promise((resolve3, reject) => {
    const env = { ...process.env, PATH: `${process.env.PATH ?? ""}:/usr/sbin:/sbin` };
    const child = spawn3(command, args, { cwd, env, stdio: ["ignore", "pipe", "ignore"] });
    const chunks = [];
    child.stdout.on("data", (b2) => chunks.push(b2));
    child.on("error", (err) => err.code === "ENOENT" ? resolve3(void 0) : reject(err));
    child.on("close", () => resolve3(Buffer.concat(chunks)));
  });
}

// packages/core/dist/run/memory-area.js
import { chmod as chmod2, chown, mkdir as mkdir3, writeFile as writeFile2 } from "node:fs/promises";
import { createConnection, createServer } from "node:net";
import { join as join5 } from "node:path";

// packages/core/dist/run/overlay.js
import { execFile as execFile2 } from "node:child_process";
import { readFile as readFile2 } from "node:fs/promises";
var MAX_OPTIONS = 4096 - 512;
function exec(cmd, args, cwd) {
  return new Promise((resolve3, reject) => {
    execFile2(cmd, args, { cwd }, (err, _stdout, stderr) => {
      if (err)
        reject(new KilnError(`${cmd} ${args.join(" ")} failed: ${String(stderr).trim() || err.message}`));
      else
        resolve3();
    });
  });
}
async function mountOverlay(o) {
  if (o.lowers.length === 0)
    throw new KilnError("an overlay needs at least one lower directory");
  const xattrs = idMapping().inUserNamespace ? ",userxattr" : "";
  const options = `lowerdir=${o.lowers.join(":")},upperdir=${o.upper},workdir=${o.work},index=off,redirect_dir=nofollow,metacopy=off${xattrs}`;
  if (options.length + ",volatile".length > MAX_OPTIONS) {
    throw new KilnError(`the image has too many layers (${o.lowers.length}) for one overlay mount; squash some layers of the base image`);
  }
  if (volatileWorks !== false) {
    try {
      await exec("mount", ["-t", "overlay", "overlay", "-o", `${options},volatile`, o.target], o.lowerRoot);
      volatileWorks = true;
      return;
    } catch (err) {
      if (volatileWorks)
        throw err;
      volatileWorks = false;
    }
  }
  await exec("mount", ["-t", "overlay", "overlay", "-o", options, o.target], o.lowerRoot);
}
var volatileWorks;
async function mountTmpfs(target, options) {
  await exec("mount", ["-t", "tmpfs", "-o", options, "tmpfs", target]);
}
async function unmount(target, options = {}) {
  if (options.lazy)
    return exec("umount", ["-l", target]);
  try {
    await exec("umount", [target]);
  } catch {
    await exec("umount", ["-l", target]);
  }
}
async function mountsBelow(dir) {
  const info = await readFile2("/proc/self/mountinfo", "utf8").catch(() => "");
  const prefix = dir.endsWith("/") ? dir : `${dir}/`;
  return info.split("\n").map((line) => line.split(" ")[4]).filter((p2) => !!p2).map((p2) => p2.replace(/\\(\d{3})/g, (_m, o) => String.fromCharCode(parseInt(o, 8)))).filter((p2) => p2 === dir || p2.startsWith(prefix)).sort((a, b2) => b2.length - a.length);
}

// packages/core/dist/run/memory-area.js
async function openMemoryArea(dir, files, sockets) {
  await mkdir3(dir, { mode: 448 });
  const size = files.reduce((n, f2) => n + f2.data.length, 0) + 4 * 1024 * 1024;
  await mountTmpfs(dir, `mode=0711,size=${size},nosuid,nodev,noexec`);
  const servers = [];
  const connections = /* @__PURE__ */ new Set();
  const close = async () => {
    for (const c of connections)
      c.destroy();
    await Promise.all(servers.map((s3) => new Promise((resolve3) => s3.close(() => resolve3()))));
    await unmount(dir);
  };
  try {
    const binds = [];
    for (const [i, f2] of files.entries()) {
      const path = join5(dir, `file-${i}`);
      await writeFile2(path, f2.data, { mode: 384 });
      await chown(path, f2.uid, f2.gid);
      await chmod2(path, f2.mode);
      binds.push({ source: path, destination: f2.destination, readonly: true });
    }
    for (const [i, s3] of sockets.entries()) {
      const path = join5(dir, `socket-${i}`);
      const server = createServer({ allowHalfOpen: true }, (client) => {
        const agent = createConnection({ path: s3.target, allowHalfOpen: true });
        for (const c of [client, agent]) {
          connections.add(c);
          c.on("close", () => connections.delete(c));
        }
        client.pipe(agent).pipe(client);
        const end = () => {
          client.destroy();
          agent.destroy();
        };
        client.on("error", end);
        agent.on("error", end);
      });
      servers.push(server);
      await new Promise((resolve3, reject) => {
        server.once("error", reject);
        server.listen(path, () => resolve3());
      });
      await chown(path, s3.uid, s3.gid);
      await chmod2(path, s3.mode);
      binds.push({ source: path, destination: s3.destination, readonly: false });
    }
    return { dir, binds, close };
  } catch (err) {
    await close().catch(() => void 0);
    throw err;
  }
}

// packages/core/dist/run/network-files.js
import { readFile as readFile3 } from "node:fs/promises";
var SANDBOX_HOSTNAME = "buildkitsandbox";
var FALLBACK_NAMESERVERS = ["8.8.8.8", "8.8.4.4", "2001:4860:4860::8888", "2001:4860:4860::8844"];
var SYSTEMD_RESOLVED_STUB = "127.0.0.53";
var SYSTEMD_RESOLVED_UPSTREAM = "/run/systemd/resolve/resolv.conf";
async function readOptional(path) {
  try {
    return await readFile3(path, "utf8");
  } catch {
    return void 0;
  }
}
function nameservers(text) {
  return text.split("\n").map((l) => l.trim().split(/\s+/)).filter((w2) => w2[0] === "nameserver" && w2[1]).map((w2) => w2[1]);
}
var isLoopback = (ip) => ip.startsWith("127.") || ip === "::1";
async function resolvConf(network, hostFile = "/etc/resolv.conf") {
  let text = await readOptional(hostFile) ?? "";
  if (network === "host")
    return nameservers(text).length ? text : text + FALLBACK_NAMESERVERS.map((ip) => `nameserver ${ip}
`).join("");
  const servers = nameservers(text);
  if (servers.length === 1 && servers[0] === SYSTEMD_RESOLVED_STUB)
    text = await readOptional(SYSTEMD_RESOLVED_UPSTREAM) ?? text;
  let search;
  const options = [];
  const other = [];
  const kept = [];
  for (const raw of text.split("\n")) {
    const line = raw.trim();
    if (line === "" || line.startsWith("#") || line.startsWith(";"))
      continue;
    const [word, ...rest] = line.split(/\s+/);
    if (word === "nameserver") {
      if (rest[0] && !isLoopback(rest[0]))
        kept.push(rest[0]);
    } else if (word === "search" || word === "domain")
      search = rest.join(" ");
    else if (word === "options")
      options.push(...rest);
    else
      other.push(line);
  }
  const lines = (kept.length ? kept : FALLBACK_NAMESERVERS).map((ip) => `nameserver ${ip}`);
  if (search)
    lines.push(`search ${search}`);
  if (options.length)
    lines.push(`options ${options.join(" ")}`);
  return [...lines, ...other].join("\n") + "\n";
}
function hostsFile(hostname2 = SANDBOX_HOSTNAME) {
  return `127.0.0.1	localhost ${hostname2}
::1	localhost ip6-localhost ip6-loopback
`;
}

// packages/core/dist/run/privileged.js
import { lstat as lstat5, readdir as readdir5, readFile as readFile4 } from "node:fs/promises";
import { join as join6 } from "node:path";

// packages/core/dist/run/oci-spec.js
var ALL_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_DAC_READ_SEARCH",
  "CAP_FOWNER",
  "CAP_FSETID",
  "CAP_KILL",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETPCAP",
  "CAP_LINUX_IMMUTABLE",
  "CAP_NET_BIND_SERVICE",
  "CAP_NET_BROADCAST",
  "CAP_NET_ADMIN",
  "CAP_NET_RAW",
  "CAP_IPC_LOCK",
  "CAP_IPC_OWNER",
  "CAP_SYS_MODULE",
  "CAP_SYS_RAWIO",
  "CAP_SYS_CHROOT",
  "CAP_SYS_PTRACE",
  "CAP_SYS_PACCT",
  "CAP_SYS_ADMIN",
  "CAP_SYS_BOOT",
  "CAP_SYS_NICE",
  "CAP_SYS_RESOURCE",
  "CAP_SYS_TIME",
  "CAP_SYS_TTY_CONFIG",
  "CAP_MKNOD",
  "CAP_LEASE",
  "CAP_AUDIT_WRITE",
  "CAP_AUDIT_CONTROL",
  "CAP_SETFCAP",
  "CAP_MAC_OVERRIDE",
  "CAP_MAC_ADMIN",
  "CAP_SYSLOG",
  "CAP_WAKE_ALARM",
  "CAP_BLOCK_SUSPEND",
  "CAP_AUDIT_READ",
  "CAP_PERFMON",
  "CAP_BPF",
  "CAP_CHECKPOINT_RESTORE"
];
var DEFAULT_CAPABILITIES = [
  "CAP_CHOWN",
  "CAP_DAC_OVERRIDE",
  "CAP_FSETID",
  "CAP_FOWNER",
  "CAP_MKNOD",
  "CAP_NET_RAW",
  "CAP_SETGID",
  "CAP_SETUID",
  "CAP_SETFCAP",
  "CAP_SETPCAP",
  "CAP_NET_BIND_SERVICE",
  "CAP_SYS_CHROOT",
  "CAP_KILL",
  "CAP_AUDIT_WRITE"
];
var MASKED_PATHS = [
  "/proc/acpi",
  "/proc/asound",
  "/proc/kcore",
  "/proc/keys",
  "/proc/latency_stats",
  "/proc/timer_list",
  "/proc/timer_stats",
  "/proc/sched_debug",
  "/sys/firmware",
  "/sys/devices/virtual/powercap",
  "/proc/scsi"
];
var READONLY_PATHS = ["/proc/bus", "/proc/fs", "/proc/irq", "/proc/sys", "/proc/sysrq-trigger"];
function systemMounts(userNamespace, privileged = false) {
  const ttyGroup = !userNamespace || userNamespace.ttyGroupMapped ? ["gid=5"] : [];
  const sysAccess = privileged ? "rw" : "ro";
  return [
    { destination: "/proc", type: "proc", source: "proc", options: ["nosuid", "noexec", "nodev"] },
    { destination: "/dev", type: "tmpfs", source: "tmpfs", options: ["nosuid", "strictatime", "mode=755", "size=65536k"] },
    { destination: "/dev/pts", type: "devpts", source: "devpts", options: ["nosuid", "noexec", "newinstance", "ptmxmode=0666", "mode=0620", ...ttyGroup] },
    { destination: "/dev/shm", type: "tmpfs", source: "shm", options: ["nosuid", "noexec", "nodev", "mode=1777", "size=65536k"] },
    { destination: "/dev/mqueue", type: "mqueue", source: "mqueue", options: ["nosuid", "noexec", "nodev"] },
    userNamespace ? { destination: "/sys", type: "none", source: "/sys", options: ["rbind", "nosuid", "noexec", "nodev", sysAccess] } : { destination: "/sys", type: "sysfs", source: "sysfs", options: ["nosuid", "noexec", "nodev", sysAccess] }
  ];
}
function ociSpec(o) {
  const caps = o.privileged ? o.privileged.capabilities : DEFAULT_CAPABILITIES;
  const namespaces = [{ type: "pid" }, { type: "ipc" }, { type: "uts" }, { type: "mount" }, ...o.network === "none" ? [{ type: "network" }] : []];
  const binds = o.binds.map((b2) => ({
    destination: b2.destination,
    type: "bind",
    source: b2.source,
    options: ["rbind", "nosuid", "nodev", ...b2.readonly ? ["ro"] : ["rw"]]
  }));
  return {
    ociVersion: "1.0.2",
    process: {
      terminal: !!o.process.terminal,
      user: { uid: o.process.user.uid, gid: o.process.user.gid, additionalGids: o.process.user.additionalGids },
      args: o.process.args,
      env: o.process.env,
      cwd: o.process.cwd,
      capabilities: { bounding: caps, effective: caps, permitted: caps },
      noNewPrivileges: false
    },
    root: { path: o.rootfs, readonly: false },
    hostname: o.hostname,
    mounts: [
      ...systemMounts(o.userNamespace, !!o.privileged),
      ...binds,
      ...(o.tmpfs ?? []).map((t) => ({
        destination: t.destination,
        type: "tmpfs",
        source: "tmpfs",
        options: ["nosuid", "nodev", ...t.size > 0 ? [`size=${t.size}`] : []]
      }))
    ],
    linux: {
      namespaces,
      maskedPaths: o.privileged ? [] : MASKED_PATHS,
      readonlyPaths: o.privileged ? [] : READONLY_PATHS,
      ...o.privileged ? { devices: o.privileged.devices } : {},
      resources: { devices: [{ allow: !!o.privileged, access: "rwm" }] }
    }
  };
}

// packages/core/dist/run/privileged.js
async function boundingCapabilities() {
  const status = await readFile4("/proc/self/status", "utf8").catch(() => "");
  const hex = /^CapBnd:\s*([0-9a-f]+)$/m.exec(status)?.[1];
  if (!hex)
    return [...ALL_CAPABILITIES];
  const mask = BigInt(`0x${hex}`);
  return ALL_CAPABILITIES.filter((_2, bit) => mask >> BigInt(bit) & 1n);
}
var SKIPPED = /* @__PURE__ */ new Set(["pts", "shm", "fd", "mqueue", ".lxc", ".lxd-mounts", ".udev"]);
var major = (rdev) => Number(BigInt(rdev) >> 8n & 0xfffn | BigInt(rdev) >> 32n & ~0xfffn);
var minor = (rdev) => Number(BigInt(rdev) & 0xffn | BigInt(rdev) >> 12n & ~0xffn);
async function hostDevices(dir = "/dev") {
  const out = [];
  let names;
  try {
    names = await readdir5(dir);
  } catch {
    return out;
  }
  for (const name of names.sort()) {
    const path = join6(dir, name);
    const st2 = await lstat5(path).catch(() => void 0);
    if (!st2)
      continue;
    if (st2.isDirectory()) {
      if (!SKIPPED.has(name))
        out.push(...await hostDevices(path));
      continue;
    }
    if (path === "/dev/console" || !(st2.isCharacterDevice() || st2.isBlockDevice()))
      continue;
    out.push({ path, type: st2.isCharacterDevice() ? "c" : "b", major: major(st2.rdev), minor: minor(st2.rdev), fileMode: st2.mode & 4095, uid: st2.uid, gid: st2.gid });
  }
  return out;
}

// packages/core/dist/run/runc.js
import { spawn as spawn4 } from "node:child_process";
import { accessSync, constants as fsc3 } from "node:fs";
import { readdir as readdir6 } from "node:fs/promises";
import { constants as osConstants } from "node:os";
import { delimiter, join as join7 } from "node:path";
var RUNC_STATE_DIR = "/run/kiln/runc";
var SEARCH = ["/usr/sbin/runc", "/usr/bin/runc", "/usr/local/sbin/runc", "/usr/local/bin/runc"];
var RuntimeNotFoundError = class extends KilnError {
};
function findRunc(env = process.env) {
  const candidates = [env.KILN_RUNC, ...SEARCH, ...(env.PATH ?? "").split(delimiter).filter(Boolean).map((d) => join7(d, "runc"))];
  for (const c of candidates) {
    if (!c)
      continue;
    try {
      accessSync(c, fsc3.X_OK);
      return c;
    } catch {
    }
  }
  throw new RuntimeNotFoundError("RUN needs runc, an OCI runtime, and none was found: install it (Debian/Ubuntu: `apt-get install runc`) or set KILN_RUNC to its path");
}
var Runc = class {
  binary;
  stateDir;
  name = "runc";
  constructor(binary = findRunc(), stateDir = RUNC_STATE_DIR) {
    this.binary = binary;
    this.stateDir = stateDir;
  }
  command(args) {
    return new Promise((resolve3) => {
      const child = spawn4(this.binary, ["--root", this.stateDir, ...args], { stdio: ["ignore", "ignore", "pipe"] });
      let stderr = "";
      child.stderr.on("data", (b2) => stderr += b2.toString());
      child.on("error", (err) => resolve3({ code: -1, stderr: err.message }));
      child.on("close", (code) => resolve3({ code: code ?? -1, stderr }));
    });
  }
  async run(bundleDir, id, io2) {
    if (io2.signal?.aborted)
      throw new KilnError("build interrupted");
    const a = io2.attached;
    const stdio = a?.tty ? a.fds : a ? [a.fds[0], "pipe", "pipe"] : ["ignore", "pipe", "pipe"];
    const child = spawn4(this.binary, ["--root", this.stateDir, "run", "--bundle", bundleDir, id], {
      stdio
    });
    child.stdout?.on("data", (b2) => io2.onOutput?.("stdout", b2));
    child.stderr?.on("data", (b2) => io2.onOutput?.("stderr", b2));
    let killed = false;
    let closed = false;
    const onAbort = async () => {
      killed = true;
      while (!closed) {
        await this.command(["kill", id, "KILL"]);
        if (!closed)
          await new Promise((r) => setTimeout(r, 100));
      }
    };
    const abort = () => void onAbort();
    io2.signal?.addEventListener("abort", abort, { once: true });
    let code = -1;
    try {
      code = await new Promise((resolve3, reject) => {
        child.on("error", (err) => reject(new KilnError(`cannot start runc (${this.binary}): ${err.message}`)));
        child.on("close", (c, sig) => resolve3(c ?? 128 + (sig ? osConstants.signals[sig] ?? 0 : 0)));
      });
      if (killed)
        throw new KilnError("build interrupted");
      return code;
    } finally {
      closed = true;
      io2.signal?.removeEventListener("abort", abort);
      if (killed || code !== 0)
        await this.command(["delete", "--force", id]);
    }
  }
  async cleanStale(isStale) {
    let ids;
    try {
      ids = await readdir6(this.stateDir);
    } catch {
      return;
    }
    for (const id of ids.filter(isStale)) {
      await this.command(["kill", id, "KILL"]);
      await this.command(["delete", "--force", id]);
    }
  }
};

// packages/core/dist/run/user.js
var NUMERIC = /^\d+$/;
function parseUserDatabase(content) {
  if (!content)
    return [];
  return content.toString("utf8").split("\n").filter((line) => line.trim() !== "" && !line.startsWith("#")).map((line) => line.split(":"));
}
async function resolveProcessUser(spec, read) {
  const [userPart = "", groupPart] = (spec === "" ? "0" : spec).split(":", 2);
  const withPrimary = (u2, extra) => ({
    ...u2,
    additionalGids: [u2.gid, ...extra.filter((g2) => g2 !== u2.gid)]
  });
  if (NUMERIC.test(userPart) && groupPart !== void 0 && NUMERIC.test(groupPart)) {
    return withPrimary({ uid: Number(userPart), gid: Number(groupPart) }, []);
  }
  const passwd = parseUserDatabase(await read("/etc/passwd"));
  const entry = passwd.find((f2) => NUMERIC.test(userPart) ? f2[2] === userPart : f2[0] === userPart);
  if (!entry && !NUMERIC.test(userPart)) {
    throw new KilnError(`unable to find user ${userPart}: no matching entries in passwd file`);
  }
  const uid = entry ? Number(entry[2]) : Number(userPart);
  let gid = entry ? Number(entry[3]) : 0;
  const name = entry?.[0];
  if (groupPart !== void 0 && groupPart !== "") {
    if (NUMERIC.test(groupPart))
      gid = Number(groupPart);
    else {
      const group = parseUserDatabase(await read("/etc/group")).find((f2) => f2[0] === groupPart);
      if (!group)
        throw new KilnError(`unable to find group ${groupPart}: no matching entries in group file`);
      gid = Number(group[2]);
    }
    return withPrimary({ uid, gid }, []);
  }
  const supplementary = name ? parseUserDatabase(await read("/etc/group")).filter((f2) => (f2[3] ?? "").split(",").map((m2) => m2.trim()).includes(name)).map((f2) => Number(f2[2])) : [];
  return withPrimary({ uid, gid }, supplementary);
}

// packages/core/dist/run/sandbox.js
var MOUNT_STUBS = ["etc/resolv.conf", "etc/hosts"];
var runtime;
var warnedNoGetcap = false;
var cleaned = /* @__PURE__ */ new WeakSet();
function requireLinux(platform = process.platform) {
  if (platform !== "linux") {
    throw new KilnError(`RUN needs Linux (it runs the command with runc over overlayfs), and this is ${platform}: build this image on Linux (CI, a Linux VM or WSL 2); images without RUN build here as they are`);
  }
}
function requireRunPrivileges() {
  requireLinux();
  if (typeof process.getuid === "function" && process.getuid() !== 0) {
    throw new KilnError("RUN needs root (it mounts an overlay and starts runc): run kiln as root, e.g. `sudo kiln build ...`; builds without RUN need no root");
  }
}
async function cleanStale(store, rt2) {
  if (cleaned.has(store))
    return;
  cleaned.add(store);
  const names = await readdir7(store.sandboxesDir).catch(() => []);
  await rt2.cleanStale((id) => store.isStaleSandbox(id.replace(/^kiln-/, "s-")));
  for (const name of names.filter((n) => store.isStaleSandbox(n))) {
    const dir = join8(store.sandboxesDir, name);
    for (const m2 of await mountsBelow(dir))
      await unmount(m2).catch(() => void 0);
    await rm4(dir, { recursive: true, force: true }).catch(() => void 0);
  }
}
async function createCwd(rootfs, request, uid, gid) {
  const real = await request.resolvePath(request.cwd.replace(/^\/+/, ""));
  if (real === "")
    return;
  let path = "";
  for (const part of real.split("/")) {
    path = path ? `${path}/${part}` : part;
    const host = join8(rootfs, path);
    const st2 = await lstat6(host).catch(() => void 0);
    if (st2?.isDirectory())
      continue;
    if (st2)
      throw new KilnError(`the working directory ${request.cwd} is not a directory in the image (/${path} is not)`);
    await mkdir4(host, { mode: 493 });
    await chown2(host, uid, gid);
  }
}
var parallelism = Math.max(1, Number(process.env.KILN_RUN_PARALLELISM) || availableParallelism());
var running = 0;
var waiting = [];
async function withRunSlot(fn) {
  if (running >= parallelism)
    await new Promise((resolve3) => waiting.push(resolve3));
  running++;
  try {
    return await fn();
  } finally {
    running--;
    waiting.shift()?.();
  }
}
function runInSandbox(store, request) {
  return withRunSlot(() => runNow(store, request));
}
async function runNow(store, request) {
  requireRunPrivileges();
  const ids = idMapping();
  runtime ??= new Runc(findRunc(), ids.inUserNamespace ? store.rootlessRuntimeDir : RUNC_STATE_DIR);
  const rt2 = runtime;
  await cleanStale(store, rt2);
  if (request.signal?.aborted)
    throw new KilnError("build interrupted");
  const dir = await store.makeSandboxDir();
  const rootfs = join8(dir, "rootfs");
  let mounted = false;
  let memory;
  const dispose = () => rm4(dir, { recursive: true, force: true });
  try {
    await mkdir4(rootfs);
    const layout = await prepareRootfs(store, request, dir, rootfs);
    mounted = layout.kind === "overlay";
    const stubs = /* @__PURE__ */ new Set();
    const destinations = [
      ...request.binds ?? [],
      ...request.tmpfs ?? [],
      ...request.memoryFiles ?? [],
      ...request.sockets ?? []
    ].map((m2) => m2.destination.replace(/^\/+/, ""));
    const targets = [...MOUNT_STUBS, ...destinations];
    for (const target of targets) {
      const real = await request.resolvePath(target);
      for (let p2 = real; p2 !== ""; p2 = parentPath(p2))
        if (!request.lower.has(p2))
          stubs.add(p2);
    }
    const user = await resolveProcessUser(request.user, (p2) => readInRootfs(rootfs, request, p2));
    requireMapped(ids, user, `USER ${request.user || "root"}`);
    await createCwd(rootfs, request, user.uid, user.gid);
    await writeFile3(join8(dir, "resolv.conf"), await resolvConf(request.network));
    await writeFile3(join8(dir, "hosts"), hostsFile());
    const secretive = !!(request.memoryFiles?.length || request.sockets?.length || request.secretEnv?.length);
    memory = secretive ? await openMemoryArea(join8(dir, "memory"), request.memoryFiles ?? [], request.sockets ?? []) : void 0;
    const spec = ociSpec({
      process: { args: request.args, env: [...request.env, ...request.secretEnv ?? []], cwd: request.cwd, user, terminal: !!request.attached?.tty },
      hostname: SANDBOX_HOSTNAME,
      network: request.network,
      ...request.privileged ? { privileged: { devices: await hostDevices(), capabilities: await boundingCapabilities() } } : {},
      rootfs,
      binds: [
        { source: join8(dir, "resolv.conf"), destination: "/etc/resolv.conf", readonly: true },
        { source: join8(dir, "hosts"), destination: "/etc/hosts", readonly: true },
        ...request.binds ?? [],
        ...memory?.binds ?? []
      ],
      tmpfs: request.tmpfs ?? [],
      ...ids.inUserNamespace ? { userNamespace: { ttyGroupMapped: isMapped(ids.gids, 5) } } : {}
    });
    const bundle = memory?.dir ?? dir;
    await writeFile3(join8(bundle, "config.json"), JSON.stringify(spec), { mode: 384 });
    const id = `kiln-${basename2(dir).slice(2)}`;
    let exitCode;
    try {
      exitCode = await rt2.run(bundle, id, { onOutput: request.onOutput, signal: request.signal, ...request.attached ? { attached: request.attached } : {} });
    } finally {
      await memory?.close();
      memory = void 0;
    }
    let changes = [];
    if (request.collectChanges === "always" || request.collectChanges === "on-success" && exitCode === 0) {
      const upperDir = layout.kind === "overlay" ? layout.upper : rootfs;
      const capabilities = await fileCapabilities(upperDir);
      if (!capabilities && !warnedNoGetcap) {
        warnedNoGetcap = true;
        request.onWarning?.("getcap is not installed: file capabilities that RUN steps set (setcap) are not kept in their layers; install libcap2-bin");
      }
      changes = await diffOverlayUpper(layout.kind === "overlay" ? { upperDir, mergedDir: rootfs, lowerDirs: layout.lowers, lower: request.lower, exclude: stubs, capabilities } : { upperDir, mergedDir: rootfs, lowerDirs: [], lower: request.lower, exclude: stubs, wholeCopy: true, capabilities });
    }
    if (mounted)
      await unmount(rootfs, { lazy: true });
    mounted = false;
    return { exitCode, changes, dispose };
  } catch (err) {
    await memory?.close().catch(() => void 0);
    if (mounted)
      await unmount(rootfs).catch(() => void 0);
    await dispose().catch(() => void 0);
    throw err;
  }
}
var overlayUnavailable;
function overlayProblem() {
  return overlayUnavailable;
}
function warmLowers(store, layers, signal) {
  if (layers.length === 0 || overlayUnavailable !== void 0 || process.env.KILN_RUN_COPY_ROOTFS === "1")
    return void 0;
  if (typeof process.getuid === "function" && process.getuid() !== 0)
    return void 0;
  return unpackLowers(store, layers, signal);
}
async function prepareRootfs(store, request, dir, rootfs) {
  const giveUpOverlay = (reason) => {
    overlayUnavailable = reason;
    request.onWarning?.(`overlayfs cannot be used here (${reason}): RUN steps use a copy of the image's filesystem instead, which is slower`);
  };
  if (process.env.KILN_RUN_COPY_ROOTFS === "1" && overlayUnavailable === void 0)
    giveUpOverlay("KILN_RUN_COPY_ROOTFS=1 is set");
  if (overlayUnavailable === void 0) {
    const lowers = await unpackLowers(store, request.layers, request.signal);
    const upper = join8(dir, "upper");
    const work = join8(dir, "work");
    for (const d of [upper, work])
      await mkdir4(d);
    const lowerNames = lowers.length ? lowers.map((l) => basename2(l)).reverse() : [await emptyLower(store)];
    try {
      await mountOverlay({ lowerRoot: store.unpackedDir, lowers: lowerNames, upper, work, target: rootfs });
      return { kind: "overlay", upper, lowers: [...lowers].reverse() };
    } catch (err) {
      giveUpOverlay(err.message);
    }
  }
  for (const layer of request.layers) {
    const src = layerSourceOf(store, layer);
    await extractLayer(src.open(), src.compression, rootfs);
  }
  return { kind: "copy" };
}
async function readInRootfs(rootfs, request, path) {
  const real = await request.resolvePath(path.replace(/^\/+/, ""));
  if (real === "")
    return void 0;
  let handle;
  try {
    handle = await open6(join8(rootfs, real), fsConstants.O_RDONLY | fsConstants.O_NOFOLLOW);
    if (!(await handle.stat()).isFile())
      return void 0;
    return await handle.readFile();
  } catch {
    return void 0;
  } finally {
    await handle?.close();
  }
}
async function emptyLower(store) {
  await mkdir4(join8(store.unpackedDir, "empty"), { recursive: true, mode: 448 });
  return "empty";
}

// packages/core/dist/run/step-runner.js
var elevationFound;
function elevation() {
  requireLinux();
  if (process.getuid?.() === 0)
    return "root";
  elevationFound ??= spawnSync3("sudo", ["-n", "true"], { stdio: "ignore" }).status === 0 ? "sudo" : rootlessLaunch() ? "rootless" : void 0;
  if (elevationFound)
    return elevationFound;
  throw new KilnError("RUN needs root (it mounts an overlay and starts runc), and this user has neither passwordless sudo nor user namespaces (the kernel or AppArmor forbids unprivileged ones, as Ubuntu 24.04 does): run kiln as root (e.g. `sudo kiln build ...`), or give this user passwordless sudo and Kiln runs only the RUN sandbox through `sudo -n` (as on GitHub's hosted runners); builds without RUN need no root");
}
var overlayUnavailableHere;
var warningsShown = /* @__PURE__ */ new Set();
function executeRun(store, request, io2) {
  const how = elevation();
  if (how === "root")
    return runStepHere(store, request, io2);
  if (how === "sudo" && request.attach) {
    throw new KilnError("kiln run -i and -t cannot go through sudo (it closes the descriptors they need): run kiln itself as root, e.g. `sudo kiln run -it ...`");
  }
  const launcher = helperLauncher(how);
  return withRunSlot(async () => {
    const settings = { ...process.env.KILN_RUNC ? { runc: process.env.KILN_RUNC } : {}, copyRootfs: process.env.KILN_RUN_COPY_ROOTFS === "1" || !!overlayUnavailableHere };
    const onWarning = (message) => {
      if (warningsShown.has(message))
        return;
      warningsShown.add(message);
      io2.onWarning?.(message);
    };
    if (launcher.limitation)
      onWarning(launcher.limitation);
    const result = await runStepInHelper(store, launcher, { ...request, settings }, { ...io2, onWarning });
    overlayUnavailableHere ??= result.overlayUnavailable;
    return result;
  });
}
async function runStepHere(store, request, io2) {
  for (const o of request.ownership)
    await applyOwnership(store, o);
  const lower = new Map(request.lower);
  try {
    const result = await runInSandbox(store, {
      ...request,
      lower,
      // Paths inside the image resolve through its own symlinks, as the step's view does.
      resolvePath: async (p2) => resolveInIndex(lower, p2).path,
      ...request.attach ? { attached: { fds: io2.attachFds ?? [0, 1, 2], tty: request.attach.tty } } : {},
      collectChanges: request.changes ?? "on-success",
      onOutput: io2.onOutput,
      onWarning: io2.onWarning,
      signal: io2.signal
    });
    const overlay = overlayProblem();
    const extra = overlay ? { overlayUnavailable: overlay } : {};
    const changes = request.changes ?? "on-success";
    try {
      if (changes === "never" || changes === "on-success" && result.exitCode !== 0)
        return { exitCode: result.exitCode, ...extra };
      return { exitCode: result.exitCode, layer: await writeLayer(result.changes, store, request.layer), ...extra };
    } finally {
      await result.dispose();
    }
  } finally {
    for (const dir of request.removeAfter)
      await removeTemp(store, dir);
  }
}
async function storeEntry(parent, path, name, what) {
  if (dirname3(path) !== parent || !name.test(basename3(path)))
    throw new KilnError(`refusing to touch ${path}: not ${what}`);
  const st2 = await lstat7(path);
  if (!st2.isDirectory())
    throw new KilnError(`refusing to touch ${path}: not a directory`);
}
async function applyOwnership(store, o) {
  await storeEntry(store.cacheMountsDir, o.path, /^[0-9a-f]{64}$/, "a cache mount of the store");
  requireMapped(idMapping(), o, `the cache mount owned by ${o.uid}:${o.gid}`);
  await chown3(o.path, o.uid, o.gid);
  await chmod3(o.path, o.mode);
}
async function removeTemp(store, dir) {
  try {
    await storeEntry(join9(store.root, "tmp"), dir, /^k-[A-Za-z0-9._-]+$/, "a temporary directory of the store");
  } catch {
    return;
  }
  await rm5(dir, { recursive: true, force: true }).catch(() => void 0);
}
function helperScript() {
  const candidates = ["./run-helper.js", "../run-helper.js"].map((p2) => fileURLToPath(new URL(p2, import.meta.url)));
  const found = candidates.find((p2) => existsSync(p2));
  if (!found)
    throw new KilnError(`the RUN helper is missing (looked for ${candidates.join(" and ")}): reinstall Kiln`);
  return found;
}
function helperLauncher(how) {
  if (how === "sudo")
    return { prefix: ["sudo", "-n", "--"], env: process.env, what: "through sudo" };
  const rootless = rootlessLaunch();
  return { prefix: [...rootless.prefix, "--"], env: { PATH: process.env.PATH ?? "/usr/sbin:/usr/bin:/sbin:/bin" }, what: "in a user namespace", limitation: rootless.limitation };
}
async function runStepInHelper(store, launcher, request, io2) {
  if (io2.signal?.aborted)
    throw new KilnError("build interrupted");
  const [command, ...args] = [...launcher.prefix, process.execPath, helperScript(), store.root];
  const attached = request.attach ? [0, 1, 2] : [];
  const child = spawn5(command, args, { stdio: ["pipe", "pipe", "pipe", ...attached], env: launcher.env });
  let stderr = "";
  child.stderr.on("data", (b2) => stderr = (stderr + b2.toString()).slice(-4096));
  const exited = new Promise((resolve3) => {
    child.on("error", () => resolve3(-1));
    child.on("close", (code2) => resolve3(code2 ?? -1));
  });
  const abort = () => child.stdin.end();
  io2.signal?.addEventListener("abort", abort, { once: true });
  child.stdin.on("error", () => void 0);
  const wire = { ...request, memoryFiles: request.memoryFiles.map((f2) => ({ ...f2, data: f2.data.toString("base64") })) };
  child.stdin.write(frame(FRAME.request, JSON.stringify(wire)));
  let result;
  let failure;
  try {
    for await (const { type, payload } of readFrames(child.stdout)) {
      if (type === FRAME.stdout)
        io2.onOutput?.("stdout", payload);
      else if (type === FRAME.stderr)
        io2.onOutput?.("stderr", payload);
      else if (type === FRAME.warning)
        io2.onWarning?.(payload.toString("utf8"));
      else if (type === FRAME.result)
        result = JSON.parse(payload.toString("utf8"));
      else if (type === FRAME.error)
        failure = JSON.parse(payload.toString("utf8"));
    }
  } finally {
    io2.signal?.removeEventListener("abort", abort);
    child.stdin.end();
  }
  const code = await exited;
  if (io2.signal?.aborted)
    throw new KilnError("build interrupted");
  if (failure)
    throw failure.user ? new KilnError(failure.message) : new Error(failure.message);
  if (!result || code !== 0) {
    throw new KilnError(`the RUN helper (${launcher.what}) ended with ${code} and no result${stderr.trim() ? `: ${stderr.trim().split("\n").slice(-3).join("; ")}` : ""}`);
  }
  return result;
}
function parseRequest(json) {
  const wire = JSON.parse(json);
  return { ...wire, memoryFiles: wire.memoryFiles.map((f2) => ({ ...f2, data: Buffer.from(f2.data, "base64") })) };
}
async function returnStoreEntries(root, before, blob) {
  const owner = await lstat7(root);
  const keepRoot = /* @__PURE__ */ new Set(["unpacked", "sandboxes"]);
  for (const name of await readdir8(root)) {
    if (!before.has(name) && !keepRoot.has(name))
      await chown3(`${root}/${name}`, owner.uid, owner.gid);
  }
  if (blob)
    await chown3(blob, owner.uid, owner.gid);
}

export {
  __require,
  __commonJS,
  __export,
  __toESM,
  KilnError,
  sha256Hex,
  sha256Digest,
  isDigest,
  digestHex,
  canonicalJson,
  chainIds,
  DigestMismatchError,
  BlobNotFoundError,
  openStore,
  MediaTypes,
  isManifest,
  isIndex,
  layerCompression,
  rt,
  parallelGzip,
  SNIFF_LENGTH,
  sniffCompression,
  decompressor,
  decompress,
  writeTar,
  comparePaths,
  writeLayer,
  extractLayer,
  extractArchive,
  storedLayer,
  buildFsIndex,
  layerHeaders,
  withLayerApplied,
  resolveInIndex,
  readFileFromLayers,
  parseUserDatabase,
  warmLowers,
  FRAME,
  frame,
  readFrames,
  executeRun,
  runStepHere,
  parseRequest,
  returnStoreEntries
};
