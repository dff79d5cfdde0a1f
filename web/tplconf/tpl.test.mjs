// Conformance of our template interpreter (web/embed/ui/tpl.js) with
// lodash.template 4.17.21, which is fetched from the npm registry with
// `npm pack` into a temporary directory. Run: node --test web/tplconf/
// (go test ./web/tplconf/ runs it too).

import { test, after } from 'node:test';
import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { createRequire } from 'node:module';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { isDeepStrictEqual } from 'node:util';
import { cases } from './corpus.mjs';
import { generate, data as generatedData } from './generate.mjs';

const LODASH = '4.17.21';
const here = path.dirname(fileURLToPath(import.meta.url));
const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'tplconf-'));
after(() => fs.rmSync(dir, { recursive: true, force: true }));

execFileSync('npm', ['pack', 'lodash@' + LODASH, '--silent', '--pack-destination', dir], {
  cwd: dir,
  stdio: ['ignore', 'ignore', 'inherit'],
  env: Object.assign({}, process.env, { npm_config_update_notifier: 'false', npm_config_fund: 'false', npm_config_audit: 'false' }),
});
execFileSync('tar', ['xzf', 'lodash-' + LODASH + '.tgz'], { cwd: dir });
const _ = createRequire(path.join(dir, 'package', 'index.js'))('./lodash.js');
assert.equal(_.VERSION, LODASH);

// tpl.js is an ES module without a package.json saying so: load a copy.
fs.copyFileSync(path.join(here, '..', 'embed', 'ui', 'tpl.js'), path.join(dir, 'tpl.mjs'));
const tpl = await import(pathToFileURL(path.join(dir, 'tpl.mjs')).href);

// The page: lodash's templates see window's globals, ours window.Comagic.
globalThis.window = globalThis;
const card = { name: '', emails: [], phones: ['+7 900'] };
globalThis.Comagic = {
  getDeviceType: () => 'desktop',
  visitorCard: { getItem: (k) => card[k] },
  storage: { getItem: (k) => (k === '_snd' ? '1' : null) },
  UI: {
    isIE: false,
    getContrastColor: (c) => (parseInt(c, 16) > 0x888888 ? '000000' : 'ffffff'),
    toTimeString: (d) => (!(d instanceof Date) ? 'not a date' : isNaN(d) ? 'invalid' : d.getUTCFullYear() > 2020 ? 'now' : d.toISOString().slice(11, 16)),
    toDateString: (d) => (isNaN(d) ? 'invalid' : d.toISOString().slice(0, 10)),
    C: {
      PHONE_MASK_FORMAT: '+7 (___) ___-__-__',
      PLACEHOLDERS: { phone: 'Phone', email: 'E-mail', name: 'Name' },
      IMAGES: { OPERATOR: 'op.svg' },
      SEND_TEXT: 'Send',
    },
  },
};

// clone copies plain objects and arrays deeply; other values are shared.
const clone = (v) => {
  if (Array.isArray(v)) return v.map(clone);
  if (v && Object.getPrototypeOf(v) === Object.prototype) {
    const o = {};
    for (const k of Object.keys(v)) o[k] = clone(v[k]);
    return o;
  }
  return v;
};

// outcome renders with a fresh copy of data: the output and the data after
// it (templates can change their data), or the error.
function outcome(make, data) {
  const d = clone(data);
  try {
    return { out: make()(d), data: d };
  } catch (e) {
    return { err: e };
  }
}

const show = (v) => JSON.stringify(v, (k, x) => (x === undefined ? '(undefined)' : typeof x === 'function' ? '(function)' : x));

// conforms renders template t with data through lodash and the
// interpreter and wants the same output and data after, or both throwing.
// It answers whether lodash rendered.
function conforms(t, data, name) {
  const want = outcome(() => _.template(t), data);
  const got = outcome(() => tpl.interpret(t), data);
  const where = name + ' with ' + show(data);
  if (want.err) {
    assert.ok(got.err, where + ': lodash throws (' + want.err.message + '), ours rendered ' + show(got.out));
    return false;
  }
  assert.ok(!got.err, where + ': ours throws ' + (got.err && got.err.stack) + ', lodash rendered ' + show(want.out));
  assert.equal(got.out, want.out, where);
  assert.ok(isDeepStrictEqual(got.data, want.data), where + ': data after rendering: ' + show(got.data) + ', lodash: ' + show(want.data));
  return true;
}

for (const c of cases) {
  test('conformance: ' + c.name, () => {
    for (const data of c.data) conforms(c.tpl, data, c.name);
  });
}

test('conformance: 1000 generated templates', () => {
  let rendered = 0;
  for (const t of generate(20261123, 1000)) {
    for (const data of generatedData) if (conforms(t, data, show(t))) rendered++;
  }
  assert.ok(rendered > 2000, 'only ' + rendered + ' of the generated renders succeed in lodash');
});

// withoutEval runs f as on a page whose CSP forbids 'unsafe-eval'.
function withoutEval(f) {
  const real = globalThis.Function;
  globalThis.Function = function () { throw new EvalError('Code generation from strings disallowed for this context'); };
  try {
    return f();
  } finally {
    globalThis.Function = real;
  }
}

test('the corpus needs no eval: compile interprets every template', () => {
  let n = 0;
  for (const c of cases) {
    let f;
    try {
      f = tpl.interpret(c.tpl);
    } catch (e) {
      continue; // the syntax-error cases
    }
    const g = withoutEval(() => tpl.compile(c.tpl));
    for (const data of c.data) {
      const a = outcome(() => f, data);
      const b = outcome(() => g, data);
      assert.equal(show(b.out), show(a.out), c.name);
      assert.equal(!!b.err, !!a.err, c.name);
      n++;
    }
  }
  assert.ok(n > 150, 'only ' + n + ' renders');
});

test('the exports main.js and widget.js use still work', () => {
  assert.equal(tpl.render('<b><%- a %></b>${b}', { a: '<', b: 1 }), '<b>&lt;</b>1');
  assert.equal(tpl.render('x'), 'x');
  assert.equal(tpl.escape('<"\'&>`'), '&lt;&quot;&#39;&amp;&gt;`');
  assert.equal(tpl.escape(null), '');
  assert.equal(typeof tpl.globals._.each, 'function');
  const f = tpl.compile('<%= a %>');
  assert.equal(f({ a: 2 }), '2');
  assert.equal(tpl.compile('<%= a %>'), f, 'compiled templates are cached');
});

// Templates the interpreter refuses at run time: lodash would let each of
// them reach a prototype, the global object or a code generator.
const ESCAPES = [
  '<% __proto__.polluted = 1 %>',
  '<% __proto__["polluted"] = 1 %>',
  '<%= constructor %>',
  '<% constructor.prototype.polluted = 1 %>',
  '<% ({}).__proto__.polluted = 1 %>',
  '<% var o = {}; o["__pro" + "to__"].polluted = 1 %>',
  '<% x["__pro" + "to__"].polluted = 1 %>',
  '<% x.constructor.prototype.polluted = 1 %>',
  '<% this.constructor.prototype.polluted = 1 %>',
  '<% (function () { return this })().polluted = 1 %>',
  '<% [].constructor.prototype.polluted = 1 %>',
  '<% "".constructor.prototype.polluted = 1 %>',
  '<% (1).constructor.prototype.polluted = 1 %>',
  '<%= [].map.constructor("return process")() %>',
  '<%= _.each.constructor("return 1")() %>',
  '<% _.constructor.prototype.polluted = 1 %>',
  '<% Comagic.UI.constructor.prototype.polluted = 1 %>',
  '<% Object.prototype.polluted = 1 %>',
  '<% Array.prototype.polluted = 1 %>',
  '<% var p = "proto" + "type"; Date[p].polluted = 1 %>',
  '<% Object.getPrototypeOf({}).polluted = 1 %>',
  '<% toString.call(1) %>',
  '<% hasOwnProperty("x") %>',
  '<% valueOf().polluted = 1 %>',
  '<% _.get(obj, "__proto__").polluted = 1 %>',
  '<% _.get(obj, ["constructor", "prototype"]).polluted = 1 %>',
  '<% _.get(x, "constructor.prototype").polluted = 1 %>',
  '<% x.__defineGetter__("polluted", function () { return 1 }) %>',
  '<% ({}).__lookupGetter__("__proto__").call({}).polluted = 1 %>',
  '<% var o = { __proto__: { polluted: 1 } } %>',
  '<% var o = { ["__proto__"]: 1 } %>',
  '<% for (const k in ({}).__proto__) {} %>',
  '<% var __proto__ = 1 %>',
  '<% (function (__proto__) { __proto__.polluted = 1 })({}) %>',
  '<% "polluted" in x.__proto__ %>',
  '<% window.polluted = 1 %>',
  '<% globalThis.polluted = 1 %>',
  '<% global.polluted = 1 %>',
  '<% self.polluted = 1 %>',
  '<% Function("return 1")() %>',
  '<% eval("1") %>',
  '<% Reflect.getPrototypeOf({}).polluted = 1 %>',
  '<% setTimeout("1") %>',
  '<% new Comagic.UI.constructor("return 1") %>',
  '<% (() => {}).constructor("return 1")() %>',
  '<% JSON.parse(\'{"__proto__": {"a": 1}}\').__proto__.polluted = 1 %>',
  '<% x.__proto__ = null %>',
];

const snapshot = () => [Object.prototype, Array.prototype, Function.prototype, String.prototype, Number.prototype, Date.prototype, globalThis]
  .map((o) => Object.getOwnPropertyNames(o).sort().join());

test('templates cannot reach prototypes or globals', () => {
  const before = snapshot();
  for (const t of ESCAPES) {
    const f = withoutEval(() => tpl.compile(t));
    assert.throws(() => f({ x: {} }), (e) => e instanceof Error, t);
    assert.deepEqual(snapshot(), before, t + ' changed a prototype or the global object');
    assert.equal({}.polluted, undefined, t);
  }
  // Assigning an undeclared name makes a template variable, not a global.
  assert.equal(tpl.interpret('<% leaked = 1 %><%= leaked %>')({}), '1');
  assert.equal(globalThis.leaked, undefined);
  assert.deepEqual(snapshot(), before);
});

// Where we differ from lodash on purpose: [template, data, our output].
const DIVERGENCES = [
  // Only the documented globals are variables, not every global of the page.
  ['<%= typeof console %>', {}, 'undefined'],
  ['<%= typeof _.chunk %>', {}, 'undefined'],
  // `this` outside a method is undefined, not the global object.
  ['<%= this === undefined %>|<%= (function () { return this === undefined })() %>', {}, 'true|true'],
  // The data's inherited keys are not variables.
  ['<%= typeof toString %>', {}, 'undefined'],
  // lodash's internals (arguments, __p, __t, __e, __j) are not variables.
  ['<%= typeof arguments %>|<%= typeof __p %>', {}, 'undefined|undefined'],
  // An endless loop stops.
  ['<% try { for (;;) {} } catch (e) { print(e.message) } %>', {}, 'a loop runs too long'],
];

test('documented differences from lodash', () => {
  for (const [t, data, want] of DIVERGENCES) {
    assert.equal(tpl.interpret(t)(clone(data)), want, t);
    if (!/for \(;;\)/.test(t)) assert.notEqual(_.template(t)(clone(data)), want, t + ': lodash agrees now');
  }
});

test('lodash itself lets such a template pollute Object.prototype', () => {
  try {
    _.template('<% __proto__.pollutedByLodash = 1 %>')({});
    assert.equal({}.pollutedByLodash, 1);
  } finally {
    delete Object.prototype.pollutedByLodash;
  }
});

// Syntax beyond the interpreter: compile falls back to new Function (as
// lodash compiles), which needs 'unsafe-eval'.
const BEYOND = [
  ['<%= [...a, 3].length %>|<% print(...a) %>', { a: [1, 2] }],
  ['<% var { b } = o %><%= b %>', { o: { b: 'B' } }],
  ['<% class K { m() { return 1 } } %><%= new K().m() %>', {}],
  ['<% outer: for (;;) { for (;;) { break outer } } %>done', {}],
  ['<%= ((a = 1) => a)() %>', {}],
  ['<% var o = { get g() { return "got" } } %><%= o.g %>', {}],
  ['<% print([...a].join("-")) %>${a.length}<%- "<" %>', { a: [1, 2] }],
  ['<%= tag`x` %>', { tag: (s) => s[0] + '!' }],
];

test('what the interpreter cannot parse renders as lodash through new Function', () => {
  for (const [t, data] of BEYOND) {
    assert.throws(() => tpl.interpret(t), t);
    assert.equal(tpl.compile(t)(clone(data)), _.template(t)(clone(data)), t);
  }
});

test('without eval such a template fails with a clear error', () => {
  const t = '<%= [...a].length %><% /* no cache hit */ %>';
  assert.throws(() => withoutEval(() => tpl.compile(t)), /^Error: template: .*CSP forbids eval/);
});

test('a template whose syntax is wrong for both throws from compile', () => {
  assert.throws(() => tpl.compile('<% if (a) { %>'), /template: /);
});
