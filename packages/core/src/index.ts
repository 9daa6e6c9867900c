// @kiln/core's library surface. Nothing here prints; the CLI in cli/ is the only place that does.
// docker/metadata-action's tag rules are not here: they live with their only user, the Action
// (packages/action/src/tags/), so installing @kiln/core does not bring handlebars, moment-timezone,
// semver, @renovatebot/pep440 and csv-parse.
export { KilnError, formatLocation } from './errors.js';
export type { SourceLocation } from './errors.js';

export * from './dockerfile/index.js';
export * from './reference/index.js';
export * from './store/index.js';
export * from './oci/index.js';
export * from './layer/index.js';
export * from './registry/index.js';
export { build } from './engine/builder.js';
export { parseCacheSpec } from './engine/cache-transfer.js';
export { loadSecrets, parseSecretSpec, parseSshSpecs, type SecretSource } from './engine/build-secrets.js';
export { ENTITLEMENTS, parseEntitlements, type Entitlement } from './engine/entitlements.js';
export { parsePlatformList } from './engine/platforms.js';
export { buildMetadata, progressLine, progressReporter, pushedLine, resultLines, type PushedImage } from './engine/report.js';
export { DEFAULT_PUSH_COMPRESSION, distributionForm, parsePushCompression, pushToRegistry, type PushCompression } from './engine/distribution.js';
export { sourceDateEpoch } from './engine/source-date-epoch.js';
export type * from './engine/types.js';
