#!/usr/bin/env node
// The CLI as one bundled module (scripts/bundle-cli.mjs), which starts faster than dist/cli/main.js.
import { main } from '../dist/cli/bundle.js';

process.exitCode = await main(process.argv.slice(2));
