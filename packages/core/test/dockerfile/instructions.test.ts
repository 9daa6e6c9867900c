import { parseDockerfile } from '../../src/dockerfile/parser.js';
import { toStages, type Instruction } from '../../src/dockerfile/instructions.js';
import { DockerfileError } from '../../src/dockerfile/errors.js';

const plan = (text: string) => toStages(parseDockerfile(text, { file: 'app/Dockerfile' }));
const only = (text: string): Instruction => plan(`FROM scratch\n${text}\n`).stages[0]!.instructions[0]!;
const failure = (text: string): string => {
  try {
    plan(text);
  } catch (err) {
    expect(err).toBeInstanceOf(DockerfileError);
    return (err as Error).message;
  }
  throw new Error(`expected ${JSON.stringify(text)} to fail`);
};

describe('typed instructions', () => {
  it('groups stages, keeps meta ARGs and lower-cases stage names', () => {
    const p = plan('ARG V=1\nFROM --platform=linux/amd64 alpine:${V} AS Build\nRUN make\nFROM scratch\nCOPY --from=build /out /\n');
    expect(p.metaArgs.map((a) => a.args)).toEqual([[{ key: 'V', value: '1' }]]);
    expect(p.stages.map((s) => [s.index, s.name, s.from.image, s.from.platform])).toEqual([
      [0, 'build', 'alpine:${V}', 'linux/amd64'],
      [1, undefined, 'scratch', undefined],
    ]);
    expect(p.stages[1]!.instructions[0]).toMatchObject({ kind: 'COPY', from: 'build', sources: ['/out'], dest: '/', line: 5 });
  });

  it('ENV and LABEL in both forms', () => {
    expect(only('ENV A=1 B="two words"')).toMatchObject({ env: [{ key: 'A', value: '1' }, { key: 'B', value: '"two words"' }] });
    expect(only('ENV PATH /usr/bin:/bin')).toMatchObject({ env: [{ key: 'PATH', value: '/usr/bin:/bin' }] });
    expect(only('LABEL a=b c=d')).toMatchObject({ kind: 'LABEL', labels: [{ key: 'a', value: 'b' }, { key: 'c', value: 'd' }] });
  });

  it('ARG with and without default', () => {
    expect(only('ARG A B=2 C=')).toMatchObject({ args: [{ key: 'A' }, { key: 'B', value: '2' }, { key: 'C', value: '' }] });
  });

  it('shell form and exec form', () => {
    expect(only('CMD echo  hi')).toMatchObject({ kind: 'CMD', command: ['echo  hi'], prependShell: true });
    expect(only('ENTRYPOINT ["/bin/app", "-x"]')).toMatchObject({ command: ['/bin/app', '-x'], prependShell: false });
    expect(only('CMD []')).toMatchObject({ command: [], prependShell: false });
    expect(only('SHELL ["/bin/bash", "-c"]')).toMatchObject({ shell: ['/bin/bash', '-c'] });
    expect(only('RUN --mount=type=cache,target=/c --network=none make')).toMatchObject({
      kind: 'RUN', command: ['make'], mounts: ['type=cache,target=/c'], network: 'none',
    });
  });

  it('COPY and ADD flags and heredoc sources', () => {
    expect(only('COPY --chown=app:app --chmod=755 --link a b* /dst/')).toMatchObject({
      kind: 'COPY', sources: ['a', 'b*'], dest: '/dst/', chown: 'app:app', chmod: '755', link: true,
    });
    expect(only('ADD --checksum=sha256:abc https://x/y.tgz /y')).toMatchObject({ kind: 'ADD', checksum: 'sha256:abc' });
    expect(only('COPY ["a b", "/c d/"]')).toMatchObject({ sources: ['a b'], dest: '/c d/' });
    const copy = only('COPY <<-A <<"B" f /d\n\tone\nA\ntwo $X\nB');
    expect(copy).toMatchObject({
      sources: ['f'],
      inlineSources: [
        { name: 'A', data: 'one\n', expand: true },
        { name: 'B', data: 'two $X\n', expand: false },
      ],
    });
  });

  it('RUN heredoc files', () => {
    expect(only('RUN <<EOF\necho hi\nEOF')).toMatchObject({ files: [{ name: 'EOF', data: 'echo hi\n', chomp: false }] });
  });

  it('HEALTHCHECK with durations in nanoseconds', () => {
    expect(only('HEALTHCHECK --interval=1m30s --timeout=500ms --retries=3 CMD curl -f localhost')).toMatchObject({
      health: { test: ['CMD-SHELL', 'curl -f localhost'], interval: 90e9, timeout: 500e6, retries: 3 },
    });
    expect(only('HEALTHCHECK CMD ["check"]')).toMatchObject({ health: { test: ['CMD', 'check'] } });
    expect(only('HEALTHCHECK NONE')).toMatchObject({ health: { test: ['NONE'] } });
  });

  it('ONBUILD keeps the trigger expression and types it', () => {
    const onbuild = only('ONBUILD   COPY . /app');
    expect(onbuild).toMatchObject({ kind: 'ONBUILD', expression: 'COPY . /app', trigger: { kind: 'COPY', dest: '/app' } });
  });

  it('case-insensitive keywords', () => {
    expect(plan('from scratch\nworkdir /x\n').stages[0]!.instructions[0]).toMatchObject({ kind: 'WORKDIR', path: '/x' });
  });

  it('other instructions', () => {
    expect(only('EXPOSE 80 443/udp')).toMatchObject({ ports: ['80', '443/udp'] });
    expect(only('VOLUME ["/a", "/b"]')).toMatchObject({ volumes: ['/a', '/b'] });
    expect(only('USER app:app')).toMatchObject({ user: 'app:app' });
    expect(only('STOPSIGNAL SIGKILL')).toMatchObject({ signal: 'SIGKILL' });
    expect(only('MAINTAINER me <me@x>')).toMatchObject({ maintainer: 'me <me@x>' });
  });
});

describe("instruction errors are BuildKit's, with file:line and the instruction", () => {
  it.each([
    ['FROM scratch\nFOO bar', /^app\/Dockerfile:2: unknown instruction: FOO \(in: FOO bar\)$/],
    ['FROM scratch\nCOPPY a b', /unknown instruction: COPPY \(did you mean copy\?\)/],
    ['FROM scratch\nENV PATH', /^app\/Dockerfile:2: ENV must have two arguments/],
    ['FROM scratch\nLABEL onlykey', /^app\/Dockerfile:2: LABEL must have two arguments/],
    ['FROM scratch\nENV a=1 b', /can't find = in "b"/],
    ['COPY a b', /^app\/Dockerfile:1: no build stage in current context/],
    ['ARG X', /has no FROM instruction/],
    ['FROM scratch\nCOPY --fro=x a b', /^app\/Dockerfile:2: unknown flag: --fro \(did you mean --from\?\)/],
    ['FROM scratch\nWORKDIR --x=1 /a', /unknown flag: --x \(WORKDIR takes no flags\)/],
    ['FROM scratch\nCOPY --from a b', /missing a value on flag: --from/],
    ['FROM scratch\nCOPY --link=maybe a b', /expecting boolean value for flag --link, not: maybe/],
    ['FROM scratch\nCOPY --from=a --from=b a b', /duplicate flag specified: --from/],
    ['FROM scratch\nONBUILD FROM x', /FROM isn't allowed as an ONBUILD trigger/],
    ['FROM scratch\nONBUILD ONBUILD RUN x', /Chaining ONBUILD/],
    ['FROM scratch\nONBUILD', /ONBUILD requires at least one argument/],
    ['FROM scratch\nCOPY onlyone', /COPY requires at least two arguments/],
    ['FROM scratch\nCOPY a <<EOF\nx\nEOF', /COPY cannot accept a heredoc as a destination/],
    ['FROM scratch\nSHELL /bin/bash -c', /SHELL requires the arguments to be in JSON form/],
    ["FROM scratch\nSHELL ['/bin/bash', '-c']", /SHELL requires the arguments to be in JSON form with double quotes/],
    ['FROM scratch\nSHELL', /SHELL requires at least one argument/],
    ['FROM scratch\nHEALTHCHECK CONNECT x', /Unknown type "CONNECT" in HEALTHCHECK \(try CMD\)/],
    ['FROM scratch\nHEALTHCHECK NONE x', /HEALTHCHECK NONE takes no arguments/],
    ['FROM scratch\nHEALTHCHECK --interval=1x CMD a', /unknown unit "x"/],
    ['FROM scratch\nHEALTHCHECK --interval=10us CMD a', /cannot be less than 1ms/],
    ['FROM scratch\nHEALTHCHECK --retries=-1 CMD a', /--retries cannot be negative/],
    ['FROM scratch\nHEALTHCHECK --retries=2147483648 CMD a', /invalid --retries value "2147483648": value out of range/],
    ['FROM scratch\nENV =x', /ENV names can not be blank/],
    ['FROM scratch\nLABEL =x', /LABEL names can not be blank/],
    ['FROM scratch\nADD --parents a /b/', /unknown flag: --parents/],
    ['FROM scratch\nRUN --network=bridge make', /invalid network mode "bridge"/],
    ['FROM scratch\nRUN --network= make', /invalid network mode ""/],
    ['FROM scratch\nRUN --security=root make', /security "root" is not valid/],
    ['FROM scratch\nSTOPSIGNAL', /STOPSIGNAL requires exactly one argument/],
    ['# check=skip\nFROM scratch', /^app\/Dockerfile:1: failed to parse check options: invalid check option "skip"/],
    ['# check=error=maybe\nFROM scratch', /failed to parse check options/],
    ['# check=warn=all\nFROM scratch', /invalid check option "warn"/],
    ['FROM scratch\nWORKDIR', /WORKDIR requires exactly one argument/],
    ['FROM scratch\nEXPOSE', /EXPOSE requires at least one argument/],
    ['FROM scratch\nVOLUME [""]', /VOLUME specified can not be an empty string/],
    ['FROM scratch\nARG =x', /ARG names can not be blank/],
    ['FROM a b', /FROM requires either one or three arguments/],
    ['FROM a AS 1x', /invalid name for build stage: "1x"/],
    ['FROM scratch\nCMD ["a", 1]', /^app\/Dockerfile:2: when using JSON array syntax, arrays must be comprised of strings only/],
  ])('%j', (text, message) => {
    expect(failure(text)).toMatch(message);
  });

  it('RUN [ "$X" = y ] stays a shell test, not an exec-form error', () => {
    expect(only('RUN [ "$X" = y ]')).toMatchObject({ command: ['[ "$X" = y ]'], prependShell: true });
  });
});

describe('what docker builds, Kiln builds (with a warning where it is likely a mistake)', () => {
  const warned = (text: string) => plan(text).warnings.map((w) => `${w.file}:${w.line}: ${w.message}`);

  it("CMD ['echo','x'] is shell form, as docker's Cmd [/bin/sh -c \"['echo','x']\"], and warns with file:line", () => {
    const p = plan("FROM scratch\nCMD ['echo','x']\n");
    expect(p.stages[0]!.instructions[0]).toMatchObject({ kind: 'CMD', command: ["['echo','x']"], prependShell: true });
    expect(p.warnings).toEqual([
      {
        file: 'app/Dockerfile',
        line: 2,
        message:
          "CMD ['echo','x'] is not a JSON array (JSON strings need double quotes), so it is shell form: the shell runs ['echo','x'] as a command, as in docker build; for exec form write CMD [\"echo\", \"x\"]",
      },
    ]);
  });

  it('ENTRYPOINT and HEALTHCHECK CMD the same way; the suggestion repairs what it can', () => {
    const p = plan('FROM scratch\nENTRYPOINT ["/app", "-v"\nHEALTHCHECK CMD [\'curl\', "-f", \'http://x/\']\nCMD ["a", "b",]\n');
    expect(p.stages[0]!.instructions.map((i) => (i.kind === 'HEALTHCHECK' ? i.health.test : 'command' in i && i.command))).toEqual([
      ['["/app", "-v"'],
      ['CMD-SHELL', '[\'curl\', "-f", \'http://x/\']'],
      ['["a", "b",]'],
    ]);
    const messages = p.warnings.map((w) => `${w.line} ${w.message}`);
    expect(messages[0]).toMatch(/^2 ENTRYPOINT .*\(the closing \] is missing\), so it is shell form.*write ENTRYPOINT \["\/app", "-v"\]$/);
    expect(messages[1]).toMatch(/^3 HEALTHCHECK CMD .*shell form \(CMD-SHELL\).*write HEALTHCHECK CMD \["curl", "-f", "http:\/\/x\/"\]$/);
    expect(messages[2]).toMatch(/^4 CMD .*no comma before the closing \].*write CMD \["a", "b"\]$/);
  });

  it('VOLUME and COPY with single quotes are words, as in docker build, with a warning', () => {
    const p = plan("FROM scratch\nVOLUME ['/data']\n");
    expect(p.stages[0]!.instructions[0]).toMatchObject({ volumes: ["['/data']"] });
    expect(warned("FROM scratch\nVOLUME ['/data']\n")[0]).toMatch(/^app\/Dockerfile:2: VOLUME .* read as whitespace-separated words .* write VOLUME \["\/data"\]$/);
    expect(plan("FROM scratch\nCOPY ['a', '/c/']\n").stages[0]!.instructions[0]).toMatchObject({ sources: ["['a',"], dest: "'/c/']" });
    expect(warned("FROM scratch\nCOPY ['a', '/c/']\n")[0]).toMatch(/^app\/Dockerfile:2: COPY .*\("\['a',\" "'\/c\/'\]"\).* write COPY \["a", "\/c\/"\]$/);
  });

  it('shell tests and valid JSON give no warning; RUN never does', () => {
    expect(warned('FROM scratch\nCMD [ -f /x ] && run\nCMD ["a", "b"]\nCMD [ "$A" = b ] || exit 1\nRUN [\'a\', \'b\']\n')).toEqual([]);
  });

  it('ARG, STOPSIGNAL and HEALTHCHECK NONE ignore flags as BuildKit does, with a warning', () => {
    const p = plan('FROM scratch\nARG --foo=1 A=2\nSTOPSIGNAL --x SIGTERM\nHEALTHCHECK --interval=5s NONE\n');
    expect(p.stages[0]!.instructions).toMatchObject([{ args: [{ key: 'A', value: '2' }] }, { signal: 'SIGTERM' }, { health: { test: ['NONE'] } }]);
    expect(p.warnings.map((w) => [w.line, w.message])).toEqual([
      [2, 'ARG takes no flags: --foo=1 has no effect (docker build ignores it too)'],
      [3, 'STOPSIGNAL takes no flags: --x has no effect (docker build ignores it too)'],
      [4, 'HEALTHCHECK NONE takes no flags: --interval=5s has no effect (docker build ignores it too)'],
    ]);
  });

  it('an ONBUILD trigger BuildKit would store is stored, with a warning when it is no valid instruction', () => {
    const p = plan('FROM scratch\nONBUILD FOO bar\nONBUILD COPY onlyone\nONBUILD CMD [\'a\']\n');
    expect(p.stages[0]!.instructions).toMatchObject([
      { kind: 'ONBUILD', expression: 'FOO bar', trigger: undefined },
      { kind: 'ONBUILD', expression: 'COPY onlyone', trigger: undefined },
      { kind: 'ONBUILD', expression: "CMD ['a']", trigger: { kind: 'CMD', command: ["['a']"] } },
    ]);
    expect(p.warnings.map((w) => w.line)).toEqual([2, 3, 4]);
    expect(p.warnings[0]!.message).toBe(
      'ONBUILD FOO bar: unknown instruction: FOO; the trigger is stored as docker build stores it, and every build FROM this image will fail on it',
    );
    expect(p.warnings[1]!.message).toMatch(/^ONBUILD COPY onlyone: COPY requires at least two arguments/);
  });

  it('empty flag values read as unset, as BuildKit defaults them', () => {
    expect(only('COPY --from= --chown= --chmod= a /b')).toMatchObject({ from: undefined, chown: undefined, chmod: undefined });
    expect(only('HEALTHCHECK --retries= --interval= CMD a')).toMatchObject({ health: { retries: 0, interval: 0 } });
    expect(only('HEALTHCHECK --retries=+5 CMD a')).toMatchObject({ health: { retries: 5 } });
    expect(plan('FROM --platform= scratch\n').stages[0]!.from.platform).toBeUndefined();
  });

  it('flags follow the escape directive, as in BuildKit', () => {
    expect(plan('# escape=`\nFROM scratch\nCOPY --chown=DOMAIN\\user a /b\n').stages[0]!.instructions[0]).toMatchObject({ chown: 'DOMAIN\\user' });
    expect(plan('# escape=`\nFROM scratch\nCOPY --chown=a`b a /b\n').stages[0]!.instructions[0]).toMatchObject({ chown: 'ab' });
  });

  it("the parser's empty continuation lines are NoEmptyContinuation warnings; # check= skips them or makes them errors", () => {
    const text = 'FROM scratch\nCOPY a \\\n\n b /c\n';
    expect(plan(text).warnings).toEqual([
      { file: 'app/Dockerfile', line: 4, message: 'Empty continuation line found in: COPY a  b /c', rule: 'NoEmptyContinuation' },
    ]);
    expect(plan(`# check=skip=NoEmptyContinuation\n${text}`).warnings).toEqual([]);
    expect(plan(`# check=skip=all\n${text}CMD ['x']\n`).warnings).toEqual([]);
    expect(plan(`# check=skip=Other\n${text}`).warnings).toHaveLength(1);
    expect(failure(`# check=error=true\n${text}`)).toMatch(/^app\/Dockerfile:5: lint violation found for rules: NoEmptyContinuation/);
    // error=true fails on BuildKit rules only; Kiln's own warnings stay warnings.
    expect(plan("# check=error=true\nFROM scratch\nCMD ['x']\n").warnings).toHaveLength(1);
  });

  it('a stage name used twice (in any case) is a DuplicateStageName warning, as in BuildKit; both stages are kept', () => {
    const p = plan('FROM a AS x\nFROM b AS X\nFROM c AS y\nFROM d AS x\n');
    expect(p.stages.map((s) => s.name)).toEqual(['x', 'x', 'y', 'x']);
    expect(p.warnings.map((w) => [w.line, w.rule])).toEqual([[2, 'DuplicateStageName'], [4, 'DuplicateStageName']]);
    expect(p.warnings[0]!.message).toMatch(/^Duplicate stage name "x", stage names should be unique \(also used at line 1\): FROM x below takes the latest stage/);
    expect(plan('# check=skip=DuplicateStageName\nFROM a AS x\nFROM b AS x\n').warnings).toEqual([]);
    expect(failure('# check=error=true\nFROM a AS x\nFROM b AS x\n')).toMatch(/lint violation found for rules: DuplicateStageName/);
  });
});
