export { KilnError, formatLocation } from './errors.js';
export type { SourceLocation } from './errors.js';
