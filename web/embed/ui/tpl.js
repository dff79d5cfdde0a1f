// Templates in the lodash.template syntax: <% code %>, <%= expr %> and
// <%- expr %> (HTML-escaped). They are interpreted, not compiled with eval or
// new Function, so widgets work on sites whose CSP forbids 'unsafe-eval'. The
// interpreter understands the JavaScript that templates use: expressions,
// var/let/const, if/else, for (;;), for-in/of, while, break/continue,
// function expressions and arrows (for _.each, forEach, map), and print().
// A template it cannot parse falls back to new Function when the page allows
// it. Member names that reach constructors or prototypes are refused.

const ESC = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;', '`': '&#96;' };

/** escape replaces the HTML-special characters of String(v) (null and undefined give ''). */
export const escape = (v) => (v == null ? '' : String(v)).replace(/[&<>"'`]/g, (c) => ESC[c]);

const own = Object.prototype.hasOwnProperty;
const BAD = { constructor: 1, __proto__: 1, prototype: 1, __defineGetter__: 1, __defineSetter__: 1, __lookupGetter__: 1, __lookupSetter__: 1 };

class TplError extends Error {}

// ---- lexer ----

const PUNCT = ['===', '!==', '**', '...', '==', '!=', '<=', '>=', '&&', '||', '??', '?.', '=>', '++', '--', '+=', '-=', '*=', '/=',
  '{', '}', '(', ')', '[', ']', ';', ',', '<', '>', '+', '-', '*', '/', '%', '!', '?', ':', '=', '.'];

function lexJS(src, out) {
  let i = 0;
  const n = src.length;
  while (i < n) {
    const c = src[i];
    if (/\s/.test(c)) { i++; continue; }
    if (c === '/' && src[i + 1] === '/') { while (i < n && src[i] !== '\n') i++; continue; }
    if (c === '/' && src[i + 1] === '*') { const e = src.indexOf('*/', i + 2); i = e < 0 ? n : e + 2; continue; }
    if (/[0-9]/.test(c) || (c === '.' && /[0-9]/.test(src[i + 1]))) {
      const m = /^(0[xX][0-9a-fA-F]+|\d*\.?\d+(?:[eE][+-]?\d+)?)/.exec(src.slice(i));
      out.push({ t: 'num', v: Number(m[1]) });
      i += m[1].length;
      continue;
    }
    if (/[A-Za-z_$]/.test(c)) {
      const m = /^[A-Za-z0-9_$]+/.exec(src.slice(i));
      out.push({ t: 'id', v: m[0] });
      i += m[0].length;
      continue;
    }
    if (c === '"' || c === "'") {
      let s = '';
      i++;
      while (i < n && src[i] !== c) {
        if (src[i] === '\\') {
          const e = src[++i];
          if (e === 'u') { s += String.fromCharCode(parseInt(src.substr(i + 1, 4), 16)); i += 5; continue; }
          s += e === 'n' ? '\n' : e === 't' ? '\t' : e === 'r' ? '\r' : e;
          i++;
          continue;
        }
        s += src[i++];
      }
      if (i >= n) throw new TplError('unterminated string');
      i++;
      out.push({ t: 'str', v: s });
      continue;
    }
    let p = null;
    for (let k = 0; k < PUNCT.length; k++) if (src.substr(i, PUNCT[k].length) === PUNCT[k]) { p = PUNCT[k]; break; }
    if (!p) throw new TplError('unexpected character ' + c);
    out.push({ t: 'p', v: p });
    i += p.length;
  }
}

// lex turns a template into tokens: text, output markers and JS tokens.
function lex(tpl) {
  const out = [];
  const re = /<%([=-]?)([\s\S]*?)%>/g;
  let last = 0;
  let m;
  while ((m = re.exec(tpl))) {
    if (m.index > last) out.push({ t: 'text', v: tpl.slice(last, m.index) });
    last = re.lastIndex;
    if (m[1]) {
      out.push({ t: 'out', esc: m[1] === '-' });
      lexJS(m[2], out);
      out.push({ t: 'end' });
    } else {
      lexJS(m[2], out);
      out.push({ t: 'p', v: ';' });
    }
  }
  if (last < tpl.length) out.push({ t: 'text', v: tpl.slice(last) });
  out.push({ t: 'eof' });
  return out;
}

// ---- parser ----

const BIN = {
  '??': 1, '||': 2, '&&': 3, '==': 4, '!=': 4, '===': 4, '!==': 4,
  '<': 5, '>': 5, '<=': 5, '>=': 5, in: 5, instanceof: 5, '+': 6, '-': 6, '*': 7, '/': 7, '%': 7, '**': 8,
};

function parse(tpl) {
  const toks = lex(tpl);
  let pos = 0;
  const peek = (o) => toks[pos + (o || 0)];
  const is = (v, o) => { const t = peek(o); return (t.t === 'p' || t.t === 'id') && t.v === v; };
  const next = () => toks[pos++];
  const eat = (v) => { if (is(v)) { pos++; return true; } return false; };
  const want = (v) => { if (!eat(v)) throw new TplError('expected ' + v + ' near ' + JSON.stringify(peek().v || peek().t)); };
  const ident = () => { const t = next(); if (t.t !== 'id') throw new TplError('expected a name'); return t.v; };

  function block(stop) {
    const body = [];
    while (!(stop ? is(stop) : peek().t === 'eof')) {
      if (peek().t === 'eof') throw new TplError('unexpected end of template');
      const s = statement();
      if (s) body.push(s);
    }
    return body;
  }

  function statement() {
    const t = peek();
    if (t.t === 'text') { pos++; return { k: 'text', v: t.v }; }
    if (t.t === 'out') {
      pos++;
      const e = expr();
      if (next().t !== 'end') throw new TplError('expected %> after an output expression');
      return { k: 'out', esc: t.esc, e: e };
    }
    if (eat(';')) return null;
    if (eat('{')) { const b = block('}'); want('}'); return { k: 'block', b: b }; }
    if (t.t === 'id') {
      switch (t.v) {
        case 'var': case 'let': case 'const': { pos++; const d = decl(); eat(';'); return d; }
        case 'if': {
          pos++; want('('); const c = expr(); want(')');
          const a = statement();
          const b = eat('else') ? statement() : null;
          return { k: 'if', c: c, a: a, b: b };
        }
        case 'for': return forStmt();
        case 'while': { pos++; want('('); const c = expr(); want(')'); return { k: 'for', c: c, body: statement() }; }
        case 'return': { pos++; const e = is(';') || is('}') ? null : expr(); eat(';'); return { k: 'return', e: e }; }
        case 'break': pos++; eat(';'); return { k: 'break' };
        case 'continue': pos++; eat(';'); return { k: 'continue' };
      }
    }
    const e = expr();
    eat(';');
    return { k: 'expr', e: e };
  }

  function decl() {
    const list = [];
    do {
      const name = ident();
      list.push([name, eat('=') ? assign() : null]);
    } while (eat(','));
    return { k: 'var', list: list };
  }

  function forStmt() {
    pos++;
    want('(');
    if ((is('var') || is('let') || is('const')) && peek(1).t === 'id' && (is('in', 2) || is('of', 2))) {
      pos++;
      const name = ident();
      const of = next().v === 'of';
      const e = expr();
      want(')');
      return { k: 'forin', name: name, of: of, e: e, body: statement() };
    }
    let init = null;
    if (!is(';')) init = is('var') || is('let') || is('const') ? (pos++, decl()) : { k: 'expr', e: expr() };
    want(';');
    const c = is(';') ? null : expr();
    want(';');
    const u = is(')') ? null : expr();
    want(')');
    return { k: 'for', init: init, c: c, u: u, body: statement() };
  }

  function expr() {
    let e = assign();
    while (eat(',')) e = { k: 'seq', a: e, b: assign() };
    return e;
  }

  function isArrow() {
    if (peek().t === 'id' && is('=>', 1)) return true;
    if (!is('(')) return false;
    let i = 1;
    if (is(')', i)) return is('=>', i + 1);
    for (;;) {
      if (peek(i).t !== 'id') return false;
      i++;
      if (is(')', i)) return is('=>', i + 1);
      if (!is(',', i)) return false;
      i++;
    }
  }

  function arrow() {
    const params = [];
    if (eat('(')) {
      while (!eat(')')) { params.push(ident()); eat(','); }
    } else params.push(ident());
    want('=>');
    if (eat('{')) { const b = block('}'); want('}'); return { k: 'fn', params: params, b: b }; }
    return { k: 'fn', params: params, b: [{ k: 'return', e: assign() }] };
  }

  function assign() {
    if (isArrow()) return arrow();
    const left = cond();
    const t = peek();
    if (t.t === 'p' && (t.v === '=' || t.v === '+=' || t.v === '-=' || t.v === '*=' || t.v === '/=')) {
      if (left.k !== 'id' && left.k !== 'mem') throw new TplError('cannot assign to this');
      pos++;
      return { k: 'assign', op: t.v, l: left, r: assign() };
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
      pos++;
      l = { k: 'bin', op: t.v, l: l, r: binary(t.v === '**' ? p : p + 1) };
    }
  }

  function unary() {
    const t = peek();
    if ((t.t === 'p' && (t.v === '!' || t.v === '-' || t.v === '+')) || (t.t === 'id' && (t.v === 'typeof' || t.v === 'void'))) {
      pos++;
      return { k: 'un', op: t.v, e: unary() };
    }
    if (t.t === 'p' && (t.v === '++' || t.v === '--')) {
      pos++;
      return { k: 'upd', op: t.v, pre: true, e: unary() };
    }
    let e = postfix(primary());
    if (is('++') || is('--')) e = { k: 'upd', op: next().v, pre: false, e: e };
    return e;
  }

  function args() {
    const a = [];
    while (!eat(')')) { a.push(assign()); if (!is(')')) want(','); }
    return a;
  }

  function postfix(e) {
    for (;;) {
      const opt = eat('?.');
      if (opt && eat('(')) e = { k: 'call', f: e, a: args(), opt: true };
      else if (eat('[')) {
        const p = expr();
        want(']');
        e = { k: 'mem', o: e, p: p, opt: opt };
      } else if (opt || eat('.')) e = { k: 'mem', o: e, p: { k: 'lit', v: ident() }, opt: opt };
      else if (eat('(')) e = { k: 'call', f: e, a: args() };
      else return e;
    }
  }

  function primary() {
    const t = next();
    if (t.t === 'num' || t.t === 'str') return { k: 'lit', v: t.v };
    if (t.t === 'id') {
      switch (t.v) {
        case 'true': return { k: 'lit', v: true };
        case 'false': return { k: 'lit', v: false };
        case 'null': return { k: 'lit', v: null };
        case 'undefined': return { k: 'lit', v: undefined };
        case 'this': return { k: 'id', v: 'this' };
        case 'function': {
          if (peek().t === 'id') pos++;
          want('(');
          const params = [];
          while (!eat(')')) { params.push(ident()); eat(','); }
          want('{');
          const b = block('}');
          want('}');
          return { k: 'fn', params: params, b: b };
        }
        case 'new': {
          const c = ident();
          if (c !== 'Date') throw new TplError('only new Date() is allowed');
          const a = eat('(') ? args() : [];
          return { k: 'date', a: a };
        }
      }
      return { k: 'id', v: t.v };
    }
    if (t.t === 'p') {
      if (t.v === '(') { const e = expr(); want(')'); return e; }
      if (t.v === '[') {
        const items = [];
        while (!eat(']')) { items.push(assign()); if (!is(']')) want(','); }
        return { k: 'arr', items: items };
      }
      if (t.v === '{') {
        const props = [];
        while (!eat('}')) {
          const kt = next();
          if (kt.t !== 'id' && kt.t !== 'str' && kt.t !== 'num') throw new TplError('bad object key');
          const key = String(kt.v);
          props.push([key, eat(':') ? assign() : { k: 'id', v: key }]);
          if (!is('}')) want(',');
        }
        return { k: 'obj', props: props };
      }
    }
    throw new TplError('unexpected ' + JSON.stringify(t.v === undefined ? t.t : t.v));
  }

  const body = block(null);
  return body;
}

// ---- evaluation ----

const BREAK = {};
const CONTINUE = {};
class Return { constructor(v) { this.v = v; } }

function key(k) {
  k = String(k);
  if (own.call(BAD, k)) throw new TplError('access to "' + k + '" is not allowed in templates');
  return k;
}

function run(ast, data, globals) {
  let out = '';
  const root = Object.create(null);
  root.print = function () { for (let i = 0; i < arguments.length; i++) out += arguments[i] == null ? '' : String(arguments[i]); };

  const find = (scope, name) => {
    for (let s = scope; s; s = s.$up) if (own.call(s.v, name)) return s.v;
    return null;
  };
  const lookup = (scope, name) => {
    const s = find(scope, name);
    if (s) return s[name];
    if (name === 'this') return undefined;
    if (data != null && typeof data === 'object' && name in data) return data[name];
    if (own.call(root, name)) return root[name];
    if (own.call(globals, name)) return globals[name];
    return undefined;
  };
  const set = (scope, name, v) => {
    const s = find(scope, name);
    if (s) s[name] = v;
    else if (data != null && typeof data === 'object' && own.call(data, name)) data[name] = v;
    else root[name] = v;
    return v;
  };

  function ev(e, sc) {
    switch (e.k) {
      case 'lit': return e.v;
      case 'id': return lookup(sc, e.v);
      case 'mem': {
        const o = ev(e.o, sc);
        if (o == null && e.opt) return undefined;
        return o[key(ev(e.p, sc))];
      }
      case 'call': {
        let self;
        let f;
        if (e.f.k === 'mem') {
          self = ev(e.f.o, sc);
          if (self == null && e.f.opt) return undefined;
          f = self[key(ev(e.f.p, sc))];
        } else f = ev(e.f, sc);
        if (f == null && e.opt) return undefined;
        if (typeof f !== 'function') throw new TplError('not a function');
        const a = [];
        for (let i = 0; i < e.a.length; i++) a.push(ev(e.a[i], sc));
        return f.apply(self, a);
      }
      case 'un': {
        if (e.op === 'typeof') {
          if (e.e.k === 'id' && lookup(sc, e.e.v) === undefined) return 'undefined';
          return typeof ev(e.e, sc);
        }
        const v = ev(e.e, sc);
        return e.op === '!' ? !v : e.op === '-' ? -v : e.op === '+' ? +v : undefined;
      }
      case 'bin': {
        const op = e.op;
        const l = ev(e.l, sc);
        if (op === '&&') return l && ev(e.r, sc);
        if (op === '||') return l || ev(e.r, sc);
        if (op === '??') return l != null ? l : ev(e.r, sc);
        const r = ev(e.r, sc);
        switch (op) {
          case '==': return l == r; // eslint-disable-line eqeqeq
          case '!=': return l != r; // eslint-disable-line eqeqeq
          case '===': return l === r;
          case '!==': return l !== r;
          case '<': return l < r;
          case '>': return l > r;
          case '<=': return l <= r;
          case '>=': return l >= r;
          case '+': return l + r;
          case '-': return l - r;
          case '*': return l * r;
          case '/': return l / r;
          case '%': return l % r;
          case '**': return Math.pow(l, r);
          case 'in': return key(l) in r;
          case 'instanceof': return r === Array ? Array.isArray(l) : l instanceof r;
        }
        throw new TplError('operator ' + op);
      }
      case 'cond': return ev(e.c, sc) ? ev(e.a, sc) : ev(e.b, sc);
      case 'seq': ev(e.a, sc); return ev(e.b, sc);
      case 'assign': {
        let v = ev(e.r, sc);
        if (e.op !== '=') {
          const cur = ev(e.l, sc);
          v = e.op === '+=' ? cur + v : e.op === '-=' ? cur - v : e.op === '*=' ? cur * v : cur / v;
        }
        return store(e.l, v, sc);
      }
      case 'upd': {
        const cur = +ev(e.e, sc);
        const v = e.op === '++' ? cur + 1 : cur - 1;
        store(e.e, v, sc);
        return e.pre ? v : cur;
      }
      case 'arr': return e.items.map((x) => ev(x, sc));
      case 'obj': {
        const o = {};
        for (let i = 0; i < e.props.length; i++) o[key(e.props[i][0])] = ev(e.props[i][1], sc);
        return o;
      }
      case 'date': {
        const a = e.a.map((x) => ev(x, sc));
        return a.length ? new Date(a[0]) : new Date();
      }
      case 'fn': return fn(e, sc);
    }
    throw new TplError('cannot evaluate ' + e.k);
  }

  function store(l, v, sc) {
    if (l.k === 'id') return set(sc, l.v, v);
    const o = ev(l.o, sc);
    o[key(ev(l.p, sc))] = v;
    return v;
  }

  function fn(e, sc) {
    return function () {
      const s = { v: Object.create(null), $up: sc };
      for (let i = 0; i < e.params.length; i++) s.v[e.params[i]] = arguments[i];
      s.v.arguments = arguments;
      const r = exec(e.b, s);
      return r instanceof Return ? r.v : undefined;
    };
  }

  function exec(list, sc) {
    for (let i = 0; i < list.length; i++) {
      const r = stmt(list[i], sc);
      if (r) return r;
    }
    return null;
  }

  function loopBody(body, sc) {
    const r = stmt(body, sc);
    if (r === BREAK) return BREAK;
    if (r instanceof Return) return r;
    return null;
  }

  let steps = 0;
  function stmt(s, sc) {
    switch (s.k) {
      case 'text': out += s.v; return null;
      case 'out': { const v = ev(s.e, sc); out += s.esc ? escape(v) : v == null ? '' : String(v); return null; }
      case 'expr': ev(s.e, sc); return null;
      case 'var':
        for (let i = 0; i < s.list.length; i++) sc.v[s.list[i][0]] = s.list[i][1] ? ev(s.list[i][1], sc) : undefined;
        return null;
      case 'block': return exec(s.b, { v: Object.create(null), $up: sc });
      case 'if': {
        const b = ev(s.c, sc) ? s.a : s.b;
        return b ? stmt(b, sc) : null;
      }
      case 'for': {
        const ls = { v: Object.create(null), $up: sc };
        if (s.init) stmt(s.init, ls);
        for (; !s.c || ev(s.c, ls); s.u && ev(s.u, ls)) {
          if (++steps > 1e6) throw new TplError('a loop runs too long');
          const r = loopBody(s.body, ls);
          if (r === BREAK) break;
          if (r) return r;
        }
        return null;
      }
      case 'forin': {
        const o = ev(s.e, sc);
        if (o == null) return null;
        const items = s.of ? Array.prototype.slice.call(o) : Object.keys(o);
        for (let i = 0; i < items.length; i++) {
          const ls = { v: Object.create(null), $up: sc };
          ls.v[s.name] = items[i];
          const r = loopBody(s.body, ls);
          if (r === BREAK) break;
          if (r) return r;
        }
        return null;
      }
      case 'return': return new Return(s.e ? ev(s.e, sc) : undefined);
      case 'break': return BREAK;
      case 'continue': return CONTINUE;
    }
    throw new TplError('cannot run ' + s.k);
  }

  exec(ast, { v: Object.create(null), $up: null });
  return out;
}

// A small lodash subset that templates commonly call as _.
const each = (c, f) => {
  if (c == null) return c;
  if (typeof c.length === 'number') { for (let i = 0; i < c.length; i++) if (f(c[i], i, c) === false) break; } else {
    for (const k in c) if (own.call(c, k) && f(c[k], k, c) === false) break;
  }
  return c;
};
const lodash = {
  escape: escape,
  each: each,
  forEach: each,
  map: (c, f) => { const r = []; each(c, (v, k) => { r.push(f(v, k, c)); }); return r; },
  filter: (c, f) => { const r = []; each(c, (v, k) => { if (f(v, k, c)) r.push(v); }); return r; },
  isEmpty: (v) => v == null || (typeof v === 'object' ? Object.keys(v).length === 0 : !String(v).length),
  isArray: Array.isArray,
  has: (o, k) => o != null && own.call(o, k),
  keys: (o) => (o == null ? [] : Object.keys(o)),
  get: (o, p, d) => { const ps = String(p).split('.'); for (let i = 0; i < ps.length && o != null; i++) o = o[key(ps[i])]; return o === undefined ? d : o; },
};

/** globals are the names a template sees besides its data. */
export const globals = {
  _: lodash,
  Math: Math,
  JSON: JSON,
  String: String,
  Number: Number,
  Boolean: Boolean,
  Array: { isArray: Array.isArray },
  Object: { keys: Object.keys, values: (o) => Object.keys(o).map((k) => o[k]) },
  parseInt: parseInt,
  parseFloat: parseFloat,
  isNaN: isNaN,
  encodeURIComponent: encodeURIComponent,
  Date: { now: Date.now },
};

const cache = {};

/**
 * compile returns fn(data) -> string for a lodash.template source. Data keys
 * are variables, and Comagic and the names of globals are reachable.
 */
export function compile(tpl) {
  tpl = String(tpl);
  if (own.call(cache, tpl)) return cache[tpl];
  let f;
  try {
    const ast = parse(tpl);
    f = (data) => {
      const g = Object.assign({}, globals, { Comagic: window.Comagic });
      return run(ast, data, g);
    };
  } catch (e) {
    if (!(e instanceof TplError)) throw e;
    f = viaFunction(tpl, e);
  }
  cache[tpl] = f;
  return f;
}

// viaFunction compiles what the interpreter cannot parse the way lodash does;
// it needs a CSP that allows 'unsafe-eval'.
function viaFunction(tpl, why) {
  let src = "var __p='';with(obj){__p+='";
  let last = 0;
  const re = /<%([=-]?)([\s\S]*?)%>/g;
  const lit = (s) => s.replace(/[\\']/g, '\\$&').replace(/\n/g, '\\n').replace(/\r/g, '\\r').replace(/\u2028/g, '\\u2028').replace(/\u2029/g, '\\u2029');
  let m;
  while ((m = re.exec(tpl))) {
    src += lit(tpl.slice(last, m.index));
    last = re.lastIndex;
    if (m[1] === '-') src += "'+__e(" + m[2] + ")+'";
    else if (m[1] === '=') src += "'+((__t=(" + m[2] + "))==null?'':__t)+'";
    else src += "';\n" + m[2] + "\n__p+='";
  }
  src += lit(tpl.slice(last)) + "';}return __p;";
  let f;
  try {
    f = new Function('obj', '__e', '_', 'Comagic', 'print', 'var __t;' + src); // eslint-disable-line no-new-func
  } catch (e) {
    throw new Error('template: ' + why.message + (e instanceof EvalError ? ' (and the page\'s CSP forbids eval)' : '; ' + e.message));
  }
  return (data) => f(data || {}, escape, lodash, window.Comagic);
}

/** render runs template tpl with data and returns the HTML. */
export const render = (tpl, data) => compile(tpl)(data || {});
