// The rule every test with an outside requirement follows (helpers/requirements.ts): run when it is
// there, fail when it is missing, skip only when asked (never for a missing tool with CI=true).
import { capability, decide, flag, optIn, skippingMissingAllowed, type Requirement } from './requirements.js';

const present: Requirement = { id: 'here', what: 'here', unavailable: () => undefined, remedy: 'nothing' };
const absent: Requirement = { id: 'umoci', what: 'umoci', unavailable: () => 'not on PATH', remedy: 'run scripts/install-test-deps.sh as root (Debian package umoci)' };
const optedOut: Requirement = { ...present, id: 'docker', chosenSkip: () => 'KILN_SKIP_DOCKER_TESTS is set' };

describe('decide', () => {
  it('runs when everything is there', () => {
    expect(decide([present], {})).toEqual({ kind: 'run' });
  });

  it('fails a missing tool by default, saying what is missing and how to get it or skip it', () => {
    const v = decide([present, absent], {});
    expect(v.kind).toBe('fail');
    const message = (v as { message: string }).message;
    expect(message).toContain('missing umoci (not on PATH)');
    expect(message).toContain('scripts/install-test-deps.sh');
    expect(message).toContain('KILN_SKIP_MISSING_TOOLS=1');
  });

  it('skips a missing tool only with KILN_SKIP_MISSING_TOOLS, and never with CI=true', () => {
    expect(decide([absent], { KILN_SKIP_MISSING_TOOLS: '1' })).toEqual({
      kind: 'skip',
      reason: 'missing umoci (not on PATH); KILN_SKIP_MISSING_TOOLS=1',
    });
    expect(decide([absent], { KILN_SKIP_MISSING_TOOLS: '0' }).kind).toBe('fail');
    const ci = decide([absent], { KILN_SKIP_MISSING_TOOLS: '1', CI: 'true' });
    expect(ci.kind).toBe('fail');
    expect((ci as { message: string }).message).toContain('With CI=true a missing tool fails the run');
  });

  it('honours an explicit opt-out or a missing opt-in, also with CI=true', () => {
    expect(decide([optedOut, absent], { CI: 'true' })).toEqual({ kind: 'skip', reason: 'KILN_SKIP_DOCKER_TESTS is set' });
    const saved = process.env.KILN_TEST_SOME_OPT_IN;
    delete process.env.KILN_TEST_SOME_OPT_IN;
    try {
      expect(decide([optIn('KILN_TEST_SOME_OPT_IN', 'a check')], { CI: 'true' })).toEqual({
        kind: 'skip',
        reason: 'a check: opt-in, set KILN_TEST_SOME_OPT_IN=1 to run',
      });
      process.env.KILN_TEST_SOME_OPT_IN = '1';
      expect(decide([optIn('KILN_TEST_SOME_OPT_IN', 'a check')], {})).toEqual({ kind: 'run' });
    } finally {
      if (saved === undefined) delete process.env.KILN_TEST_SOME_OPT_IN;
      else process.env.KILN_TEST_SOME_OPT_IN = saved;
    }
  });

  it('KILN_TEST_PRETEND_MISSING makes a requirement look missing, by id or by the part before ":"', () => {
    const suite: Requirement = { ...present, id: 'conformance:buildkit-shell', what: "conformance data 'buildkit-shell'" };
    expect(decide([present], { KILN_TEST_PRETEND_MISSING: 'here' }).kind).toBe('fail');
    expect(decide([suite], { KILN_TEST_PRETEND_MISSING: 'umoci, conformance' }).kind).toBe('fail');
    expect(decide([suite], { KILN_TEST_PRETEND_MISSING: 'conformance:dockerignore' }).kind).toBe('run');
  });

  it('lists every missing requirement once, with each remedy once', () => {
    const other: Requirement = { ...absent, id: 'skopeo', what: 'skopeo' };
    const v = decide([absent, other], {}) as { message: string };
    expect(v.message).toMatch(/^missing umoci \(not on PATH\), skopeo \(not on PATH\)\. Get it: run scripts\/install-test-deps\.sh as root \(Debian package umoci\)\. /);
  });
});

describe('flags and capabilities', () => {
  it('reads a flag as set unless empty, 0, false or no', () => {
    expect([undefined, '', '0', 'false', 'No', ' '].map(flag)).toEqual([false, false, false, false, false, false]);
    expect(['1', 'true', 'yes'].map(flag)).toEqual([true, true, true]);
    expect(skippingMissingAllowed({ KILN_SKIP_MISSING_TOOLS: 'yes', CI: 'false' })).toBe(true);
  });

  it('checks a capability once', () => {
    let calls = 0;
    const c = capability('x', 'x', () => (calls++, 'no'), 'get x');
    expect(decide([c], {}).kind).toBe('fail');
    expect(decide([c], {}).kind).toBe('fail');
    expect(calls).toBe(1);
  });
});
