// COPY and ADD: pick the source tree (context, stage, image, URL, heredoc), plan the entries with
// Docker's rules (copy-plan.ts), and write them as one layer.

import { posix } from 'node:path';
import { KilnError } from '../../errors.js';
import type { Instruction } from '../../dockerfile/instructions.js';
import { downloadSource } from '../download.js';
import { EMPTY_TREE, parseChmod, planCopy, sourceFingerprint, type FetchedSource, type SourceTree } from '../copy-plan.js';
import { RootfsView, resolveOwner } from '../rootfs.js';
import type { StepOutcome } from '../stage-state.js';
import type { StepInput } from './step.js';

export async function copyStep(input: StepInput<Extract<Instruction, { kind: 'COPY' | 'ADD' }>>): Promise<StepOutcome> {
  const { instruction: ins, state, config, build } = input;
  const x = input.expand;
  const c = (config.config ??= {});
  const sources = ins.sources.map(x);
  let dest = x(ins.dest);
  if (!dest.startsWith('/')) dest = posix.join(c.WorkingDir || '/', dest) + (dest.endsWith('/') || dest === '.' ? '/' : '');
  const chmod = ins.chmod ? parseChmod(x(ins.chmod)) : undefined;
  const inline = ins.inlineSources.map((s) => ({ name: s.name, data: s.expand ? build.expander.raw(s.data, input.stage.vars) : s.data }));

  // The source tree: the build context, or another stage's or image's filesystem, which is
  // unpacked only when the step runs (its content is known by that stage's key or image digest).
  const fromName = ins.kind === 'COPY' && ins.from !== undefined ? x(ins.from) : undefined;
  const fromDesc = fromName === undefined ? '' : ` --from=${fromName}`;
  const sourceTree = (): Promise<SourceTree> => (fromName === undefined ? build.context() : build.treeFrom(fromName));

  const fetched: FetchedSource[] = [];
  const pathSources: string[] = [];
  const checksum = ins.kind === 'ADD' && ins.checksum ? x(ins.checksum) : undefined;
  // BuildKit: one source only, and a URL (or git) one.
  if (checksum !== undefined && sources.length !== 1) throw new KilnError("checksum can't be specified for multiple sources");
  for (const source of sources) {
    if (ins.kind === 'ADD' && /^https?:\/\//i.test(source)) {
      fetched.push(await downloadSource(build.store, source, checksum));
    } else if (ins.kind === 'ADD' && /^(git@|git:\/\/)|\.git(#.*)?$/.test(source)) {
      throw new KilnError(`ADD of a git repository ("${source}") is not supported by Kiln yet; clone it into the build context and COPY it`);
    } else {
      if (checksum !== undefined) throw new KilnError('ADD --checksum can only be used with an http(s) URL source (checksum requires HTTP(S) or Git sources)');
      pathSources.push(source);
    }
  }

  const produce = async () => {
    const plan = await planCopy({
      instruction: ins.kind,
      sources: pathSources,
      inline,
      fetched,
      dest,
      // Heredoc-only COPY and URL-only ADD read nothing from the context.
      tree: pathSources.length === 0 && fromName === undefined ? EMPTY_TREE : await sourceTree(),
      // --link copies onto an empty directory that is then laid over the image (BuildKit's
      // merge): nothing of the image decides where the files land, so the base's bytes are
      // not needed (a registry base stays a reference).
      view: ins.link ? new RootfsView(build.store, []) : state.view,
      owner: ins.chown ? await resolveOwner(state.view, x(ins.chown)) : undefined,
      chmod,
      // --exclude patterns are taken as written: BuildKit expands no variables in them.
      exclude: ins.exclude,
      parents: ins.parents,
      unpack: ins.kind === 'ADD' && ins.unpack !== false ? (entry) => build.unpack(entry) : undefined,
      unpackFetched: ins.unpack === true,
    });
    return { entries: plan.entries };
  };
  const keyParts = [
    ...(pathSources.length === 0
      ? []
      : fromName === undefined
        ? await sourceFingerprint(await sourceTree(), pathSources, ins.kind, ins.parents)
        : [`from\0${await build.sourceKey(fromName)}`, ...pathSources]),
    ...(await Promise.all(fetched.map(async (f) => `url\0${f.name}\0${await f.tree.digest(f.entry)}`))),
    ...inline.map((s) => `inline\0${s.name}\0${s.data}`),
    // --link layers are planned onto an empty directory: cache entries from when they were
    // planned onto the image (other ancestors) must not match.
    ...(ins.link ? ['link\0onto-empty'] : []),
  ];
  const flags = [
    ins.parents && '--parents',
    ins.chown && `--chown=${x(ins.chown)}`,
    chmod && `--chmod=${chmod.text}`,
    ins.link && '--link',
    ins.kind === 'ADD' && ins.unpack !== undefined && `--unpack=${ins.unpack}`,
    ...ins.exclude.map((p) => `--exclude=${p}`),
  ].filter(Boolean).join(' ');
  const named = [...sources, ...inline.map((s) => `<<${s.name}`)].join(' ');
  const createdBy = `${ins.kind}${fromDesc}${flags ? ` ${flags}` : ''} ${named} ${dest} # kiln`;
  return build.layerStep(state, config, createdBy, keyParts, produce);
}
