// The build: Dockerfile + context -> image in the store. Stages run as soon as the stages they
// depend on are done (independent stages in parallel); each step's cache key chains its
// parent's key with exactly what the step depends on, so a changed step rebuilds itself and
// every step after it, and nothing else.

import { createHash } from 'node:crypto';
import { lstat, readFile } from 'node:fs/promises';
import { posix, relative, resolve } from 'node:path';
import { KilnError } from '../errors.js';
import { parseDockerfile } from '../dockerfile/parser.js';
import { toStages, typeInstruction, type DockerfilePlan, type Instruction, type Stage } from '../dockerfile/instructions.js';
import { formatDockerfileWarning, type DockerfileWarning } from '../dockerfile/checks.js';
import { DockerfileError } from '../dockerfile/errors.js';
import { mountSources } from '../dockerfile/run-mount.js';
import type { EscapeToken } from '../dockerfile/shell.js';
import { IgnoreMatcher, loadIgnoreMatcher } from '../context/dockerignore.js';
import { ContextDigests, walkContext, type ContextEntry } from '../context/walk.js';
import { extractArchive, writeLayer, type LayerEntry, type LayerSpans, type TarHeader, type WriteLayerOptions, type WrittenLayer } from '../layer/index.js';
import { formatPlatform, hostPlatform, manifestFor, parsePlatform, platformMatches } from '../oci/image.js';
import { chainIds } from '../oci/digest.js';
import { MediaTypes } from '../oci/media-types.js';
import type { HistoryEntry, ImageConfig, Platform } from '../oci/types.js';
import type { CacheRecord, LayerRecord } from '../contracts/index.js';
import type { ContentStore } from '../store/types.js';
import { ArgScope, Expander, PROXY_ARGS, argVars, platformArgs, varsFromEnv } from './scope.js';
import { ImageResolver } from './images.js';
import { RootfsView, keepLayerHeaders } from './rootfs.js';
import { layerFetcher, rememberedSources, type LayerFetch } from './remote-layers.js';
import { warmLowers } from '../run/sandbox.js';
import { treeFromEntries, type SourceTree } from './copy-plan.js';
import type { StageContext, StageState, StepOutcome } from './stage-state.js';
import { stepFor } from './steps/index.js';
import type { ProducedLayer, StepServices } from './steps/step.js';
import { checkCycles, findTarget, lookupStage, stageLabel } from './stage-graph.js';
import { importCaches, type CacheTransferContext } from './cache-transfer.js';
import { buildPlatforms, parsePlatformList } from './platforms.js';
import { cacheTransferContext, publishImage } from './publish.js';
import type { BuildEvent, BuildOptions, BuildResult, StepReport } from './types.js';

const DEFAULT_PATH = 'PATH=/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin';
/** A COPY layer with fewer entries is written afresh every time: reusing it would save little. */
const SPLICE_MIN_ENTRIES = 64;

function hashKey(...parts: string[]): string {
  const h = createHash('sha256');
  for (const p of parts) h.update(p).update('\0');
  return h.digest('hex');
}

function isoDate(epoch: number): string {
  return new Date(epoch * 1000).toISOString().replace('.000Z', 'Z');
}

export async function build(store: ContentStore, options: BuildOptions): Promise<BuildResult> {
  const platforms = parsePlatformList(options.platform);
  const buildOne = (into: ContentStore, one: BuildOptions) => new Builder(into, one).run();
  // The lease keeps prune and rmi from removing what the build writes or reuses until it ends.
  return store.withLease(
    () => (platforms.length > 1 ? buildPlatforms(store, options, platforms, buildOne) : buildOne(store, options)),
    { signal: options.signal },
  );
}

class Builder implements StepServices {
  private readonly started = Date.now();
  private readonly epoch: number;
  readonly platform: Platform;
  private readonly buildArgs: Map<string, string>;
  private readonly usedArgs = new Set<string>();
  private readonly steps: StepReport[] = [];
  private readonly usedCache = new Map<string, CacheRecord>();
  private readonly resolver: ImageResolver;
  private stepCounter = 0;
  private plan!: DockerfilePlan;
  expander!: Expander;
  private metaScope!: ArgScope;
  private contextTree?: Promise<{ tree: SourceTree; digests: ContextDigests }>;
  private readonly stageResults = new Map<number, Promise<StageState>>();
  private readonly materialized = new Map<string, Promise<SourceTree>>();
  /** Background unpacking for later RUN steps: awaited before the build returns, so no tar outlives it. */
  private readonly warming: Promise<void>[] = [];
  /** Aborted when the build fails; with options.signal (an interrupt), what background work and base-layer waits stop on. */
  private readonly failed = new AbortController();
  private readonly stopping: AbortSignal;
  private readonly contextDir: string;

  constructor(
    readonly store: ContentStore,
    readonly options: BuildOptions,
  ) {
    this.contextDir = resolve(options.context);
    this.epoch = options.epoch ?? 0;
    this.platform = options.platform ? parsePlatform(options.platform) : hostPlatform();
    this.buildArgs = new Map(Object.entries(options.buildArgs ?? {}));
    this.resolver = new ImageResolver(store, this.platform, process.cwd(), options.registry, options.pull);
    this.stopping = options.signal ? AbortSignal.any([options.signal, this.failed.signal]) : this.failed.signal;
    // A failed or interrupted build stops waiting for base layers at once; the caller ends the
    // downloads by closing its registry client.
    this.fetchLayers = layerFetcher(store, options.registry, undefined, this.stopping);
  }

  /** Fetches base layers the store does not have yet (registry bases are references until then). */
  readonly fetchLayers: LayerFetch;

  private emit(event: BuildEvent): void {
    this.options.onEvent?.(event);
  }

  private cacheTransfer(): CacheTransferContext {
    return cacheTransferContext(this.store, this.options);
  }

  private checkAborted(): void {
    if (this.options.signal?.aborted) throw new KilnError('build interrupted');
  }

  async run(): Promise<BuildResult> {
    try {
      return await this.runBuild();
    } catch (err) {
      this.failed.abort(err); // a failed build needs no more unpacking or base layers
      throw err;
    } finally {
      await Promise.all(this.warming);
    }
  }

  private async runBuild(): Promise<BuildResult> {
    const dockerfilePath = this.options.dockerfile ?? resolve(this.contextDir, 'Dockerfile');
    const displayName = this.options.dockerfileContent ? '<stdin>' : displayPath(dockerfilePath, this.contextDir);
    const bytes = this.options.dockerfileContent ?? (await readFile(dockerfilePath).catch((err: NodeJS.ErrnoException) => {
      throw new KilnError(`cannot read Dockerfile ${displayName}: ${err.code === 'ENOENT' ? 'no such file' : err.message}`);
    }));
    const ast = parseDockerfile(bytes, { file: displayName });
    this.plan = toStages(ast);
    // Parser and typing warnings (empty continuation lines, exec forms that are not JSON, ...).
    for (const w of this.plan.warnings) this.emit({ type: 'warning', message: formatDockerfileWarning(w) });
    this.expander = new Expander(ast.escapeToken as EscapeToken);
    if (this.options.cacheFrom?.length && !this.options.noCache) await importCaches(this.cacheTransfer(), this.options.cacheFrom);

    this.metaScope = new ArgScope(this.buildArgs, this.usedArgs, platformArgs(this.platform));
    for (const [k, v] of platformArgs(this.platform)) this.metaScope.values.set(k, v);
    for (const arg of this.plan.metaArgs) {
      for (const { key, value } of arg.args) {
        this.metaScope.declare(key, value === undefined ? undefined : this.expandMeta(value, arg));
      }
    }

    const target = findTarget(this.plan, this.options.target);
    checkCycles(this.plan, target, (stage) => this.stageDependencies(stage));
    const final = await this.stage(target);

    for (const key of this.buildArgs.keys()) {
      if (!this.usedArgs.has(key) && !PROXY_ARGS.has(key)) {
        this.emit({ type: 'warning', message: `build-arg "${key}" was not consumed by any ARG instruction` });
      }
    }
    if (this.contextTree) await (await this.contextTree).digests.save();
    return this.finish(final);
  }

  // ---- stages ----

  private stageDependencies(stage: Stage): { stage: Stage; line: number }[] {
    const deps: { stage: Stage; line: number }[] = [];
    const fromName = this.expandMeta(stage.from.image, stage.from);
    const from = lookupStage(this.plan, fromName, false, stage);
    if (from.kind === 'stage') deps.push({ stage: from.stage, line: stage.from.line });
    for (const instruction of stage.instructions) {
      const froms =
        instruction.kind === 'COPY' && instruction.from !== undefined
          ? [this.expandMeta(instruction.from, instruction)]
          : instruction.kind === 'RUN'
            ? mountSources(instruction.mounts)
            : [];
      for (const from of froms) {
        const ref = lookupStage(this.plan, from, true);
        if (ref.kind === 'stage') deps.push({ stage: ref.stage, line: instruction.line });
      }
    }
    return deps;
  }

  private stage(stage: Stage): Promise<StageState> {
    let result = this.stageResults.get(stage.index);
    if (!result) {
      result = this.runStage(stage);
      this.stageResults.set(stage.index, result);
      // Start the stages this one needs right away, so independent ones build in parallel.
      for (const dep of this.stageDependencies(stage)) void this.stage(dep.stage).catch(() => undefined);
    }
    return result;
  }

  private async runStage(stage: Stage): Promise<StageState> {
    const label = stageLabel(stage);
    const total = stage.instructions.length + 1;
    this.emit({ type: 'stage-start', stage: label, index: stage.index });
    const fromName = this.expandMeta(stage.from.image, stage.from);
    let state = await this.step(label, 1, total, stage.from, async () => {
      const from = lookupStage(this.plan, fromName, false, stage);
      if (from.kind === 'stage') {
        const parent = await this.stage(from.stage);
        return { state: { ...parent, key: hashKey('FROM-stage', parent.key) }, cached: true };
      }
      const platform = stage.from.platform ? parsePlatform(this.expandMeta(stage.from.platform, stage.from)) : this.platform;
      const base = await this.resolver.resolve(fromName, platform).catch((err: unknown) => {
        throw this.located(err, stage.from);
      });
      this.checkBasePlatform(fromName, base.config, platform, stage.from.line);
      const config = structuredClone(base.config);
      config.config ??= {};
      if (!(config.config.Env ?? []).some((e) => e.startsWith('PATH='))) config.config.Env = [DEFAULT_PATH, ...(config.config.Env ?? [])];
      // BuildKit's empty image (scratch) starts in "/"; an image's own WorkingDir is kept as it is.
      if (base.digest === 'scratch') config.config.WorkingDir = '/';
      config.history ??= [];
      return {
        state: {
          config,
          layers: [...base.layers],
          view: new RootfsView(this.store, base.layers, this.fetchLayers),
          key: hashKey('FROM', base.digest, `${platform.os}/${platform.architecture}/${platform.variant ?? ''}`),
          args: new Map(),
          vars: varsFromEnv(config.config.Env ?? []),
          platform,
        },
        cached: true,
      };
    });

    const scope = new ArgScope(this.buildArgs, this.usedArgs, this.metaScope.values, state.args);
    const ctx: StageContext = { scope, vars: new Map(state.vars), cmdSet: false };
    // ONBUILD triggers of the base run first, then are cleared from the new image.
    const triggers = state.config.config?.OnBuild ?? [];
    if (state.config.config) state.config.config.OnBuild = null;
    const instructions: Instruction[] = [];
    for (const expression of triggers) {
      const ast = parseDockerfile(expression, { file: `${this.plan.file} (ONBUILD of ${fromName})` });
      const warnings: DockerfileWarning[] = [];
      for (const node of ast.instructions) {
        instructions.push({ ...typeInstruction(node, ast.file, warnings), line: stage.from.line, endLine: stage.from.line });
      }
      for (const w of warnings) this.emit({ type: 'warning', message: formatDockerfileWarning({ ...w, line: stage.from.line }) });
    }
    instructions.push(...stage.instructions);
    const steps = instructions.length + 1;
    const lastRun = instructions.map((ins) => ins.kind).lastIndexOf('RUN');
    for (const [i, instruction] of instructions.entries()) {
      this.checkAborted();
      state = { ...state, runAhead: i < lastRun };
      state = await this.step(label, i + 2, steps, instruction, (id) => this.apply(state, instruction, ctx, id));
    }
    return { ...state, args: new Map(scope.values), vars: ctx.vars };
  }

  /**
   * BuildKit's InvalidBaseImagePlatform check: a single-platform base made for another platform
   * is used as it is (as docker does), with a warning, since its files are for that platform.
   */
  private checkBasePlatform(name: string, config: ImageConfig, wanted: Platform, line: number): void {
    if (name === 'scratch' || !config.os || !config.architecture) return;
    const actual: Platform = { os: config.os, architecture: config.architecture, ...(config.variant ? { variant: config.variant } : {}) };
    if (platformMatches(wanted, actual)) return;
    this.emit({
      type: 'warning',
      message: `InvalidBaseImagePlatform: Base image ${name} was pulled with platform "${formatPlatform(actual)}", expected "${formatPlatform(wanted)}" for current build (line ${line})`,
    });
  }

  private async step(
    stage: string,
    step: number,
    steps: number,
    instruction: Instruction,
    work: (id: number) => Promise<{ state: StageState; cached: boolean; layer?: string }>,
  ): Promise<StageState> {
    const id = ++this.stepCounter;
    const text = instruction.original;
    this.emit({ type: 'step-start', id, stage, step, steps, instruction: text, line: instruction.line });
    const start = Date.now();
    const { state, cached, layer } = await work(id);
    const durationMs = Date.now() - start;
    this.emit({ type: 'step-done', id, cached, durationMs });
    this.steps.push({ stage, instruction: text, line: instruction.line, cached, durationMs, layer });
    return state;
  }

  private located(err: unknown, instruction: Instruction): unknown {
    if (err instanceof DockerfileError || !(err instanceof KilnError)) return err;
    return new DockerfileError(err.message, { file: this.plan.file, line: instruction.line, endLine: instruction.endLine }, instruction.original);
  }

  /** Expand a word of a FROM line or a --from flag: only meta ARGs are visible there. */
  private expandMeta(word: string, instruction: Instruction): string {
    try {
      return this.expander.word(word, argVars(this.metaScope));
    } catch (err) {
      throw this.located(err, instruction);
    }
  }

  // ---- instructions ----

  /** Run one instruction's step (steps/index.ts); errors are located on its Dockerfile line. */
  private async apply(state: StageState, instruction: Instruction, stage: StageContext, id: number): Promise<StepOutcome> {
    const started = Date.now();
    try {
      return await stepFor(instruction)({
        instruction,
        state,
        config: structuredClone(state.config),
        stage,
        expand: (word) => this.expander.word(word, stage.vars),
        output: (stream, chunk) =>
          this.emit({ type: 'step-output', id, stream, text: chunk.toString('utf8'), elapsedMs: Date.now() - started }),
        build: this,
      });
    } catch (err) {
      throw this.located(err, instruction);
    }
  }

  /** A step that changes only the image config: no layer; cached when its key was seen before. */
  async metadataStep(state: StageState, config: ImageConfig, createdBy: string, recordHistory: boolean): Promise<StepOutcome> {
    const key = hashKey(state.key, createdBy);
    const cached = !this.options.noCache && (await this.store.getCache(key)) !== undefined;
    const record = { layer: null, created: Date.now() };
    if (!cached) await this.store.putCache(key, record);
    this.usedCache.set(key, record);
    if (recordHistory) config.history = [...(config.history ?? []), this.history(createdBy, true)];
    return { state: { ...state, config, key }, cached };
  }

  /** How this build writes layers: its epoch clamps mtimes, its compression and level. */
  layerOptions(): WriteLayerOptions {
    return { epoch: this.epoch, compression: this.options.compression ?? 'none', gzipLevel: this.options.gzipLevel };
  }

  /** Unpack `layers` for a later RUN in the background (each layer once; errors are the RUN's to report). */
  private warmRunLowers(layers: readonly LayerRecord[]): void {
    // The layers a RUN will need are fetched now too, while the steps before it run.
    const started = this.fetchLayers(layers).then(() => warmLowers(this.store, layers, this.stopping));
    this.warming.push(started.then(() => undefined, () => undefined));
  }

  private history(createdBy: string, empty: boolean): HistoryEntry {
    return { created: isoDate(this.epoch), created_by: createdBy, comment: 'kiln', ...(empty ? { empty_layer: true } : {}) };
  }

  async layerStep(
    state: StageState,
    config: ImageConfig,
    createdBy: string,
    keyParts: string[],
    produce: () => Promise<ProducedLayer>,
  ): Promise<StepOutcome> {
    // The epoch (SOURCE_DATE_EPOCH) clamps the layer's mtimes, so it decides its bytes too.
    const key = hashKey(state.key, createdBy, this.options.compression ?? 'none', String(this.options.gzipLevel ?? 6), String(this.epoch), ...keyParts);
    let record = this.options.noCache ? undefined : await this.store.getCache(key);
    const cached = record !== undefined && (record.layer === null || (await this.layerAvailable(record.layer.digest)));
    let written: TarHeader[] | undefined;
    if (!cached) {
      if (state.runAhead) this.warmRunLowers(state.layers);
      const produced = await produce();
      try {
        const layer = 'written' in produced ? produced.written : await this.writeStepLayer(createdBy, produced.entries);
        record = { layer: { digest: layer.digest, diffId: layer.diffId, size: layer.size, mediaType: layer.mediaType }, created: Date.now() };
        written = layer.headers;
        await keepLayerHeaders(this.store, record.layer!, written);
      } finally {
        if ('dispose' in produced) await produced.dispose?.();
      }
      await this.store.putCache(key, record);
    }
    this.usedCache.set(key, record!);
    const layer = record!.layer!;
    config.history = [...(config.history ?? []), this.history(createdBy, false)];
    config.rootfs = { type: 'layers', diff_ids: [...config.rootfs.diff_ids, layer.diffId] };
    return {
      // The view holds what the layer holds, as the writer wrote it (mtimes clamped).
      state: { ...state, config, layers: [...state.layers, layer], view: state.view.withLayer(layer, written), key },
      cached,
      layer: layer.digest,
    };
  }


  /** A cached layer is here, or in a registry cache this build imported (fetched when needed). */
  private async layerAvailable(digest: string): Promise<boolean> {
    if (await this.store.hasBlob(digest)) return true;
    return this.options.registry !== undefined && (await rememberedSources(this.store, digest)).length > 0;
  }

  /**
   * Writes a COPY/ADD step's layer. A plain layer of many entries keeps where each entry lies
   * (`layer-spans`), and the step remembers its last layer (`step-layers`, by context and
   * instruction): when one file of a big COPY changes, the next build copies the unchanged
   * entries from that layer as byte ranges instead of reading and encoding every file again.
   */
  private async writeStepLayer(createdBy: string, entries: LayerEntry[]): Promise<WrittenLayer> {
    const options = this.layerOptions();
    if (options.compression !== 'none' || entries.length < SPLICE_MIN_ENTRIES) return writeLayer(entries, this.store, options);
    const stepId = `${this.contextDir}\0${formatPlatform(this.platform)}\0${this.epoch}\0${createdBy}`;
    const last = await this.store.readMeta<{ digest: string }>('step-layers', stepId);
    const spans = last && (await this.store.readMeta<LayerSpans>('layer-spans', last.digest));
    const reusable = spans && (await this.store.blobSize(last.digest)) === spans.size;
    const layer = await writeLayer(entries, this.store, { ...options, spans: true, ...(reusable ? { reuse: { ...spans, file: this.store.blobPath(last.digest) } } : {}) });
    if (layer.spans && (!reusable || layer.digest !== last?.digest)) {
      await this.store.writeMeta('layer-spans', layer.digest, layer.spans);
      await this.store.writeMeta('step-layers', stepId, { digest: layer.digest });
    }
    return layer;
  }

  // ---- sources ----

  async context(): Promise<SourceTree> {
    return (await this.contextWithDigests()).tree;
  }

  private contextWithDigests(): Promise<{ tree: SourceTree; digests: ContextDigests }> {
    this.contextTree ??= (async () => {
      const dockerfile = this.options.dockerfile ?? resolve(this.contextDir, 'Dockerfile');
      const matcher = this.options.dockerfileContent ? await loadIgnoreMatcher(this.contextDir, '-') : await loadIgnoreMatcher(this.contextDir, dockerfile);
      const list = await walkContext(this.contextDir, matcher);
      const digests = await ContextDigests.load(this.store, this.contextDir);
      const root = await rootEntry(this.contextDir);
      const tree = treeFromEntries('context', 'build context', list, root);
      return { tree: { ...tree, digest: (e) => digests.digest(e) }, digests };
    })();
    return this.contextTree;
  }

  async sourceKey(name: string): Promise<string> {
    const ref = lookupStage(this.plan, name, true);
    // A stage by its content (the chain ID of its layers), not its cache key: the same key can
    // stand for other bytes after a --no-cache build of that stage or a non-deterministic RUN.
    if (ref.kind === 'stage') return `layers:${chainIds((await this.stage(ref.stage)).layers.map((l) => l.diffId)).at(-1) ?? 'none'}`;
    const image = await this.resolver.resolve(name).catch((err: unknown) => {
      throw new KilnError(`--from=${name}: no stage has this name, and as an image: ${(err as Error).message}`);
    });
    return `image:${image.digest}`;
  }

  /** The filesystem of a stage or an image, unpacked once per build, as a copy source. */
  treeFrom(name: string): Promise<SourceTree> {
    let pending = this.materialized.get(name.toLowerCase());
    if (!pending) {
      pending = (async () => {
        const ref = lookupStage(this.plan, name, true);
        const image = async () =>
          this.resolver.resolve(name).catch((err: unknown) => {
            throw new KilnError(`--from=${name}: no stage has this name, and as an image: ${(err as Error).message}`);
          });
        const view = ref.kind === 'stage' ? (await this.stage(ref.stage)).view : new RootfsView(this.store, (await image()).layers, this.fetchLayers);
        const dir = await view.materialize();
        const list = await walkContext(dir, new IgnoreMatcher([]));
        const label = ref.kind === 'stage' ? `stage ${stageLabel(ref.stage)}` : `image ${name}`;
        return treeFromEntries('image', label, list, await rootEntry(dir));
      })();
      this.materialized.set(name.toLowerCase(), pending);
    }
    return pending;
  }

  /** ADD of a local archive: its extracted contents, or undefined when the file is no archive. */
  async unpack(entry: ContextEntry): Promise<SourceTree | undefined> {
    if (entry.type !== 'file') return undefined;
    const dir = await this.store.makeTempDir('add-');
    const extracted = await extractArchive(entry.absPath, dir);
    if (extracted === false) return undefined;
    const list = await walkContext(dir, new IgnoreMatcher([]));
    return treeFromEntries('image', `archive ${entry.path}`, list, await rootEntry(dir));
  }

  // ---- result ----

  private async finish(final: StageState): Promise<BuildResult> {
    const config = structuredClone(final.config);
    if (this.options.labels && Object.keys(this.options.labels).length) {
      config.config = { ...config.config, Labels: { ...(config.config?.Labels ?? {}), ...this.options.labels } };
    }
    config.created = isoDate(this.epoch);
    const configBlob = await this.store.writeJson(config);
    const manifest = manifestFor(
      { mediaType: MediaTypes.ociConfig, digest: configBlob.digest, size: configBlob.size },
      final.layers.map((l) => ({ mediaType: l.mediaType, digest: l.digest, size: l.size })),
      this.options.annotations,
    );
    const manifestBlob = await this.store.writeJson(manifest);
    const cacheRecords = [...this.usedCache].map(([key, record]) => ({ key, record }));
    const { tags, referencedLayers } = await publishImage(this.store, manifestBlob.digest, this.options, cacheRecords, this.cacheTransfer());
    return {
      manifestDigest: manifestBlob.digest,
      configDigest: configBlob.digest,
      imageId: configBlob.digest,
      tags,
      config,
      layers: final.layers,
      steps: this.steps,
      cacheRecords,
      ...(referencedLayers ? { referencedLayers } : {}),
      durationMs: Date.now() - this.started,
    };
  }
}

/** How errors name the Dockerfile: relative to the context (as docker build), else to the cwd, else absolute. */
function displayPath(file: string, contextDir: string): string {
  for (const base of [contextDir, process.cwd()]) {
    const rel = relative(base, file);
    if (rel && !rel.startsWith('..') && !posix.isAbsolute(rel)) return rel;
  }
  return file;
}

async function rootEntry(dir: string): Promise<ContextEntry> {
  const st = await lstat(dir);
  return { path: '', absPath: dir, type: 'dir', mode: st.mode & 0o7777, size: 0, uid: st.uid, gid: st.gid, mtimeMs: st.mtimeMs, ino: st.ino };
}
