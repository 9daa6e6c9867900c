export {
  InvalidReferenceError,
  familiarName,
  formatReference,
  isValidTag,
  parseReference,
  repositoryName,
} from './reference.js';
export type { ImageReference } from './reference.js';
