// What a stage is while it builds: the image so far (config, layers, filesystem view, cache key)
// and the variables its instructions expand against.

import type { LayerRecord } from '../contracts/index.js';
import type { ImageConfig, Platform } from '../oci/types.js';
import type { RootfsView } from './rootfs.js';
import type { ArgScope } from './scope.js';

export interface StageState {
  config: ImageConfig;
  layers: LayerRecord[];
  view: RootfsView;
  key: string;
  /** ARGs in scope at the end of the stage (a stage FROM this one inherits them). */
  args: ReadonlyMap<string, string | undefined>;
  /** What `$NAME` expands to at the end of the stage. */
  vars: ReadonlyMap<string, string>;
  /** The platform the stage's programs are for (`FROM --platform=`, else the build's). */
  platform: Platform;
  /**
   * A RUN comes later in the stage: at the first step the cache does not answer, the layers so
   * far start unpacking for it in the background, while the steps before it work.
   */
  runAhead?: boolean;
}

/** What the instructions of one stage share as they run in order. */
export interface StageContext {
  scope: ArgScope;
  /** Variables for expansion, updated by ENV and ARG in order. */
  vars: Map<string, string>;
  /** CMD was set in this stage (ENTRYPOINT then keeps it). */
  cmdSet: boolean;
}

/** A step's result: the stage after it, whether the cache answered, and the layer it added. */
export interface StepOutcome {
  state: StageState;
  cached: boolean;
  layer?: string;
}
