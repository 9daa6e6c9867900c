// Parse benchmark: a generated 10,000-line Dockerfile (every instruction kind, continuations,
// heredocs, JSON forms), parsed and typed repeatedly. Target: well under 100 ms per parse.
// Run: npm run build && node bench/parse.js
import { performance } from 'node:perf_hooks';
import { parseDockerfile, toStages, ShellLex } from '../packages/core/dist/index.js';

function generate(lines) {
  const out = ['# syntax=docker/dockerfile:1', 'ARG BASE=debian:12'];
  let stage = 0;
  while (out.length < lines) {
    out.push(`FROM \${BASE} AS stage${stage++}`);
    out.push('ENV A=1 B="two words" C=three\\ words');
    out.push('LABEL org.opencontainers.image.title="t" version=1.0');
    out.push('RUN apt-get update \\');
    out.push('    && apt-get install -y curl \\');
    out.push('    # a comment inside a continuation');
    out.push('    && rm -rf /var/lib/apt/lists/*');
    out.push('COPY --chown=app:app --chmod=0644 src/ /app/src/');
    out.push('COPY ["a b", "c", "/dest/"]');
    out.push('RUN <<EOF');
    out.push('echo "heredoc body $A"');
    out.push('EOF');
    out.push('WORKDIR /app');
    out.push('EXPOSE 80 443/udp');
    out.push('HEALTHCHECK --interval=30s CMD ["curl", "-f", "http://localhost/"]');
    out.push('CMD ["node", "server.js"]');
  }
  return out.slice(0, lines).join('\n') + '\n';
}

function median(values) {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

function time(fn, runs) {
  for (let i = 0; i < 3; i++) fn(); // warm up the JIT
  const samples = [];
  for (let i = 0; i < runs; i++) {
    const start = performance.now();
    fn();
    samples.push(performance.now() - start);
  }
  return { median: median(samples), min: Math.min(...samples), max: Math.max(...samples) };
}

const text = generate(10_000);
const bytes = Buffer.from(text);
const parse = time(() => parseDockerfile(bytes), 20);
const typed = time(() => toStages(parseDockerfile(bytes)), 20);
const lex = new ShellLex();
const env = new Map([['A', '1'], ['HOME', '/root']]);
const words = time(() => {
  for (let i = 0; i < 10_000; i++) lex.processWords('${A:-x} "$HOME/app" \'lit $A\' ${B:+y}', env);
}, 20);

const fmt = (r) => `median ${r.median.toFixed(1)} ms (min ${r.min.toFixed(1)}, max ${r.max.toFixed(1)})`;
console.log(`Dockerfile: ${text.split('\n').length - 1} lines, ${(bytes.length / 1024).toFixed(0)} KiB`);
console.log(`parse:                 ${fmt(parse)}`);
console.log(`parse + typed stages:  ${fmt(typed)}`);
console.log(`10,000 word expansions: ${fmt(words)}`);
console.log(parse.median < 100 ? 'OK: under the 100 ms target' : 'MISSED: the 100 ms target');
