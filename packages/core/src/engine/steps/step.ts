// The contract between the builder and the one-function-per-instruction steps (steps/index.ts):
// what a step is given, and the builder services it may call.

import type { Instruction } from '../../dockerfile/instructions.js';
import type { LayerEntry, WriteLayerOptions, WrittenLayer } from '../../layer/index.js';
import type { ImageConfig } from '../../oci/types.js';
import type { ContentStore } from '../../store/types.js';
import type { ContextEntry } from '../../context/walk.js';
import type { SourceTree } from '../copy-plan.js';
import type { LayerFetch } from '../remote-layers.js';
import type { Expander } from '../scope.js';
import type { StageContext, StageState, StepOutcome } from '../stage-state.js';
import type { BuildOptions } from '../types.js';

/** What the builder does for every step: cache lookups, layer writes, sources. */
export interface StepServices {
  readonly store: ContentStore;
  readonly options: BuildOptions;
  readonly expander: Expander;
  /** A step that changes only the config: cached by key; history entry when `recordHistory`. */
  metadataStep(state: StageState, config: ImageConfig, createdBy: string, recordHistory: boolean): Promise<StepOutcome>;
  /**
   * A step that adds a layer: the parent's key, `createdBy` and `keyParts` decide it, and
   * `produce` (the entries; for RUN, running the command) runs only on a cache miss; its
   * `dispose` runs once the layer is written.
   */
  layerStep(state: StageState, config: ImageConfig, createdBy: string, keyParts: string[], produce: () => Promise<ProducedLayer>): Promise<StepOutcome>;
  /** How this build writes layers (epoch, compression), for a step that writes its own. */
  layerOptions(): WriteLayerOptions;
  /** The build context, walked through .dockerignore. */
  context(): Promise<SourceTree>;
  /** A stage's or an image's filesystem as a copy source (`COPY --from`). */
  treeFrom(name: string): Promise<SourceTree>;
  /** What decides that filesystem's content: the stage's cache key, or the image's digest. */
  sourceKey(name: string): Promise<string>;
  /** ADD of a local archive: its contents, or undefined when the file is no archive. */
  unpack(entry: ContextEntry): Promise<SourceTree | undefined>;
  /** Brings base layers the store does not have yet (before a RUN reads them). */
  fetchLayers: LayerFetch;
}

/** What a layer step's `produce` gives: the entries to write (and what to remove after), or a layer it wrote itself (RUN). */
export type ProducedLayer = { entries: LayerEntry[]; dispose?: () => Promise<void> } | { written: WrittenLayer };

export interface StepInput<I extends Instruction = Instruction> {
  instruction: I;
  /** The stage before this step. */
  state: StageState;
  /** A copy of the stage's image config, for the step to change. */
  config: ImageConfig;
  stage: StageContext;
  /** Expand a word against the stage's variables. */
  expand(word: string): string;
  /** Output of what the step runs, shown live under the step. */
  output(stream: 'stdout' | 'stderr', chunk: Buffer): void;
  build: StepServices;
}

export type Step<I extends Instruction = Instruction> = (input: StepInput<I>) => Promise<StepOutcome>;
