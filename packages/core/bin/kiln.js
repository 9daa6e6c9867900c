#!/usr/bin/env node
// The CLI as a bundled module (scripts/bundle-cli.mjs; each verb a chunk loaded when it runs), which starts faster than dist/cli/main.js.
import { main } from '../dist/cli/bundle.js';

process.exitCode = await main(process.argv.slice(2));
