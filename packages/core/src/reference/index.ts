export {
  InvalidReferenceError,
  familiarName,
  formatReference,
  isValidTag,
  namesRegistry,
  parseReference,
  repositoryName,
} from './reference.js';
export type { ImageReference } from './reference.js';
