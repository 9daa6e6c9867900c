// Once per jest run, before any test file: a directory for what the test files share during the
// run, named by KILN_TEST_RUN_DIR (the workers inherit it): skipped.jsonl, the list of tests
// skipped for a missing tool or by an explicit opt-out/opt-in (helpers/requirements.ts writes it,
// jest.global-teardown.js prints it), and dockerd.json, the dockerd shared by the run's docker
// tests (helpers/dockerd.ts starts it on first use, jest.global-teardown.js stops it).
import { mkdtempSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export default function globalSetup() {
  process.env.KILN_TEST_RUN_DIR = mkdtempSync(join(tmpdir(), 'kiln-jest-run-'));
}
