// The oci/ room: image documents, media types, digests, OCI image layouts and docker archives.
export * from './digest.js';
export * from './media-types.js';
export type * from './types.js';
export * from './image.js';
export * from './content.js';
export * from './layout.js';
export * from './docker-archive.js';
export * from './annotations.js';
