// The --format engine: Go text/template with docker/cli's functions, docker's `table` and `json`
// formats, and Go's tabwriter as docker configures it. Every expected output below is what Go's
// text/template and docker's formatter print for the same template and data: they were produced by
// running the templates through Go (text/template with docker's template functions and formatter
// code) and, where noted, through the docker 28 CLI itself (`docker context ls --format`, which
// needs no daemon), not by running this implementation.
import { describe, expect, it } from '@jest/globals';
import { KilnError } from '../../src/errors.js';
import { formatRows, goStruct, parseTemplate, renderTemplate, tabwrite, TemplateError } from '../../src/cli/format.js';

/** Inspect-like data: plain objects are Go maps (map[string]any, or map[string]string when all values are strings). */
const data = {
  Name: 'web',
  Id: 'sha256:abc',
  Size: 1234,
  Ratio: 0.25,
  Running: true,
  Empty: '',
  Nil: null,
  Config: {
    Image: 'alpine:3.19',
    Env: ['PATH=/usr/bin', 'A=1'],
    Labels: { 'com.example.vendor': 'ACME', a: '<b>&' },
    Cmd: ['sh', '-c', 'echo hi'],
  },
  Ports: { '80/tcp': [{ HostIp: '0.0.0.0', HostPort: '8080' }], '443/tcp': null },
  Mounts: [
    { Source: '/data', Destination: '/var/data', RW: true },
    { Source: '/etc/x', Destination: '/x', RW: false },
  ],
};
const render = (template: string): string => renderTemplate(template, data);

function thrown(f: () => unknown): Error {
  try {
    f();
  } catch (e) {
    return e as Error;
  }
  throw new Error('expected an error');
}

describe('renderTemplate: fields and Go default printing', () => {
  it('reads fields, nested fields and dot', () => {
    expect(render('{{.Name}}')).toBe('web');
    expect(render('{{.Config.Image}}')).toBe('alpine:3.19');
    expect(render('{{$.Name}}/{{.Config.Labels.a}}')).toBe('web/<b>&');
    expect(render('{{.Size}} {{.Ratio}} {{.Running}}')).toBe('1234 0.25 true');
  });

  it('prints maps as map[k:v] with sorted keys and slices as [a b], as Go does', () => {
    expect(render('{{.Config}}')).toBe('map[Cmd:[sh -c echo hi] Env:[PATH=/usr/bin A=1] Image:alpine:3.19 Labels:map[a:<b>& com.example.vendor:ACME]]');
    expect(render('{{.Config.Env}}')).toBe('[PATH=/usr/bin A=1]');
    expect(render('{{.Ports}}')).toBe('map[443/tcp:<nil> 80/tcp:[map[HostIp:0.0.0.0 HostPort:8080]]]');
    expect(renderTemplate('{{.}}', ['a', 'b'])).toBe('[a b]');
  });

  it('prints <no value> for a missing map key and a null map value, with no error', () => {
    expect(render('{{.Missing}}')).toBe('<no value>');
    expect(render('{{.Config.Labels.nope}}')).toBe('<no value>');
    expect(render('{{.Nil}}')).toBe('<no value>');
    expect(render('{{.Missing.Deeper}}')).toBe('<no value>');
    expect(renderTemplate('{{.}} {{.x}} {{json .}}', null)).toBe('<no value> <no value> null');
  });

  it('prints floats as Go does (%v: shortest digits, exponent from 1e+06)', () => {
    expect(renderTemplate('{{.}}', [0.1, 1e6 + 0.5, 1234567.0001, 1e-5, 0.0001, 1e21, -2.5])).toBe('[0.1 1.0000005e+06 1.2345670001e+06 1e-05 0.0001 1e+21 -2.5]');
    expect(render('{{1.0}} {{1e6}} {{1.5e3}} {{-0.0}} {{.5}}')).toBe('1 1e+06 1500 -0 0.5');
  });
});

describe('renderTemplate: docker template functions', () => {
  it('json: compact, map keys sorted, <, > and & not escaped', () => {
    expect(render('{{json .Config}}')).toBe(
      '{"Cmd":["sh","-c","echo hi"],"Env":["PATH=/usr/bin","A=1"],"Image":"alpine:3.19","Labels":{"a":"<b>&","com.example.vendor":"ACME"}}',
    );
    expect(render('{{.Config | json}}')).toBe(render('{{json .Config}}'));
    expect(render('{{json .Ports}}')).toBe('{"443/tcp":null,"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]}');
    expect(render('{{json .Name}} {{json .Size}} {{json .Nil}} {{json .Missing}}')).toBe('"web" 1234 null null');
    expect(render('{{json .}}')).toBe(
      '{"Config":{"Cmd":["sh","-c","echo hi"],"Env":["PATH=/usr/bin","A=1"],"Image":"alpine:3.19","Labels":{"a":"<b>&","com.example.vendor":"ACME"}},' +
        '"Empty":"","Id":"sha256:abc","Mounts":[{"Destination":"/var/data","RW":true,"Source":"/data"},{"Destination":"/x","RW":false,"Source":"/etc/x"}],' +
        '"Name":"web","Nil":null,"Ports":{"443/tcp":null,"80/tcp":[{"HostIp":"0.0.0.0","HostPort":"8080"}]},"Ratio":0.25,"Running":true,"Size":1234}',
    );
  });

  it('json escapes strings as Go 1.22+ does (docker 28)', () => {
    // docker 28: `{{json "a\b\f<&>\u2028"}}` prints "a\b\f<&>\u2028".
    expect(renderTemplate('{{json .}}', 'a\b\f<&>\u2028\t\n\u0001"\\')).toBe('"a\\b\\f<&>\\u2028\\t\\n\\u0001\\"\\\\"');
    expect(renderTemplate('{{json .}}', [1e21, 1e-7, 0.1, 1e20])).toBe('[1e+21,1e-7,0.1,100000000000000000000]');
  });

  it('index: map keys, slice elements, nested; a missing key of a string map is ""', () => {
    expect(render('{{index .Config.Labels "com.example.vendor"}}')).toBe('ACME');
    expect(render('{{index .Config.Labels "nope"}}|')).toBe('|');
    expect(render('{{index .Config.Env 1}}')).toBe('A=1');
    expect(render('{{index .Ports "80/tcp" 0 "HostPort"}}')).toBe('8080');
    expect(render('{{(index (index .Ports "80/tcp") 0).HostPort}}')).toBe('8080');
  });

  it('join, split, upper, lower, title, pad, truncate, println', () => {
    expect(render('{{join .Config.Env ","}}')).toBe('PATH=/usr/bin,A=1');
    expect(render('{{join .Config.Cmd " "}}')).toBe('sh -c echo hi');
    expect(render('{{split .Config.Image ":"}}')).toBe('[alpine 3.19]');
    expect(render('{{index (split .Config.Image ":") 1}}')).toBe('3.19');
    expect(render('{{upper .Name}} {{lower "MiXeD"}} {{title "hello docker world"}}')).toBe('WEB mixed Hello Docker World');
    expect(render('[{{pad .Name 2 3}}][{{pad .Empty 2 3}}]')).toBe('[  web   ][]');
    expect(render('{{truncate .Id 9}}|{{truncate .Name 10}}')).toBe('sha256:ab|web');
    expect(render('{{println .Name .Size}}')).toBe('web 1234\n');
    expect(render('{{println "a"}}{{println "b"}}')).toBe('a\nb\n');
  });

  it("Go's builtins: and, or, not, len, eq, gt, print, printf (Go rounds an exact tie to even)", () => {
    expect(render('{{and .Name .Empty}}|{{or .Empty .Name}}|{{not .Running}}|{{len .Config.Env}}|{{eq .Name "web" "db"}}')).toBe('|web|false|2|true');
    expect(render('{{print "a" 1 2 "b" "c" 3.5 true}}')).toBe('a1 2bc3.5 true');
    expect(render('{{printf "%.2f|%5.1f|%.0f|%-6s|%03d" 2.675 2.25 2.5 "ab" 7}}')).toBe('2.67|  2.2|2|ab    |007');
    expect(render('{{.Name | printf "%q"}} {{printf "%d" "x"}} {{printf "%d %d" 1}}')).toBe('"web" %!d(string=x) 1 %!d(MISSING)');
  });
});

describe('renderTemplate: control structures, pipelines, literals', () => {
  it('range over a slice, with $i/$e, over a map in key order, with else, break and continue', () => {
    expect(render('{{range .Config.Env}}[{{.}}]{{end}}')).toBe('[PATH=/usr/bin][A=1]');
    expect(render('{{range $i, $m := .Mounts}}{{$i}}:{{$m.Source}}->{{.Destination}} {{end}}')).toBe('0:/data->/var/data 1:/etc/x->/x ');
    expect(render('{{range $k, $v := .Config.Labels}}{{$k}}={{$v}};{{end}}')).toBe('a=<b>&;com.example.vendor=ACME;');
    expect(render('{{range $p, $conf := .Ports}}{{$p}}={{$conf}} {{end}}')).toBe('443/tcp=<no value> 80/tcp=[map[HostIp:0.0.0.0 HostPort:8080]] ');
    expect(render('{{range .Config.Missing}}x{{else}}none{{end}}')).toBe('none');
    expect(render('{{range .Mounts}}{{if .RW}}{{.Source}}{{break}}{{end}}{{end}}')).toBe('/data');
    expect(render('{{range .Config.Cmd}}{{if eq . "-c"}}{{continue}}{{end}}{{.}},{{end}}')).toBe('sh,echo hi,');
    // Go 1.22+ (docker 28): range over an integer.
    expect(render('{{range 3}}{{.}}{{end}}')).toBe('012');
  });

  it('if / else if / else, and with / else (and Go 1.23 else with)', () => {
    expect(render('{{if .Running}}up{{else}}down{{end}}')).toBe('up');
    expect(render('{{if .Empty}}a{{else if .Nil}}b{{else if gt .Size 1000}}big{{else}}small{{end}}')).toBe('big');
    expect(render('{{with .Config}}{{.Image}}{{end}}')).toBe('alpine:3.19');
    expect(render('{{with .Missing}}x{{else}}no{{end}}')).toBe('no');
    // docker 28: `{{with ""}}a{{else with "x"}}b{{.}}{{end}}` prints bx.
    expect(render('{{with ""}}a{{else with "x"}}b{{.}}{{end}}')).toBe('bx');
  });

  it('pipelines, variables and parenthesized pipelines', () => {
    expect(render('{{.Config.Image | split ":" | len}}')).toBe('1');
    expect(render('{{"x" | printf "%s-%s" .Name}}')).toBe('web-x');
    expect(render('{{$n := .Name}}{{range .Config.Cmd}}{{$n}}{{end}}')).toBe('webwebweb');
    expect(render('{{with $c := .Config}}{{$c.Image}}{{end}}')).toBe('alpine:3.19');
    expect(render('{{$x := "a"}}{{$x = "b"}}{{$x}}')).toBe('b');
  });

  it('string, raw string, number, char and bool literals', () => {
    expect(render('{{"a\\tb"}}|{{`raw\\t`}}|{{42}}|{{-1}}|{{0x10}}|{{017}}|{{1_000}}|{{1.5}}|{{true}}|{{\'a\'}}')).toBe('a\tb|raw\\t|42|-1|16|15|1000|1.5|true|97');
  });

  it('trims space with {{- and -}}, and drops comments', () => {
    expect(render('a  {{- .Name -}}  b')).toBe('awebb');
    expect(render('{{range .Config.Env -}}\n  {{.}}\n{{- end}}')).toBe('PATH=/usr/binA=1');
    expect(render('x\n  {{- /* comment */ -}}\n  y')).toBe('xy');
    expect(render('{{-1}}')).toBe('-1'); // "-" not followed by a space is a number
  });

  it('define, template and block', () => {
    expect(render('{{define "row"}}<{{.}}>{{end}}{{range .Config.Env}}{{template "row" .}}{{end}}')).toBe('<PATH=/usr/bin><A=1>');
    expect(render('{{block "b" .Name}}[{{.}}]{{end}}')).toBe('[web]');
  });

  it('does not turn \\t into a tab (docker inspect uses the text as is)', () => {
    expect(render('{{.Name}}\\t{{.Id}}')).toBe('web\\tsha256:abc');
  });

  it('a template parses once and executes over many values', () => {
    const t = parseTemplate('{{.Name}}:{{len .Config.Env}}');
    expect([t.execute(data), t.execute({ Name: 'db', Config: { Env: [] } })]).toEqual(['web:2', 'db:0']);
  });
});

describe('goStruct: typed objects, as docker inspect executes over its Go structs', () => {
  const state = () => goStruct({ Status: 'running', Pid: 42, Health: null }, '*container.State');

  it('prints a struct as {v1 v2}, a null field as <nil>, and keeps the key order in json', () => {
    expect(renderTemplate('{{.}}|{{.Status}}|{{.Health}}', state())).toBe('{running 42 <nil>}|running|<nil>');
    expect(renderTemplate('{{json .}}', state())).toBe('{"Status":"running","Pid":42,"Health":null}');
  });

  it('an unknown field is an error naming the field and the type', () => {
    expect(thrown(() => renderTemplate('{{.Nope}}', state())).message).toBe(
      'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *container.State',
    );
  });
});

describe('renderTemplate: errors, worded as docker words them', () => {
  const message = (template: string): string => thrown(() => render(template)).message;

  it('throws a TemplateError, which is a KilnError, with Go\'s own message apart', () => {
    const e = thrown(() => render('{{.Name'));
    expect(e).toBeInstanceOf(TemplateError);
    expect(e).toBeInstanceOf(KilnError);
    expect((e as TemplateError).goMessage).toBe('template: :1: unclosed action');
    expect(e.message).toBe('template parsing error: template: :1: unclosed action');
  });

  it('parse errors name the line and what is wrong', () => {
    expect(message('{{.Name}')).toBe("template parsing error: template: :1: bad character U+007D '}'");
    expect(message('{{if .Name}}')).toBe('template parsing error: template: :1: unexpected EOF');
    expect(message('{{end}}')).toBe('template parsing error: template: :1: unexpected {{end}}');
    expect(message('{{nope .Name}}')).toBe('template parsing error: template: :1: function "nope" not defined');
    expect(message('{{$x}}')).toBe('template parsing error: template: :1: undefined variable "$x"');
    expect(message('{{"unterminated}}')).toBe('template parsing error: template: :1: unterminated quoted string');
    expect(message('{{range .Config.Env}}{{else}}{{else}}{{end}}')).toBe('template parsing error: template: :1: expected end; found {{else}}');
    expect(message('l1\n{{if .Name}}\n{{.Name}}')).toBe('template parsing error: template: :3: unexpected EOF');
    // docker 28 (Go 1.24)
    expect(message('{{.Name)}}')).toBe('template parsing error: template: :1: unexpected right paren');
  });

  it('execution errors name line:column, the action and the reason', () => {
    expect(message('{{.Config.Image.Foo}}')).toBe(
      'template parsing error: template: :1:9: executing "" at <.Config.Image.Foo>: can\'t evaluate field Foo in type interface {}',
    );
    expect(message('{{.Nil.Foo}}')).toBe('template parsing error: template: :1:6: executing "" at <.Nil.Foo>: nil pointer evaluating interface {}.Foo');
    expect(message('{{upper .Size}}')).toBe('template parsing error: template: :1:8: executing "" at <.Size>: wrong type for value; expected string; got int');
    expect(message('{{index .Config.Env 5}}')).toBe(
      'template parsing error: template: :1:2: executing "" at <index .Config.Env 5>: error calling index: index out of range: 5',
    );
    expect(message('{{template "x"}}')).toBe('template parsing error: template: :1:11: executing "" at <{{template "x"}}>: template "x" not defined');
    expect(message('x\n  héllo {{.Name.Foo}}')).toBe(
      'template parsing error: template: :2:16: executing "" at <.Name.Foo>: can\'t evaluate field Foo in type interface {}',
    );
  });
});

// docker images' rows and headers (cli/command/formatter/image.go).
const imageHeaders = { ID: 'IMAGE ID', Repository: 'REPOSITORY', Tag: 'TAG', Digest: 'DIGEST', CreatedSince: 'CREATED', Size: 'SIZE' };
const imageTable = 'table {{.Repository}}\t{{.Tag}}\t{{.ID}}\t{{if .CreatedSince }}{{.CreatedSince}}{{else}}N/A{{end}}\t{{.Size}}';
const images = [
  { ID: 'a1b2c3d4e5f6', Repository: 'alpine', Tag: '3.19', Digest: '<none>', CreatedSince: '2 weeks ago', Size: '7.38MB' },
  { ID: '0123456789ab', Repository: 'registry.example.com/team/a-rather-long-repository-name', Tag: 'v1.2.3', Digest: '<none>', CreatedSince: '', Size: '1.21GB' },
  { ID: 'deadbeef0000', Repository: '<none>', Tag: '<none>', Digest: '<none>', CreatedSince: '3 months ago', Size: '0B' },
];
const list = (format: string | undefined, rows: object[] = images, quiet = false): string =>
  formatRows({ format, defaultTable: imageTable, headers: imageHeaders, rows, quiet, rowType: '*formatter.imageContext' });
const lines = (...l: string[]): string => l.join('\n') + '\n';

describe('formatRows: table', () => {
  const defaultOutput = lines(
    'REPOSITORY                                                TAG       IMAGE ID       CREATED        SIZE',
    'alpine                                                    3.19      a1b2c3d4e5f6   2 weeks ago    7.38MB',
    'registry.example.com/team/a-rather-long-repository-name   v1.2.3    0123456789ab   N/A            1.21GB',
    '<none>                                                    <none>    deadbeef0000   3 months ago   0B',
  );

  it('prints the default table for no format and for `table` alone, aligned as docker aligns it', () => {
    expect(list(undefined)).toBe(defaultOutput);
    expect(list('')).toBe(defaultOutput);
    expect(list('table')).toBe(defaultOutput);
  });

  it('treats \\t and \\n written as two characters as a tab and a newline', () => {
    expect(list(imageTable.replace(/\t/g, '\\t'))).toBe(defaultOutput);
    expect(list('table {{.Tag}}\\t{{.Repository}}\\n')).toBe(
      lines('TAG       REPOSITORY', '', '3.19      alpine', '', 'v1.2.3    registry.example.com/team/a-rather-long-repository-name', '', '<none>    <none>', ''),
    );
  });

  it('pads columns to the longest cell plus 3, at least 10 wide; the last cell is not padded', () => {
    expect(list('table {{.Repository}}:{{.Tag}}\\t{{.Size}}')).toBe(
      lines(
        'REPOSITORY:TAG                                                   SIZE',
        'alpine:3.19                                                      7.38MB',
        'registry.example.com/team/a-rather-long-repository-name:v1.2.3   1.21GB',
        '<none>:<none>                                                    0B',
      ),
    );
    expect(list('table {{.ID}}')).toBe(lines('IMAGE ID', 'a1b2c3d4e5f6', '0123456789ab', 'deadbeef0000'));
    // A trailing tab ends a padded cell: docker's lines then end in spaces.
    expect(list('table {{.Tag}}\\t\\t{{.Size}}\\t')).toBe(
      lines('TAG                 SIZE      ', '3.19                7.38MB    ', 'v1.2.3              1.21GB    ', '<none>              0B        '),
    );
  });

  it('executes the header with functions that leave titles alone, except pad', () => {
    expect(list('table {{upper .Repository}}\\t{{json .Tag}}\\t{{pad .Size 1 1}}|')).toBe(
      lines(
        'REPOSITORY                                                TAG         SIZE |',
        'ALPINE                                                    "3.19"      7.38MB |',
        'REGISTRY.EXAMPLE.COM/TEAM/A-RATHER-LONG-REPOSITORY-NAME   "v1.2.3"    1.21GB |',
        '<NONE>                                                    "<none>"    0B |',
      ),
    );
  });

  it('keeps the header up to an error in it, as docker ignores header errors', () => {
    expect(list('table {{.ID}}\\t{{json .}}\\tEND')).toBe(
      lines(
        'IMAGE ID       ',
        'a1b2c3d4e5f6   {"CreatedSince":"2 weeks ago","Digest":"\\u003cnone\\u003e","ID":"a1b2c3d4e5f6","Repository":"alpine","Size":"7.38MB","Tag":"3.19"}                                           END',
        '0123456789ab   {"CreatedSince":"","Digest":"\\u003cnone\\u003e","ID":"0123456789ab","Repository":"registry.example.com/team/a-rather-long-repository-name","Size":"1.21GB","Tag":"v1.2.3"}   END',
        'deadbeef0000   {"CreatedSince":"3 months ago","Digest":"\\u003cnone\\u003e","ID":"deadbeef0000","Repository":"\\u003cnone\\u003e","Size":"0B","Tag":"\\u003cnone\\u003e"}                        END',
      ),
    );
  });

  it('prints only the header when there are no rows (a field without a title is <no value>)', () => {
    expect(list('table {{.Repository}}\\t{{.Tag}}', [])).toBe(lines('REPOSITORY   TAG'));
    expect(list('table {{.Nope}}\\t{{.ID}}', [])).toBe(lines('<no value>   IMAGE ID'));
  });

  it('measures wide and combining characters in terminal columns (docker 28 `context ls`)', () => {
    const contexts = [
      { Name: 'a-very-long-context-name-here', Description: 'x <b> & "q"', Current: false },
      { Name: 'default', Description: 'Current DOCKER_HOST based configuration', Current: true },
      { Name: 'emoji', Description: 'ship \u{1F6A2} it \u00e9\u0301 x', Current: false },
      { Name: 'mixed', Description: 'ｆｕｌｌ　ｗｉｄｔｈ', Current: false },
      { Name: 'wide', Description: '日本語の説明 ok', Current: false },
    ];
    const out = formatRows({
      format: 'table {{.Name}}\\t{{.Description}}\\t{{.Current}}',
      defaultTable: '',
      headers: { Name: 'NAME', Description: 'DESCRIPTION', DockerEndpoint: 'DOCKER ENDPOINT', Error: 'ERROR' },
      rows: contexts,
    });
    expect(out).toBe(
      lines(
        'NAME                            DESCRIPTION                               <no value>',
        'a-very-long-context-name-here   x <b> & "q"                               false',
        'default                         Current DOCKER_HOST based configuration   true',
        'emoji                           ship \u{1F6A2} it \u00e9\u0301 x                            false',
        'mixed                           ｆｕｌｌ　ｗｉｄｔｈ                      false',
        'wide                            日本語の説明 ok                           false',
      ),
    );
  });

  it('gives `.Label "name"` in the header the last part of the name, as docker ps does', () => {
    const containers = [{ ID: 'c1', Label: (name: string) => ({ 'com.docker.compose.project': 'shop' })[name] ?? '' }];
    const out = formatRows({ format: 'table {{.ID}}\\t{{.Label "com.docker.compose.project"}}', defaultTable: '', headers: { ID: 'CONTAINER ID' }, rows: containers });
    expect(out).toBe(lines('CONTAINER ID   project', 'c1             shop'));
  });
});

describe('formatRows: other formats', () => {
  it('without `table`: no header, no alignment, each row then a newline; spaces around the format trimmed', () => {
    expect(list('{{.Repository}}\\t{{.Tag}}')).toBe(
      lines('alpine\t3.19', 'registry.example.com/team/a-rather-long-repository-name\tv1.2.3', '<none>\t<none>'),
    );
    expect(list('  {{.ID}}  ')).toBe(lines('a1b2c3d4e5f6', '0123456789ab', 'deadbeef0000'));
    expect(list('{{.ID}}', [])).toBe('');
  });

  it('json: each row as {{json .}}, keys sorted and <, >, & escaped as docker marshals a row', () => {
    const expected = lines(
      '{"CreatedSince":"2 weeks ago","Digest":"\\u003cnone\\u003e","ID":"a1b2c3d4e5f6","Repository":"alpine","Size":"7.38MB","Tag":"3.19"}',
      '{"CreatedSince":"","Digest":"\\u003cnone\\u003e","ID":"0123456789ab","Repository":"registry.example.com/team/a-rather-long-repository-name","Size":"1.21GB","Tag":"v1.2.3"}',
      '{"CreatedSince":"3 months ago","Digest":"\\u003cnone\\u003e","ID":"deadbeef0000","Repository":"\\u003cnone\\u003e","Size":"0B","Tag":"\\u003cnone\\u003e"}',
    );
    expect(list('json')).toBe(expected);
    expect(list('{{json .}}')).toBe(expected);
    // A field's json is not escaped (docker 28: {{json .Description}} of `x <b> & "q"` is "x <b> & \"q\"").
    expect(list('{{json .Repository}}', images.slice(2))).toBe(lines('"<none>"'));
  });

  it('quiet: {{.ID}} per row for the default format; a custom format wins', () => {
    expect(list(undefined, images, true)).toBe(lines('a1b2c3d4e5f6', '0123456789ab', 'deadbeef0000'));
    expect(list('table', images, true)).toBe(lines('a1b2c3d4e5f6', '0123456789ab', 'deadbeef0000'));
    expect(list('{{.Tag}}', images, true)).toBe(lines('3.19', 'v1.2.3', '<none>'));
  });

  it('an unknown field of a row is an error naming the field and the row type', () => {
    expect(thrown(() => list('table {{.Nope}}')).message).toBe(
      'template parsing error: template: :1:2: executing "" at <.Nope>: can\'t evaluate field Nope in type *formatter.imageContext',
    );
    expect(thrown(() => list('{{.ID "x"}}')).message).toBe('template parsing error: template: :1:2: executing "" at <.ID>: wrong number of args for ID: want 0 got 1');
    expect(thrown(() => list('{{.ID')).message).toBe('template parsing error: template: :1: unclosed action');
  });
});

describe('tabwrite', () => {
  it('aligns tab-terminated cells; a line without tabs ends the column block', () => {
    expect(tabwrite('a\tbb\tc\nlonger-cell\tx\ty\nno tabs here\nz\tw\n')).toBe(
      'a             bb        c\nlonger-cell   x         y\nno tabs here\nz         w\n',
    );
  });
});
