// How FROM, COPY --from and --target name stages, as BuildKit's dockerfile2llb resolves them
// (dispatchStates.addState / findStateByName, and the "needs to be defined before" check):
// stage names are lower-cased; FROM sees only the stages above it, by exact name; COPY --from and
// --target see every stage, in any case, the last of a name winning.
import { parseDockerfile } from '../../src/dockerfile/parser.js';
import { toStages, type DockerfilePlan, type Stage } from '../../src/dockerfile/instructions.js';
import { checkCycles, findTarget, lookupStage } from '../../src/engine/stage-graph.js';

const plan = (text: string) => toStages(parseDockerfile(text, { file: 'Dockerfile' }));
const at = (p: DockerfilePlan, i: number) => p.stages[i]!;
const resolved = (ref: ReturnType<typeof lookupStage>) => (ref.kind === 'stage' ? ref.stage.index : `image ${ref.name}`);

/** The dependencies the builder gives checkCycles: FROM's (on the FROM line), then COPY --from's. */
function depsOf(p: DockerfilePlan, passCurrent: boolean) {
  return (stage: Stage) => {
    const deps: { stage: Stage; line: number }[] = [];
    const from = lookupStage(p, stage.from.image, false, passCurrent ? stage : undefined);
    if (from.kind === 'stage') deps.push({ stage: from.stage, line: stage.from.line });
    for (const i of stage.instructions) {
      if (i.kind === 'COPY' && i.from !== undefined) {
        const ref = lookupStage(p, i.from, true);
        if (ref.kind === 'stage') deps.push({ stage: ref.stage, line: i.line });
      }
    }
    return deps;
  };
}

/** checkCycles on the plan of `text` for target stage `target`: the stages built, or the error. */
function check(text: string, target: number, passCurrent = true): number[] | string {
  const p = plan(text);
  try {
    return checkCycles(p, at(p, target), depsOf(p, passCurrent)).map((s) => s.index);
  } catch (err) {
    return (err as Error).message;
  }
}

const dup = 'FROM alpine AS x\nFROM busybox AS x\nFROM x AS y\nFROM debian AS x\nFROM x AS z\nCOPY --from=X /a /a\n';

describe('stage lookup with duplicate names (BuildKit warns, and builds)', () => {
  it('FROM takes the latest stage of the name above it', () => {
    const p = plan(dup);
    expect(resolved(lookupStage(p, 'x', false, at(p, 2)))).toBe(1);
    expect(resolved(lookupStage(p, 'x', false, at(p, 4)))).toBe(3);
    expect(resolved(lookupStage(p, 'x', false, at(p, 0)))).toBe('image x');
  });

  it('COPY --from takes the last stage of the name, in any case; an index is a stage', () => {
    const p = plan(dup);
    expect(resolved(lookupStage(p, 'x', true))).toBe(3);
    expect(resolved(lookupStage(p, 'X', true))).toBe(3);
    expect(resolved(lookupStage(p, '1', true))).toBe(1);
    expect(resolved(lookupStage(p, 'alpine', true))).toBe('image alpine');
    expect(() => lookupStage(p, '9', true)).toThrow('--from=9: there is no stage 9 (the Dockerfile has 5 stages, numbered from 0)');
  });

  it('--target takes the last stage of the name, in any case', () => {
    const p = plan(dup);
    expect(findTarget(p, 'x').index).toBe(3);
    expect(findTarget(p, 'Y').index).toBe(2);
    expect(findTarget(p, undefined).index).toBe(4);
    expect(() => findTarget(p, 'w')).toThrow('target stage "w" could not be found in Dockerfile; the named stages are: x, y, z');
  });

  it('checks pass when the builder resolves FROM as BuildKit does', () => {
    expect(check(dup, 4)).toEqual([3, 4]);
  });
});

describe('FROM sees only the stages above it, by exact name', () => {
  it('a stage further down is not a FROM target: the name is an image', () => {
    const p = plan('FROM x AS y\nFROM alpine AS x\n');
    expect(resolved(lookupStage(p, 'x', false, at(p, 0)))).toBe('image x');
  });

  it('FROM X is the image X, not stage x (names are lower-cased, FROM compares exactly)', () => {
    const p = plan('FROM alpine AS x\nFROM X\n');
    expect(resolved(lookupStage(p, 'X', false, at(p, 1)))).toBe('image X');
    expect(resolved(lookupStage(p, 'x', false, at(p, 1)))).toBe(0);
  });

  it('a builder that cannot say which stage asks (no current) gets the first stage, and the checks refuse a pick BuildKit would not make', () => {
    expect(check('FROM alpine AS x\nFROM busybox AS x\nFROM x\n', 2, false)).toMatch(
      /^Dockerfile:3: FROM x: several stages are named "x"; docker build takes the one at line 2, the latest above this line/,
    );
    expect(check('FROM x AS y\nFROM alpine AS x\n', 0, false)).toBe(
      'Dockerfile:1: FROM x: the stage "x" is defined below this line; docker build reads FROM x here as the image x, not the stage',
    );
    expect(check('FROM alpine AS x\nFROM x AS x2\n', 1, false)).toEqual([0, 1]);
    expect(check('FROM alpine AS x\nFROM busybox AS x\nFROM x\n', 2)).toEqual([1, 2]);
  });
});

describe('COPY --from a stage that is not above the copying one fails, as in BuildKit', () => {
  it('names the stages and the line', () => {
    expect(check('FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\n', 0)).toMatch(
      /^Dockerfile:2: cannot copy from stage "b", it needs to be defined before current stage "a"/,
    );
    expect(check('FROM scratch\nCOPY --from=1 /x /x\nFROM scratch\n', 0)).toMatch(
      /^Dockerfile:2: cannot copy from stage "stage-1", it needs to be defined before current stage "stage-0"/,
    );
  });

  it('a cycle is reported as a cycle first', () => {
    expect(check('FROM scratch AS a\nCOPY --from=b /x /x\nFROM scratch AS b\nCOPY --from=a /y /y\n', 1)).toMatch(/^Dockerfile:\d: circular dependency detected on stage/);
  });

  it('duplicates: the last stage of the name is the one that must be above', () => {
    expect(check('FROM scratch AS x\nFROM scratch AS y\nCOPY --from=x /a /a\nFROM scratch AS x\n', 1)).toMatch(
      /^Dockerfile:3: cannot copy from stage "x", it needs to be defined before current stage "y"/,
    );
  });
});
