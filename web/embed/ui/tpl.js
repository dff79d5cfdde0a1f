// Templates in the lodash.template syntax (lodash 4.17.21): <% code %>,
// <%= expr %>, <%- expr %> (HTML-escaped) and ${expr} in the text. They are
// interpreted, not compiled with eval or new Function, so widgets work on
// sites whose CSP forbids 'unsafe-eval'; the output is the same as
// lodash.template's (web/tplconf checks that). The interpreter knows the
// JavaScript templates use: expressions (regular expressions and template
// literals too), var/let/const, function declarations and expressions,
// arrows, if/else, for (;;), for-in/of, while, do-while, switch, try/catch,
// throw, break/continue/return, and print(). Variables resolve as under
// lodash's `with (obj)`: the data's own keys, then the template's own
// variables (`obj` is the data), then `_` (a lodash subset) and a few globals
// (Comagic, Math, JSON, Date, ...); any other name is a ReferenceError, as
// in lodash. Unlike lodash, names never reach prototypes: `constructor`,
// `__proto__`, `prototype` and the __define/lookup*__ methods are refused as
// variables and as members, the data's inherited keys are not variables,
// `this` outside methods is undefined, not window, and assigning an
// undeclared name makes a template variable, not a global. A template the
// interpreter cannot parse is compiled as lodash does with new Function,
// which needs 'unsafe-eval' and runs it as plain JavaScript.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
const own = Object.prototype.hasOwnProperty;
// BAD are the names that lead to constructors and prototypes.
const BAD = /^(constructor|__proto__|prototype|__(define|lookup)[GS]etter__)$/;
const RESERVED = ' break case catch class const continue debugger default delete do else enum export extends finally for function if import in instanceof new return super switch throw try typeof var void while with ';

// str converts v as lodash's toString does: null and undefined give '', -0
// gives '-0' and arrays join their items converted the same way.
const str = (v) => (v == null ? '' : typeof v === 'string' ? v : Array.isArray(v) ? v.map((x) => (x == null ? String(x) : str(x))) + '' : v + '' === '0' && 1 / v < 0 ? '-0' : v + '');

/** escape replaces the HTML-special characters &<>"' of v, as _.escape does (null and undefined give ''). */
export const escape = (v) => str(v).replace(/[&<>"']/g, (c) => ESC[c]);

class TplError extends Error {}

// The delimiters of lodash.template's default settings, in its order:
// escape, interpolate, ES interpolate, evaluate.
const DELIM = /<%-([\s\S]+?)%>|<%=([\s\S]+?)%>|\$\{([^\\}]*(?:\\.[^\\}]*)*)\}|<%([\s\S]+?)%>/g;

// scan calls text(s) for the text of tpl and code(src, kind) for each
// delimiter, kind being '-', '=' or '' (evaluate).
function scan(tpl, text, code) {
  let last = 0;
  let m;
  DELIM.lastIndex = 0;
  while ((m = DELIM.exec(tpl))) {
    text(tpl.slice(last, m.index));
    last = DELIM.lastIndex;
    if (m[1] !== undefined) code(m[1], '-');
    else if (m[4] !== undefined) code(m[4], '');
    else code(m[2] !== undefined ? m[2] : m[3], '=');
  }
  text(tpl.slice(last));
}

// ---- lexer ----

const PUNCT = /(>>>=|\.\.\.|===|!==|\*\*=|<<=|>>>|>>=|&&=|\|\|=|\?\?=|=>|==|!=|<=|>=|&&|\|\||\?\?|\?\.(?!\d)|\+\+|--|\+=|-=|\*=|\/=|%=|&=|\|=|\^=|\*\*|<<|>>|[{}()[\];,<>+\-*/%!?:=.&|^~])/y;
const SIMPLE_ESC = { n: '\n', t: '\t', r: '\r', b: '\b', f: '\f', v: '\v', 0: '\0' };
const VALUE_END = /^([)\]}]|\+\+|--|num|str|re|tpl)$/;

// lexJS appends the tokens of JavaScript source src, from i, to out. With
// brace set it stops at an unmatched } (the end of a ${…} in a template
// literal) and returns its index.
function lexJS(src, out, i, brace) {
  const n = src.length;
  let nl = false;
  let depth = 0;
  const push = (t) => { t.nl = nl; nl = false; out.push(t); };
  // strChars reads a string body up to the quote q; it returns [text, end].
  const strChars = (q) => {
    let s = '';
    while (i < n && src[i] !== q) {
      if (q === '`' && src[i] === '$' && src[i + 1] === '{') break;
      let c = src[i++];
      if (c === '\\') {
        c = src[i++];
        if (c === 'x' || c === 'u') {
          const m = (c === 'x' ? /^[0-9a-fA-F]{2}/ : /^(?:[0-9a-fA-F]{4}|\{[0-9a-fA-F]+\})/).exec(src.substr(i, 10));
          if (!m) throw new TplError('bad escape');
          s += String.fromCodePoint(parseInt(m[0].replace(/[{}]/g, ''), 16));
          i += m[0].length;
        } else if (c === '\r' || c === '\n' || c === '\u2028' || c === '\u2029') {
          if (c === '\r' && src[i] === '\n') i++;
        } else s += own.call(SIMPLE_ESC, c) ? SIMPLE_ESC[c] : c;
      } else if (q !== '`' && /[\n\r]/.test(c)) throw new TplError('unterminated string');
      else s += c;
    }
    if (i >= n) throw new TplError('unterminated string');
    return s;
  };
  while (i < n) {
    const c = src[i];
    if (/[\n\r\u2028\u2029]/.test(c)) { nl = true; i++; continue; }
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < n && !/[\n\r\u2028\u2029]/.test(src[i])) i++; continue; }
    if (c === '/' && src[i + 1] === '*') {
      const e = src.indexOf('*/', i + 2);
      if (e < 0) throw new TplError('unterminated comment');
      if (/[\n\r\u2028\u2029]/.test(src.slice(i, e))) nl = true;
      i = e + 2;
      continue;
    }
    const prev = out[out.length - 1];
    const afterValue = prev && (VALUE_END.test(prev.t === 'p' ? prev.v : prev.t) || (prev.t === 'id' && RESERVED.indexOf(' ' + prev.v + ' ') < 0));
    if (c === '/' && !afterValue) {
      const m = /^\/((?:[^\\/[\n\r]|\\.|\[(?:[^\]\\\n\r]|\\.)*\])+)\/([a-z]*)/.exec(src.slice(i));
      if (!m) throw new TplError('bad regular expression');
      try { new RegExp(m[1], m[2]); } catch (e) { throw new TplError(e.message); } // eslint-disable-line no-new
      push({ t: 're', v: m[1], f: m[2] });
      i += m[0].length;
      continue;
    }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1]))) {
      const m = /^(0[xX][0-9a-fA-F]+|0[oO][0-7]+|0[bB][01]+|(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?)(?![\w$])/.exec(src.slice(i));
      if (!m) throw new TplError('bad number');
      push({ t: 'num', v: Number(m[1]) });
      i += m[1].length;
      continue;
    }
    if (/[A-Za-z_$\u0080-\uffff]/.test(c)) {
      const m = /^[\w$\u0080-\uffff]+/.exec(src.slice(i));
      push({ t: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      i++;
      const s = strChars(c);
      i++;
      push({ t: 'str', v: s });
      continue;
    }
    if (c === '`') {
      // A template literal: its strings and the tokens of each ${…}.
      const t = { t: 'tpl', q: [], e: [] };
      i++;
      for (;;) {
        t.q.push(strChars('`'));
        if (src[i] === '`') break;
        const toks = [];
        i = lexJS(src, toks, i + 2, true);
        toks.push({ t: 'eof' });
        t.e.push(toks);
        i++;
      }
      i++;
      push(t);
      continue;
    }
    PUNCT.lastIndex = i;
    const m = PUNCT.exec(src);
    if (!m) throw new TplError('unexpected character ' + c);
    if (m[1] === '{') depth++;
    if (m[1] === '}' && brace && depth-- === 0) return i;
    push({ t: 'p', v: m[1] });
    i += m[1].length;
  }
  if (brace) throw new TplError('unterminated template literal');
  return i;
}

// lex turns a template into tokens: text, output markers and JS tokens.
// Like lodash it ends the code of each <% %> with a semicolon.
function lex(tpl) {
  const out = [];
  let evaluates = false;
  let nl = false;
  const mark = (t) => { t.nl = nl; nl = false; out.push(t); };
  scan(tpl, (s) => { if (s) mark({ t: 'text', v: s }); }, (src, kind) => {
    // lodash ends the code with ";" (evaluate) or "))" on the same line: a
    // // comment that reaches the end swallows them.
    const comment = /\/\/[^\n\r\u2028\u2029]*$/.test(src.replace(/(["'`])(?:\\[\s\S]|(?!\1)[^\\])*\1|\/\*[\s\S]*?\*\//g, ''));
    if (kind) {
      if (comment) throw new TplError('a // comment ends the expression');
      mark({ t: 'out', esc: kind === '-' });
      lexJS(src, out, 0);
      out.push({ t: 'end' });
    } else {
      evaluates = true;
      const n = out.length;
      lexJS(src, out, 0);
      if (out.length > n) out[n].nl = out[n].nl || nl;
      nl = comment;
      if (!comment) out.push({ t: 'p', v: ';' });
    }
  });
  out.push({ t: 'eof' });
  return { toks: out, evaluates: evaluates };
}

// ---- parser ----

const BIN = {
  '??': 1, '||': 1, '&&': 2, '|': 3, '^': 4, '&': 5, '==': 6, '!=': 6, '===': 6, '!==': 6,
  '<': 7, '>': 7, '<=': 7, '>=': 7, in: 7, instanceof: 7, '<<': 8, '>>': 8, '>>>': 8,
  '+': 9, '-': 9, '*': 10, '/': 10, '%': 10, '**': 11,
};
const ASSIGN = /^(=|\+=|-=|\*=|\/=|%=|\*\*=|<<=|>>=|>>>=|&=|\|=|\^=|&&=|\|\|=|\?\?=)$/;

// parser returns the parsing functions over the tokens toks; vars collects
// the names declared with var in the function being parsed.
function parser(toks, vars) {
  let pos = 0;
  const peek = (o) => toks[pos + (o || 0)];
  const is = (v, o) => { const t = peek(o); return (t.t === 'p' || t.t === 'id') && t.v === v; };
  const next = () => toks[pos++];
  const eat = (v) => { if (is(v)) { pos++; return true; } return false; };
  const fail = (what) => { throw new TplError(what + ' near ' + JSON.stringify(peek().v === undefined ? peek().t : peek().v)); };
  const want = (v) => { if (!eat(v)) fail('expected ' + v); };
  const ident = () => { const t = next(); if (t.t !== 'id' || RESERVED.indexOf(' ' + t.v + ' ') >= 0) { pos--; fail('expected a name'); } return t.v; };
  // semi ends a statement: a semicolon, or (automatic insertion) a line
  // break, a }, or the end.
  const semi = () => { if (!eat(';') && !is('}') && !peek().nl && peek().t !== 'eof') fail('expected ;'); };

  function block(stop) {
    const body = [];
    while (!(stop ? is(stop) : peek().t === 'eof')) {
      if (peek().t === 'eof') fail('unexpected end');
      const s = statement();
      if (s) body.push(s);
    }
    return body;
  }

  function braces() { want('{'); const b = block('}'); want('}'); return b; }

  function statement() {
    const t = peek();
    if (t.t === 'text' || t.t === 'out') {
      // Text and output up to the next <% %> are one `__p += …` in lodash.
      const parts = [];
      while (peek().t === 'text' || peek().t === 'out') {
        const p = next();
        if (p.t === 'text') { parts.push(p.v); continue; }
        parts.push({ esc: p.esc, e: expr() });
        if (next().t !== 'end') { pos--; fail('expected %>'); }
      }
      return { k: 'emit', parts: parts };
    }
    if (eat(';')) return null;
    if (t.t === 'p' && t.v === '{') return { k: 'block', b: braces() };
    if (t.t === 'id') {
      switch (t.v) {
        case 'var': case 'let': case 'const': { pos++; const d = decl(t.v); semi(); return d; }
        case 'function': { pos++; const name = ident(); return { k: 'fdecl', name: name, f: func(name) }; }
        case 'if': {
          pos++; want('('); const c = expr(); want(')');
          const a = statement();
          return { k: 'if', c: c, a: a, b: eat('else') ? statement() : null };
        }
        case 'for': return forStmt();
        case 'while': { pos++; want('('); const c = expr(); want(')'); return { k: 'for', c: c, body: statement() }; }
        case 'do': {
          pos++; const body = statement(); want('while'); want('('); const c = expr(); want(')'); eat(';');
          return { k: 'for', c: c, body: body, first: true };
        }
        case 'switch': {
          pos++; want('('); const d = expr(); want(')'); want('{');
          const cases = [];
          while (!eat('}')) {
            const test = eat('default') ? null : (want('case'), expr());
            want(':');
            const b = [];
            while (!is('case') && !is('default') && !is('}')) { const s = statement(); if (s) b.push(s); }
            cases.push({ t: test, b: b });
          }
          return { k: 'switch', d: d, cases: cases };
        }
        case 'try': {
          pos++;
          const s = { k: 'try', b: braces(), p: null, c: null, f: null };
          if (eat('catch')) { if (eat('(')) { s.p = ident(); want(')'); } s.c = braces(); }
          if (eat('finally')) s.f = braces();
          if (!s.c && !s.f) fail('expected catch');
          return s;
        }
        case 'throw': { pos++; if (peek().nl) fail('line break after throw'); const e = expr(); semi(); return { k: 'throw', e: e }; }
        case 'return': {
          pos++;
          const e = is(';') || is('}') || peek().nl || peek().t === 'eof' ? null : expr();
          semi();
          return { k: 'return', e: e };
        }
        case 'break': case 'continue': pos++; semi(); return { k: t.v };
      }
    }
    const e = expr();
    semi();
    return { k: 'expr', e: e };
  }

  function decl(kind) {
    const list = [];
    do {
      const name = ident();
      if (kind === 'var') vars.push(name);
      list.push([name, eat('=') ? assign() : null]);
    } while (eat(','));
    return { k: 'var', kind: kind, list: list };
  }

  function forStmt() {
    pos++;
    want('(');
    const kind = is('var') || is('let') || is('const') ? peek().v : null;
    const o = kind ? 1 : 0;
    if (peek(o).t === 'id' && (is('in', o + 1) || is('of', o + 1))) {
      pos += o;
      const name = ident();
      if (kind === 'var') vars.push(name);
      const of = next().v === 'of';
      const e = of ? assign() : expr();
      want(')');
      return { k: 'forin', kind: kind, name: name, of: of, e: e, body: statement() };
    }
    let init = null;
    if (!is(';')) init = kind ? (pos++, decl(kind)) : { k: 'expr', e: expr() };
    want(';');
    const c = is(';') ? null : expr();
    want(';');
    const u = is(')') ? null : expr();
    want(')');
    return { k: 'for', init: init, c: c, u: u, body: statement() };
  }

  // func parses the parameters and body of a function (after its name).
  function func(name, arrow) {
    const params = [];
    const fv = [];
    if (arrow && peek().t === 'id') params.push(ident());
    else {
      want('(');
      while (!eat(')')) { params.push(ident()); if (!is(')')) want(','); }
    }
    if (arrow) want('=>');
    const sub = parser(toks, fv);
    sub.at(pos);
    let b;
    if (arrow && !is('{')) b = [{ k: 'return', e: sub.assign() }];
    else b = sub.braces();
    pos = sub.pos();
    return { k: 'fn', name: name, params: params, b: b, arrow: arrow, vars: fv };
  }

  function expr() {
    let e = assign();
    while (eat(',')) e = { k: 'seq', a: e, b: assign() };
    return e;
  }

  // isArrow tells an arrow function ahead: no line break before its =>.
  function isArrow() {
    const arrowAt = (i) => is('=>', i) && !peek(i).nl;
    if (peek().t === 'id') return arrowAt(1);
    if (!is('(')) return false;
    let i = 1;
    if (is(')', i)) return arrowAt(i + 1);
    for (;;) {
      if (peek(i).t !== 'id') return false;
      i++;
      if (is(')', i)) return arrowAt(i + 1);
      if (!is(',', i)) return false;
      i++;
    }
  }

  function assign() {
    if (isArrow()) return func(null, true);
    const left = cond();
    const t = peek();
    if (t.t === 'p' && ASSIGN.test(t.v)) {
      if (left.k !== 'id' && left.k !== 'mem') fail('cannot assign');
      pos++;
      return { k: 'assign', op: t.v.slice(0, -1), l: left, r: assign() };
    }
    return left;
  }

  function cond() {
    const c = binary(1);
    if (!eat('?')) return c;
    const a = assign();
    want(':');
    return { k: 'cond', c: c, a: a, b: assign() };
  }

  function binary(min) {
    let l = unary();
    for (;;) {
      const t = peek();
      const p = (t.t === 'p' || t.t === 'id') && own.call(BIN, t.v) ? BIN[t.v] : 0;
      if (!p || p < min) return l;
      if (t.v === '**' && l.k === 'un' && !l.par) fail('parenthesize the operand of **');
      pos++;
      l = { k: 'bin', op: t.v, l: l, r: binary(t.v === '**' ? p : p + 1) };
    }
  }

  function unary() {
    const t = peek();
    if ((t.t === 'p' && /^[!~+-]$/.test(t.v)) || (t.t === 'id' && /^(typeof|void|delete)$/.test(t.v))) {
      pos++;
      return { k: 'un', op: t.v, e: unary() };
    }
    if (is('++') || is('--')) {
      pos++;
      return { k: 'upd', op: t.v, pre: true, e: target(unary()) };
    }
    let e = postfix(primary(), true);
    if ((is('++') || is('--')) && !peek().nl) e = { k: 'upd', op: next().v, e: target(e) };
    return e;
  }

  function target(e) { if (e.k !== 'id' && e.k !== 'mem') fail('cannot assign'); return e; }

  function args() {
    const a = [];
    want('(');
    while (!eat(')')) { a.push(assign()); if (!is(')')) want(','); }
    return a;
  }

  // postfix reads member accesses and (when calls is set) calls after e; a
  // chain with ?. short-circuits as a whole.
  function postfix(e, calls) {
    let chain = false;
    for (;;) {
      const opt = eat('?.');
      if (opt) chain = true;
      if (is('[')) {
        pos++;
        const p = expr();
        want(']');
        e = { k: 'mem', o: e, p: p, opt: opt };
      } else if (is('(') && calls) e = { k: 'call', f: e, a: args(), opt: opt };
      else if (opt || eat('.')) {
        if (peek().t !== 'id') fail('expected a name');
        e = { k: 'mem', o: e, p: { k: 'lit', v: next().v }, opt: opt };
      } else if (peek().t === 'tpl') fail('tagged templates are not supported');
      else return chain ? { k: 'chain', e: e } : e;
    }
  }

  function primary() {
    const t = next();
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 're') return { k: 're', v: t.v, f: t.f };
    if (t.t === 'tpl') {
      return {
        k: 'tpl',
        q: t.q,
        e: t.e.map((toks) => { const sub = parser(toks, vars); const e = sub.expr(); sub.end(); return e; }),
      };
    }
    if (t.t === 'id') {
      switch (t.v) {
        case 'true': return { k: 'lit', v: true };
        case 'false': return { k: 'lit', v: false };
        case 'null': return { k: 'lit', v: null };
        case 'this': return { k: 'this' };
        case 'function': return func(peek().t === 'id' ? ident() : null);
        case 'new': {
          const f = is('new') ? primary() : postfix(primary(), false);
          return { k: 'new', f: f, a: is('(') ? args() : [] };
        }
      }
      if (RESERVED.indexOf(' ' + t.v + ' ') >= 0) { pos--; fail('unexpected'); }
      return { k: 'id', v: t.v };
    }
    if (t.t === 'p') {
      if (t.v === '(') { const e = expr(); want(')'); e.par = true; return e; }
      if (t.v === '[') {
        const items = [];
        while (!eat(']')) { items.push(assign()); if (!is(']')) want(','); }
        return { k: 'arr', items: items };
      }
      if (t.v === '{') {
        const props = [];
        while (!eat('}')) {
          let k;
          if (eat('[')) { k = assign(); want(']'); } else {
            const kt = next();
            if (kt.t !== 'id' && kt.t !== 'str' && kt.t !== 'num') { pos--; fail('bad object key'); }
            k = { k: 'lit', v: String(kt.v) };
            if (kt.t === 'id' && !is(':') && !is('(')) { props.push([k, { k: 'id', v: kt.v }]); if (!is('}')) want(','); continue; }
          }
          props.push([k, is('(') ? func(null) : (want(':'), assign())]);
          if (!is('}')) want(',');
        }
        return { k: 'obj', props: props };
      }
    }
    pos--;
    return fail('unexpected');
  }

  return {
    block: block,
    braces: braces,
    expr: expr,
    assign: assign,
    at: (p) => { pos = p; },
    pos: () => pos,
    end: () => { if (peek().t !== 'eof') fail('unexpected'); },
  };
}

// ---- evaluation ----

const BREAK = {};
const CONTINUE = {};
const SHORT = {};
const TDZ = {};
const CONST = Symbol('const');
// live passes v on, unless it marks a let or const not yet declared.
const live = (v, name) => { if (v === TDZ) throw new ReferenceError('cannot access ' + name + ' before its declaration'); return v; };
class Return { constructor(v) { this.v = v; } }

const OPS = {
  '==': (a, b) => a == b, // eslint-disable-line eqeqeq
  '!=': (a, b) => a != b, // eslint-disable-line eqeqeq
  '===': (a, b) => a === b,
  '!==': (a, b) => a !== b,
  '<': (a, b) => a < b,
  '>': (a, b) => a > b,
  '<=': (a, b) => a <= b,
  '>=': (a, b) => a >= b,
  '+': (a, b) => a + b,
  '-': (a, b) => a - b,
  '*': (a, b) => a * b,
  '/': (a, b) => a / b,
  '%': (a, b) => a % b,
  '**': (a, b) => a ** b,
  '&': (a, b) => a & b,
  '|': (a, b) => a | b,
  '^': (a, b) => a ^ b,
  '<<': (a, b) => a << b,
  '>>': (a, b) => a >> b,
  '>>>': (a, b) => a >>> b,
  in: (a, b) => { if (Object(b) !== b) throw new TypeError("cannot use 'in' on " + b); return key(a) in b; },
  instanceof: (a, b) => a instanceof b,
};

function key(k) {
  k = typeof k === 'symbol' ? k : String(k);
  if (typeof k === 'string' && BAD.test(k)) throw new TplError('access to "' + k + '" is not allowed in templates');
  return k;
}

// get reads o[k], failing as JavaScript does on null and undefined.
function get(o, k) {
  if (o == null) throw new TypeError('cannot read "' + String(k) + '" of ' + o);
  return o[key(k)];
}

// put sets o[k] the way sloppy-mode code (lodash's templates) does:
// quietly nothing on primitives and read-only properties.
function put(o, k, v) {
  if (o == null) throw new TypeError('cannot set "' + String(k) + '" of ' + o);
  k = key(k);
  if (Object(o) === o) Reflect.set(o, k, v);
  return v;
}

// run executes a parsed template with data (the `obj` of lodash) and the
// names g besides it.
function run(prog, data, g) {
  let out = '';
  let steps = 0;
  // The scopes: the template's own (its vars, print, obj), inside it the
  // data (lodash's with (obj)), inside that the top-level block.
  const top = { v: Object.create(null), up: null, f: true, self: undefined };
  top.v.obj = data;
  if (prog.evaluates) top.v.print = function () { out += Array.prototype.join.call(arguments, ''); };
  // var does not reset print or obj.
  for (let i = 0; i < prog.vars.length; i++) if (!own.call(top.v, prog.vars[i])) top.v[prog.vars[i]] = undefined;
  const withScope = { v: Object.create(null), w: Object(data), up: top };

  const holder = (sc, name) => {
    key(name);
    for (let s = sc; s; s = s.up) {
      if (own.call(s.v, name)) return s.v;
      if (s.w && own.call(s.w, name)) return s.w;
    }
    return null;
  };
  const lookup = (sc, name, soft) => {
    const h = holder(sc, name);
    if (h) return live(h[name], name);
    if (own.call(g, name)) return g[name];
    if (soft) return undefined;
    throw new ReferenceError(name + ' is not defined');
  };
  // set assigns a variable; an undeclared one becomes a template variable.
  const set = (sc, name, v) => {
    const h = holder(sc, name);
    if (h && h[CONST] && h[CONST][name] && h[name] !== TDZ) throw new TypeError('assignment to the constant ' + name);
    if (h) put(h, name, (live(h[name], name), v));
    else top.v[name] = v;
    return v;
  };

  function ev(e, sc) {
    switch (e.k) {
      case 'lit': return e.v;
      case 're': return new RegExp(e.v, e.f);
      case 'tpl': {
        let s = e.q[0];
        for (let i = 0; i < e.e.length; i++) s += String(ev(e.e[i], sc)) + e.q[i + 1];
        return s;
      }
      case 'id': return lookup(sc, e.v);
      case 'this': {
        for (let s = sc; s; s = s.up) if (s.f) return s.self;
        return undefined;
      }
      case 'chain':
        try { return ev(e.e, sc); } catch (x) { if (x === SHORT) return undefined; throw x; }
      case 'mem': {
        const o = ev(e.o, sc);
        if (o == null && e.opt) throw SHORT;
        return get(o, ev(e.p, sc));
      }
      case 'call': {
        let self;
        let f;
        if (e.f.k === 'mem') {
          self = ev(e.f.o, sc);
          if (self == null && e.f.opt) throw SHORT;
          f = get(self, ev(e.f.p, sc));
        } else f = ev(e.f, sc);
        if (f == null && e.opt) throw SHORT;
        const a = e.a.map((x) => ev(x, sc));
        if (typeof f !== 'function') throw new TypeError(describe(e.f) + ' is not a function');
        return f.apply(self, a);
      }
      case 'new': {
        const f = ev(e.f, sc);
        const a = e.a.map((x) => ev(x, sc));
        if (typeof f !== 'function') throw new TypeError(describe(e.f) + ' is not a constructor');
        return new f(...a); // eslint-disable-line new-cap
      }
      case 'un': {
        if (e.op === 'typeof') return typeof (e.e.k === 'id' ? lookup(sc, e.e.v, true) : ev(e.e, sc));
        if (e.op === 'delete') {
          if (e.e.k !== 'mem') { if (e.e.k !== 'id') ev(e.e, sc); return e.e.k !== 'id'; }
          const o = ev(e.e.o, sc);
          if (o == null) throw new TypeError('cannot delete a property of ' + o);
          const k = key(ev(e.e.p, sc));
          return Object(o) === o ? Reflect.deleteProperty(o, k) : true;
        }
        const v = ev(e.e, sc);
        return e.op === '!' ? !v : e.op === '-' ? -v : e.op === '+' ? +v : e.op === '~' ? ~v : undefined;
      }
      case 'bin': {
        const l = ev(e.l, sc);
        if (e.op === '&&') return l && ev(e.r, sc);
        if (e.op === '||') return l || ev(e.r, sc);
        if (e.op === '??') return l != null ? l : ev(e.r, sc);
        return OPS[e.op](l, ev(e.r, sc));
      }
      case 'cond': return ev(e.c, sc) ? ev(e.a, sc) : ev(e.b, sc);
      case 'seq': ev(e.a, sc); return ev(e.b, sc);
      case 'assign': return modify(e.l, sc, e.op !== '', (cur) => {
        if (e.op === '') return ev(e.r, sc);
        if (e.op === '&&') return cur && ev(e.r, sc);
        if (e.op === '||') return cur || ev(e.r, sc);
        if (e.op === '??') return cur != null ? cur : ev(e.r, sc);
        return OPS[e.op](cur, ev(e.r, sc));
      });
      case 'upd': {
        let old;
        const v = modify(e.e, sc, true, (cur) => { old = +cur; return e.op === '++' ? old + 1 : old - 1; });
        return e.pre ? v : old;
      }
      case 'arr': return e.items.map((x) => ev(x, sc));
      case 'obj': {
        const o = {};
        for (let i = 0; i < e.props.length; i++) {
          const k = key(ev(e.props[i][0], sc));
          o[k] = ev(e.props[i][1], sc);
        }
        return o;
      }
      case 'fn': return fn(e, sc);
    }
    throw new TplError('cannot evaluate ' + e.k);
  }

  // modify assigns to the variable or member l the value f(current value);
  // the current value is read only when read is set.
  function modify(l, sc, read, f) {
    if (l.k === 'id') return set(sc, l.v, f(read ? lookup(sc, l.v) : undefined));
    const o = ev(l.o, sc);
    const k = ev(l.p, sc);
    return put(o, k, f(read ? get(o, k) : undefined));
  }

  function fn(e, sc) {
    const f = function () {
      const s = { v: Object.create(null), up: sc, f: !e.arrow, self: this };
      if (e.name) s.v[e.name] = f;
      for (let i = 0; i < e.vars.length; i++) s.v[key(e.vars[i])] = undefined;
      if (!e.arrow) s.v.arguments = arguments;
      for (let i = 0; i < e.params.length; i++) s.v[key(e.params[i])] = arguments[i];
      const r = exec(e.b, s);
      return r instanceof Return ? r.v : undefined;
    };
    return f;
  }

  // exec runs a statement list; function declarations come first, and
  // let and const are in their dead zone until declared.
  function exec(list, sc) {
    for (let i = 0; i < list.length; i++) {
      const s = list[i];
      if (s.k === 'fdecl') sc.v[key(s.name)] = fn(s.f, sc);
      if (s.k === 'var' && s.kind !== 'var') s.list.forEach((d) => { sc.v[key(d[0])] = TDZ; });
    }
    for (let i = 0; i < list.length; i++) {
      const r = stmt(list[i], sc);
      if (r) return r;
    }
    return null;
  }

  const scope = (sc) => ({ v: Object.create(null), up: sc });

  // pass runs a loop body once; it answers true to stop the loop and
  // keeps a return in state.r (continue just ends the pass).
  function pass(body, sc, state) {
    if (++steps > 1e6) throw new TplError('a loop runs too long');
    const r = stmt(body, sc);
    if (r === BREAK) return true;
    if (r instanceof Return) { state.r = r; return true; }
    return false;
  }

  function stmt(s, sc) {
    switch (s.k) {
      case 'emit': {
        // Like lodash's `__p += 'text' + value + …`: print() calls inside
        // the values are overwritten.
        const base = out;
        let t = '';
        for (let i = 0; i < s.parts.length; i++) {
          const p = s.parts[i];
          if (typeof p === 'string') t += p;
          else {
            const v = ev(p.e, sc);
            t += p.esc ? escape(v) : v == null ? '' : v;
          }
        }
        out = base + t;
        return null;
      }
      case 'expr': ev(s.e, sc); return null;
      case 'var':
        for (let i = 0; i < s.list.length; i++) {
          const d = s.list[i];
          if (s.kind === 'var') { if (d[1]) set(sc, d[0], ev(d[1], sc)); } else {
            sc.v[key(d[0])] = d[1] ? ev(d[1], sc) : undefined;
            if (s.kind === 'const') (sc.v[CONST] = sc.v[CONST] || {})[d[0]] = 1;
          }
        }
        return null;
      case 'fdecl': return null;
      case 'block': return exec(s.b, scope(sc));
      case 'if': {
        const b = ev(s.c, sc) ? s.a : s.b;
        return b ? stmt(b, sc) : null;
      }
      case 'for': {
        const ls = scope(sc);
        const st = {};
        if (s.init) stmt(s.init, ls);
        for (let first = s.first; first || !s.c || ev(s.c, ls); s.u && ev(s.u, ls)) {
          first = false;
          if (pass(s.body, ls, st)) break;
        }
        return st.r || null;
      }
      case 'forin': {
        const o = ev(s.e, sc);
        let items;
        if (s.of) {
          if (o == null || typeof o[Symbol.iterator] !== 'function') throw new TypeError(describe(s.e) + ' is not iterable');
          items = Array.from(o);
        } else {
          items = [];
          for (const k in o) items.push(k); // eslint-disable-line guard-for-in
        }
        const st = {};
        for (let i = 0; i < items.length; i++) {
          const ls = scope(sc);
          if (s.kind === 'let' || s.kind === 'const') ls.v[key(s.name)] = items[i];
          else set(sc, s.name, items[i]);
          if (pass(s.body, ls, st)) break;
        }
        return st.r || null;
      }
      case 'switch': {
        const v = ev(s.d, sc);
        const ls = scope(sc);
        let at = -1;
        for (let i = 0; i < s.cases.length && at < 0; i++) if (s.cases[i].t && ev(s.cases[i].t, ls) === v) at = i;
        if (at < 0) at = s.cases.findIndex((c) => !c.t);
        for (let i = Math.max(at, 0); at >= 0 && i < s.cases.length; i++) {
          const r = exec(s.cases[i].b, ls);
          if (r === BREAK) break;
          if (r) return r;
        }
        return null;
      }
      case 'try': {
        try {
          return exec(s.b, scope(sc));
        } catch (x) {
          if (!s.c || x === SHORT) throw x;
          const cs = scope(sc);
          if (s.p) cs.v[key(s.p)] = x;
          return exec(s.c, cs);
        } finally {
          const r = s.f && exec(s.f, scope(sc));
          if (r) return r; // eslint-disable-line no-unsafe-finally
        }
      }
      case 'throw': throw ev(s.e, sc);
      case 'return': return new Return(s.e ? ev(s.e, sc) : undefined);
      case 'break': return BREAK;
      case 'continue': return CONTINUE;
    }
    throw new TplError('cannot run ' + s.k);
  }

  // A return at the top ends lodash's function with its value.
  const r = exec(prog.b, scope(withScope));
  return r instanceof Return ? r.v : out;
}

// describe names an expression in error messages.
const describe = (e) => (e.k === 'id' ? e.v : e.k === 'mem' && e.p.k === 'lit' ? describe(e.o) + '.' + e.p.v : 'the value');

// ---- a lodash subset, as _ ----

const arrayLike = (c) => c != null && typeof c !== 'function' && typeof c.length === 'number' && c.length >= 0 && c.length % 1 === 0;

// path splits a lodash property path: a.b[0]["c"].
const path = (o, p) => {
  if (Array.isArray(p)) return p;
  p = String(p);
  if (!/[.[]/.test(p) || (o != null && p in Object(o))) return [p];
  const r = [];
  p.replace(/([^.[\]]+)|\[(?:(["'])(.*?)\2|([^\]]*))\]/g, (m, name, q, quoted, raw) => { r.push(name !== undefined ? name : q ? quoted : raw); });
  return r;
};
const dig = (o, p) => {
  const ps = path(o, p);
  for (let i = 0; i < ps.length && o != null; i++) o = o[key(ps[i])];
  return o;
};
// iteratee turns a lodash iteratee (a function, a property path or an
// object to match) into a function.
const iteratee = (f) => {
  if (typeof f === 'function') return f;
  if (f == null) return (v) => v;
  if (typeof f === 'object') return (v) => Object.keys(f).every((k) => v != null && v[key(k)] === f[k]);
  return (v) => dig(v, f);
};
const each = (c, f) => {
  if (c == null) return c;
  if (arrayLike(c)) { for (let i = 0; i < c.length; i++) if (f(c[i], i, c) === false) break; } else {
    const ks = Object.keys(Object(c));
    for (let i = 0; i < ks.length; i++) if (f(c[ks[i]], ks[i], c) === false) break;
  }
  return c;
};
const lodash = {
  escape: escape,
  each: each,
  forEach: each,
  map: (c, f) => { f = iteratee(f); const r = []; each(c, (v, k) => { r.push(f(v, k, c)); }); return r; },
  filter: (c, f) => { f = iteratee(f); const r = []; each(c, (v, k) => { if (f(v, k, c)) r.push(v); }); return r; },
  isEmpty: (v) => {
    if (v == null) return true;
    if (Array.isArray(v) || typeof v === 'string') return !v.length;
    for (const k in v) if (own.call(v, k)) return false;
    return true;
  },
  isArray: Array.isArray,
  has: (o, p) => {
    const ps = path(o, p);
    for (let i = 0; i < ps.length; i++) {
      if (o == null || !own.call(o, ps[i])) return false;
      o = o[key(ps[i])];
    }
    return ps.length > 0;
  },
  keys: (o) => (o == null ? [] : Object.keys(Object(o))),
  get: (o, p, d) => { const v = o == null ? undefined : dig(o, p); return v === undefined ? d : v; },
};

// Obj is Object without what leads to prototypes (getPrototypeOf,
// getOwnPropertyDescriptors, ...).
function Obj(v) { return Object(v); }
Object.defineProperty(Obj, Symbol.hasInstance, { value: (v) => v instanceof Object });
['keys', 'values', 'entries', 'assign', 'freeze', 'isFrozen', 'is', 'fromEntries'].forEach((k) => { Obj[k] = Object[k]; });

/** globals are the names a template sees besides its data and its own variables. */
export const globals = {
  _: lodash,
  Math: Math,
  JSON: JSON,
  String: String,
  Number: Number,
  Boolean: Boolean,
  Array: Array,
  Date: Date,
  RegExp: RegExp,
  Error: Error,
  TypeError: TypeError,
  RangeError: RangeError,
  ReferenceError: ReferenceError,
  SyntaxError: SyntaxError,
  Object: Obj,
  parseInt: parseInt,
  parseFloat: parseFloat,
  isNaN: isNaN,
  isFinite: isFinite,
  encodeURIComponent: encodeURIComponent,
  decodeURIComponent: decodeURIComponent,
  undefined: undefined,
  NaN: NaN,
  Infinity: Infinity,
};

/**
 * interpret parses a lodash.template source and returns fn(data) -> string
 * that interprets it; it throws when the interpreter cannot parse it.
 */
export function interpret(tpl) {
  const vars = [];
  const l = lex(String(tpl));
  const p = parser(l.toks, vars);
  const prog = { b: p.block(null), vars: vars, evaluates: l.evaluates };
  return (data) => run(prog, data || {}, Object.assign({}, globals, { Comagic: window.Comagic }));
}

const cache = {};

/**
 * compile returns fn(data) -> string for a lodash.template source: the
 * interpreter, or new Function (as lodash compiles) for what it cannot parse.
 */
export function compile(tpl) {
  tpl = String(tpl);
  if (own.call(cache, tpl)) return cache[tpl];
  let f;
  try {
    f = interpret(tpl);
  } catch (e) {
    if (!(e instanceof TplError)) throw e;
    f = viaFunction(tpl, e);
  }
  cache[tpl] = f;
  return f;
}

const LIT = { '\n': 'n', '\r': 'r', '\u2028': 'u2028', '\u2029': 'u2029' };

// viaFunction compiles tpl into the function lodash.template would make;
// it needs a CSP that allows 'unsafe-eval'.
function viaFunction(tpl, why) {
  let src = "__p += '";
  let evaluates = false;
  scan(tpl, (s) => { src += s.replace(/['\n\r\u2028\u2029\\]/g, (c) => '\\' + (LIT[c] || c)); }, (code, kind) => {
    if (kind === '-') src += "' +\n__e(" + code + ") +\n'";
    else if (kind === '=') src += "' +\n((__t = (" + code + ")) == null ? '' : __t) +\n'";
    else { evaluates = true; src += "';\n" + code + ";\n__p += '"; }
  });
  src = "obj || (obj = {});\nvar __t, __p = '', __e = _.escape" +
    (evaluates ? ", __j = Array.prototype.join;\nfunction print() { __p += __j.call(arguments, '') }\n" : ';\n') +
    'with (obj) {\n' + src + "';\n}\nreturn __p";
  let f;
  try {
    f = new Function('_', 'return function (obj) {\n' + src + '\n}')(lodash); // eslint-disable-line no-new-func
  } catch (e) {
    throw new Error('template: ' + why.message + (e instanceof EvalError ? " (and the page's CSP forbids eval)" : '; ' + e.message));
  }
  return f;
}

/** render runs template tpl with data and returns the HTML. */
export const render = (tpl, data) => compile(tpl)(data || {});
