// --chmod values as BuildKit's current dockerfile frontend reads them. The expected modes are
// test data from tonistiigi/fsutil's copy tests (TestCopyModeTextFormat) and from the BSD setmode
// port BuildKit uses (tonistiigi/dchapes-mode's TestApply, umask 0; its `-X` rows follow the
// 2025 version BuildKit vendors, where `-X` clears execute like `-x`).
import { parseChmod } from '../../src/engine/chmod.js';

const FILE = 0o644;
const EXEC_FILE = 0o755;
const DIR = 0o750;
const RESTRICTED_DIR = 0o700;

describe('--chmod: octal', () => {
  it.each([
    ['755', 0o755],
    ['0644', 0o644],
    ['7', 0o7],
    ['00644', 0o644],
    ['4755', 0o4755],
    ['07777', 0o7777],
    ['0', 0],
  ])('%s gives %o, whatever the mode was, setuid/setgid/sticky included', (text, mode) => {
    const chmod = parseChmod(text);
    expect(chmod.octal).toBe(mode);
    expect(chmod.apply(0o600, false)).toBe(mode);
    expect(chmod.apply(0o700, true)).toBe(mode);
  });

  it.each(['10000', '017777', '8', '9', '0x1ff', '7a', '1e3', '99999999999999999999'])('%s is refused as BuildKit: not octal up to 07777', (text) => {
    expect(() => parseChmod(text)).toThrow(`invalid chmod parameter "${text}": it should be an octal number between 0 and 07777`);
  });
});

describe('--chmod: symbolic modes (dockerfile 1.14+), applied to each entry', () => {
  // fsutil's table: file 0644, executable file 0755, dir 0750, restricted dir 0700.
  it.each([
    ['go-w', 0o644, 0o755, 0o750, 0o700],
    ['u+x', 0o744, 0o755, 0o750, 0o700],
    ['g-rwx', 0o604, 0o705, 0o700, 0o700],
    ['o+r', 0o644, 0o755, 0o754, 0o704],
    ['a-x', 0o644, 0o644, 0o640, 0o600],
    ['o-rwx,g+x', 0o650, 0o750, 0o750, 0o710],
    ['a+X', 0o644, 0o755, 0o751, 0o711],
    ['u=rwX,go=rX', 0o644, 0o755, 0o755, 0o755],
    ['u=rX,go=r', 0o444, 0o544, 0o544, 0o544],
    ['u-x,u+w', 0o644, 0o655, 0o650, 0o600],
    ['u+x,o+x', 0o745, 0o755, 0o751, 0o701],
    ['g+rw,o+rw', 0o666, 0o777, 0o776, 0o766],
    ['a=r', 0o444, 0o444, 0o444, 0o444],
    ['u=rwx,g=,o=', 0o700, 0o700, 0o700, 0o700],
    ['o-rwx', 0o640, 0o750, 0o750, 0o700],
    ['g-r,a+x', 0o715, 0o715, 0o711, 0o711],
    ['u+rw,g+r,o-x,o+w', 0o646, 0o756, 0o752, 0o742],
  ])('%s', (text, file, execFile, dir, restrictedDir) => {
    const chmod = parseChmod(text);
    expect(chmod.octal).toBeUndefined();
    expect([FILE, EXEC_FILE, DIR, RESTRICTED_DIR].map((m, i) => chmod.apply(m, i >= 2).toString(8))).toEqual(
      [file, execFile, dir, restrictedDir].map((m) => m.toString(8)),
    );
  });

  // [original mode, is a directory, expected, mode]
  it.each(([
    [0o777, false, 0o000, '='],
    [0o777, false, 0o777, '+'],
    [0o421, false, 0o421, '-'],
    [0o421, false, 0o1421, '+t'],
    [0o1421, false, 0o421, '-t'],
    [0o000, false, 0o400, 'u+r'],
    [0o000, false, 0o000, 'u+X'],
    [0o001, false, 0o101, 'u+X'],
    [0o000, true, 0o100, 'u+X'],
    [0o000, false, 0o4000, 'u+s'],
    [0o000, false, 0o2000, 'g+s'],
    [0o000, false, 0o000, 'o+s'],
    [0o100, false, 0o110, 'g+X'],
    [0o000, false, 0o111, '+x'],
    [0o010, false, 0o111, '+X'],
    [0o000, false, 0o6000, '+s'],
    [0o777, false, 0o333, '-r'],
    [0o777, false, 0o666, '-X'],
    [0o777, true, 0o666, '-X'],
    [0o777, false, 0o677, 'u-X'],
    [0o6777, false, 0o777, '-s'],
    [0o4777, false, 0o777, 'u-s'],
    [0o777, false, 0o677, 'u=rw'],
    [0o777, false, 0o077, 'u='],
    [0o777, false, 0o666, '=rw'],
    [0o042, false, 0o442, 'u=g'],
    [0o742, false, 0o442, 'u=g'],
    [0o722, false, 0o022, 'u=g-w'],
    [0o762, false, 0o462, 'u=g-w'],
    [0o772, false, 0o572, 'u=g-w'],
    [0o021, false, 0o121, 'u+o'],
    [0o021, false, 0o221, 'u+g'],
    [0o021, false, 0o321, 'u+go'],
    [0o000, false, 0o764, 'a=r,ug=rw,u+x'],
    [0o777, false, 0o764, 'a=r,ug=rw,u+x'],
    [0o000, false, 0o1624, 'o+r,g+w,a+t,g-s,u+og'],
    [0o2100, false, 0o1724, 'o+r,g+w,a+t,g-s,u+og'],
    [0o6000, true, 0o5624, 'o+r,g+w,a+t,g-s,u+og'],
    [0o777, false, 0o755, 'go-w'],
    [0o666, false, 0o666, '=rw,+X'],
    [0o766, false, 0o777, '=rw,+X'],
    [0o000, false, 0o755, 'u=rwx,go=rx'],
    [0o000, false, 0o755, 'u=rwx,go=u-w'],
    [0o777, false, 0o700, 'go='],
    [0o770, false, 0o755, 'go=u-w'],
    [0o670, false, 0o644, 'go=u-w'],
    [0o570, false, 0o555, 'go=u-w'],
    [0o370, false, 0o311, 'go=u-w'],
  ] as [number, boolean, number, string][]).map(([o, d, e, t]) => [o.toString(8), d ? 'dir' : 'file', e.toString(8), t] as const))(
    '%s (%s) becomes %s with %s',
    (original, kind, expected, text) => {
      expect(parseChmod(text).apply(parseInt(original, 8), kind === 'dir').toString(8)).toBe(expected);
    },
  );

  it.each(['q+r', 'z', 'u', 'g', 'o', 'go', ',', 'u+x,', 'u+x,,g+w', 'u+q', 'rwx', '+x y'])('%j is refused: invalid syntax', (text) => {
    expect(() => parseChmod(text)).toThrow(`invalid chmod parameter "${text}": invalid syntax`);
  });
});
