// The elevated RUN helper: `sudo -n node run-helper.js STORE` (see step-runner.ts). It reads one
// request frame from stdin, runs the step as root (sandbox, then the layer written into the
// store), streams the command's output and warnings back as frames, and ends with the result.
// The end of stdin (or SIGINT/SIGTERM, which sudo passes on) aborts the step: the container is
// killed and every mount and directory removed, as for a root build interrupted by Ctrl-C.
// What it creates at the top of the store goes back to the store's owner, but for the unpacked
// layers and the sandboxes, which hold files of any owner.

import { readdir } from 'node:fs/promises';
import { KilnError } from '../errors.js';
import { openStore } from '../store/store.js';
import { FRAME, frame, readFrames } from './helper-protocol.js';
import { parseRequest, returnStoreEntries, runStepHere } from './step-runner.js';

async function main(): Promise<void> {
  const root = process.argv[2];
  const send = (type: (typeof FRAME)[keyof typeof FRAME], payload: Buffer | string) => process.stdout.write(frame(type, payload));
  const abort = new AbortController();
  for (const signal of ['SIGINT', 'SIGTERM'] as const) process.on(signal, () => abort.abort());
  try {
    if (!root) throw new KilnError('the RUN helper needs the store directory');
    const frames = readFrames(process.stdin);
    const first = await frames.next();
    if (first.done || first.value.type !== FRAME.request) throw new KilnError('the RUN helper got no request');
    const request = parseRequest(first.value.payload.toString('utf8'));
    // The caller's settings (sudo passed none of its environment).
    if (request.settings?.runc) process.env.KILN_RUNC = request.settings.runc;
    if (request.settings?.copyRootfs) process.env.KILN_RUN_COPY_ROOTFS = '1';
    // Whatever comes after the request is nothing; its end is the abort.
    void (async () => {
      try {
        for await (const _ of frames) void _;
      } finally {
        abort.abort();
      }
    })();
    const store = await openStore(root);
    const before = new Set(await readdir(store.root));
    const result = await runStepHere(store, request, {
      // An attached request (kiln run -i/-t) brings the caller's stdin, stdout and stderr as 3, 4, 5.
      attachFds: [3, 4, 5],
      onOutput: (stream, chunk) => send(stream === 'stdout' ? FRAME.stdout : FRAME.stderr, chunk),
      onWarning: (message) => send(FRAME.warning, message),
      signal: abort.signal,
    });
    await returnStoreEntries(store.root, before, result.layer ? store.blobPath(result.layer.digest) : undefined);
    send(FRAME.result, JSON.stringify(result));
  } catch (err) {
    send(FRAME.error, JSON.stringify({ message: (err as Error).message ?? String(err), user: err instanceof KilnError }));
  }
  // stdin stays open until the caller has read the result: leave now.
  process.stdout.write('', () => process.exit(0));
}

await main();
