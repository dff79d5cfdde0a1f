// A deterministic generator of random templates for the conformance test:
// expressions over every operator and literal kind, statements, callbacks,
// print and ${} in the text, with line breaks and comments put at random
// between tokens (automatic semicolon insertion). Many generated templates
// are wrong (a missing name, a method of null, an arrow after a line
// break): then lodash and the interpreter must both throw.

const ATOMS = [
  '0', '1', '-1', '2.5', '0x10', '1e2', '-0', 'NaN', '""', '"a"', '"0"', '"<&>"', '"\\n"', 'null', 'undefined', 'true', 'false',
  '[]', '[1, 2]', '({})', 'a', 'b', 'c', 'o', 'l', 's', 'o.x', 'o.y', 'o["x"]', 'l.length', 'l[0]', 's.length',
  '`t${a}`', '`${`n${b}`}`', 's.slice(1)', 's.toUpperCase()', 's.split("").reverse().join("")', 'l.indexOf(1)', 'l.concat(o)',
  'l.map(x => x + 1)', 'o?.x?.y', 'c?.length', '(a, b)', 'a++', '--b', 'delete o.x', '"x" in o', '/a|t/.test(s)',
  's.replace(/[st]/g, "$&!")', '(function (q) { return q + 1 })(a)', '((q) => q * 2)(a)', '({ k: a, [b]: 1 }).k',
  'JSON.stringify(o)', 'typeof zz', 'obj.a', 'missing', '_.get(o, "x")', '_.has(o, "y")', '_.map(l, String)',
  '_.filter(l, Boolean).length', '_.escape(s + b)', '_.isEmpty(c)', 'new Date(0).getTime()', 'Math.max(a, 2)',
  'String(c)', '[a, b].join()', 'Object.keys(o)',
];
const BINARY = ['+', '-', '*', '/', '%', '**', '==', '!=', '===', '!==', '<', '>', '<=', '>=', '&&', '||', '??', '&', '|', '^', '<<', '>>', '>>>', 'in', 'instanceof'];
const CALLS = ['String', 'Number', 'Boolean', 'JSON.stringify', 'parseInt', 'isNaN', 'Math.abs', '_.isEmpty', '_.keys', 'Array.isArray'];
const GAPS = ['\n', '\r\n', ' /* c */ ', '\n// c\n', '\t'];

/** generate returns n templates made from seed. */
export function generate(seed, n) {
  const rnd = (m) => {
    seed = (seed * 1103515245 + 12345) & 0x7fffffff;
    return seed % m;
  };
  const pick = (a) => a[rnd(a.length)];
  const ex = (d) => {
    if (d <= 0) return pick(ATOMS);
    switch (rnd(8)) {
      case 0: case 1: case 2: return '(' + ex(d - 1) + ' ' + pick(BINARY) + ' ' + ex(d - 1) + ')';
      case 3: return pick(['!', '-', '+', '~', 'typeof ', 'void ']) + ex(d - 1);
      case 4: return '(' + ex(d - 1) + ' ? ' + ex(d - 1) + ' : ' + ex(d - 1) + ')';
      case 5: return pick(CALLS) + '(' + ex(d - 1) + ')';
      case 6: return '[' + ex(d - 1) + ', ' + ex(d - 1) + '][' + pick(['0', '1', '2', 'a']) + ']';
      default: return pick(['a', 'b', 'c']) + ' ' + pick(['=', '+=', '-=', '||=', '??=', '*=']) + ' ' + ex(d - 1);
    }
  };
  const statement = () => {
    switch (rnd(17)) {
      case 0: return '<% if (' + ex(2) + ') { %>T<%= ' + ex(2) + ' %><% } else { %>F<%- ' + ex(2) + ' %><% } %>';
      case 1: return '<% for (var i = 0; i < 3; i++) { %><%= i + ' + ex(1) + ' %><% } %>';
      case 2: return '<% print(' + ex(2) + ', ' + ex(1) + ') %>';
      case 3: return '${' + ex(2) + '}';
      case 4: return '<% var ' + pick(['a', 'b', 'z']) + ' = ' + ex(2) + ' %>';
      case 5: return '<% l.forEach(function (v, k) { %>[<%= v %><%- ' + ex(1) + ' %>]<% }) %>';
      case 6: return '<% switch (' + ex(1) + ') { case ' + ex(0) + ': %>A<% case ' + ex(0) + ': %>B<% break; default: %>D<% } %>';
      case 7: return '<% var n = 0; while (n < 2) { n++; if (' + ex(1) + ') continue; %>w<%= n %><% } %>';
      case 8: return '<% try { %>t<%= ' + ex(2) + ' %><% } catch (e) { %>E<% } finally { %>f<% } %>';
      case 9: return '<% function g(p) { return ' + ex(2) + ' } %><%= g(' + ex(1) + ') %>';
      case 10: return '"q\'\\ \n<!-- ${' + ex(1) + '} -->';
      case 11: return '<% do { print(' + ex(1) + ') } while (false) %>';
      case 12: return '<% for (const k in o) { %><%= k %>=<%= ' + ex(1) + ' %><% } %><% for (let v of l) { print(v, ' + ex(1) + ') } %>';
      case 13: return '<% l.forEach((v) => { let w = ' + ex(1) + '; %>{<%= w %>}<% }) %>';
      case 14: return '<% var f = { n: ' + ex(1) + ', m() { return this.n } } %><%= f.m() %>';
      case 15: return '<% { let a = ' + ex(1) + '; var h = a } %><%= h %><%= a %>';
      default: return 'x<%= ' + ex(3) + ' %>y';
    }
  };
  const out = [];
  for (let k = 0; k < n; k++) {
    let t = '';
    for (let j = 1 + rnd(4); j > 0; j--) t += statement();
    if (rnd(2)) t = t.replace(/ /g, () => (rnd(4) ? ' ' : pick(GAPS)));
    out.push(t);
  }
  return out;
}

/** data are the data objects every generated template renders with. */
export const data = [
  { a: 1, b: 'b', c: null, o: { x: 1, y: '<' }, l: [1, 'two'], s: 'str' },
  { a: 0, b: '', c: [3], o: {}, l: [], s: '' },
  { a: -0, b: NaN, c: undefined, o: { x: null }, l: [null], s: '0' },
];
