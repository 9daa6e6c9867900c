import { createRequire as __kilnCreateRequire } from 'node:module';
const require = __kilnCreateRequire(import.meta.url);
import {
  FRAME,
  KilnError,
  frame,
  openStore,
  parseRequest,
  readFrames,
  returnStoreEntries,
  runStepHere
} from "./chunks/chunk-TNKPLGS4.js";

// packages/core/dist/run/run-helper.js
import { readdir } from "node:fs/promises";
async function main() {
  const root = process.argv[2];
  const send = (type, payload) => process.stdout.write(frame(type, payload));
  const abort = new AbortController();
  for (const signal of ["SIGINT", "SIGTERM"])
    process.on(signal, () => abort.abort());
  try {
    if (!root)
      throw new KilnError("the RUN helper needs the store directory");
    const frames = readFrames(process.stdin);
    const first = await frames.next();
    if (first.done || first.value.type !== FRAME.request)
      throw new KilnError("the RUN helper got no request");
    const request = parseRequest(first.value.payload.toString("utf8"));
    if (request.settings?.runc)
      process.env.KILN_RUNC = request.settings.runc;
    if (request.settings?.copyRootfs)
      process.env.KILN_RUN_COPY_ROOTFS = "1";
    void (async () => {
      try {
        for await (const _ of frames)
          void _;
      } finally {
        abort.abort();
      }
    })();
    const store = await openStore(root);
    const before = new Set(await readdir(store.root));
    const result = await runStepHere(store, request, {
      // An attached request (kiln run -i/-t) brings the caller's stdin, stdout and stderr as 3, 4, 5.
      attachFds: [3, 4, 5],
      onOutput: (stream, chunk) => send(stream === "stdout" ? FRAME.stdout : FRAME.stderr, chunk),
      onWarning: (message) => send(FRAME.warning, message),
      signal: abort.signal
    });
    await returnStoreEntries(store.root, before, result.layer ? store.blobPath(result.layer.digest) : void 0);
    send(FRAME.result, JSON.stringify(result));
  } catch (err) {
    send(FRAME.error, JSON.stringify({ message: err.message ?? String(err), user: err instanceof KilnError }));
  }
  process.stdout.write("", () => process.exit(0));
}
await main();
