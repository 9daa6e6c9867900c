// writeLayer throughput (opt-in: KILN_BENCH=1). 2000 small files totalling 20 MB plus one 100 MB
// file, half text-like (compressible), half pseudo-random; gzip level 6 and 1, and no compression.
import { createWriteStream } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { finished } from 'node:stream/promises';
import { writeLayer } from '../../src/layer/index.js';
import type { LayerEntry } from '../../src/layer/index.js';
import { describeNeeding, optIn } from '../helpers/requirements.js';
import { TempStore, pseudoRandom, removeDir, tempDir } from './helpers.js';

const bench = (name: string, body: () => void): void => describeNeeding([optIn('KILN_BENCH', 'layer throughput benchmark')], name, body);

/** 1 MiB of content that compresses roughly like source code / binaries mixed. */
function mixedChunk(seed: number): Buffer {
  const text = Buffer.from(
    Array.from({ length: 20000 }, (_, i) => `line ${(i * 7919 + seed) % 100000} const value = compute(${i % 97});\n`).join(''),
  ).subarray(0, 512 * 1024);
  return Buffer.concat([text, pseudoRandom(512 * 1024, seed + 1)]);
}

bench('writeLayer throughput', () => {
  let work: string;
  let store: Awaited<ReturnType<typeof TempStore.create>>;
  const entries: LayerEntry[] = [];
  let totalBytes = 0;

  beforeAll(async () => {
    work = await tempDir('kiln-bench-');
    store = await TempStore.create();
    const chunk = mixedChunk(1);
    await mkdir(join(work, 'small'));
    entries.push({ path: 'small', type: 'dir', mode: 0o755, uid: 0, gid: 0 });
    for (let i = 0; i < 2000; i++) {
      const size = 10 * 1024 + (i % 10) * 2; // ~20 MB in total
      const off = (i * 4099) % (chunk.length - size);
      const p = join(work, 'small', `f${i}.txt`);
      await writeFile(p, chunk.subarray(off, off + size));
      entries.push({ path: `small/f${i}.txt`, type: 'file', mode: 0o644, uid: 0, gid: 0, size, content: { path: p } });
      totalBytes += size;
    }
    const big = join(work, 'big.bin');
    const ws = createWriteStream(big);
    for (let i = 0; i < 100; i++) {
      if (!ws.write(mixedChunk(i))) await new Promise<void>((r) => ws.once('drain', () => r()));
    }
    ws.end();
    await finished(ws);
    entries.push({ path: 'big.bin', type: 'file', mode: 0o644, uid: 0, gid: 0, size: 100 * 1024 * 1024, content: { path: big } });
    totalBytes += 100 * 1024 * 1024;
  }, 120_000);

  afterAll(async () => {
    await removeDir(work);
    await removeDir(store.root);
  });

  it.each([
    ['gzip level 6', { compression: 'gzip' as const, gzipLevel: 6 }],
    ['gzip level 1', { compression: 'gzip' as const, gzipLevel: 1 }],
    ['no compression', { compression: 'none' as const }],
  ])('%s', async (name, opts) => {
    await writeLayer(entries.slice(0, 50), store, { epoch: 0, ...opts }); // warm up
    const cpu0 = process.cpuUsage();
    const t0 = process.hrtime.bigint();
    const layer = await writeLayer(entries, store, { epoch: 0, ...opts });
    const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
    const cpu = process.cpuUsage(cpu0);
    const cpuSeconds = (cpu.user + cpu.system) / 1e6;
    const mb = totalBytes / (1024 * 1024);
    console.log(
      `${name}: ${mb.toFixed(0)} MiB in ${seconds.toFixed(2)} s = ${(mb / seconds).toFixed(1)} MiB/s wall, ` +
        `${(mb / cpuSeconds).toFixed(1)} MiB per CPU-second (blob ${(layer.size / 1024 / 1024).toFixed(1)} MiB, ${layer.entries} entries)`,
    );
  }, 300_000);
});
