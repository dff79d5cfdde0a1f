// A small JSON codec of our own. Host pages sometimes replace window.JSON or add
// members to Array.prototype / String.prototype (old Prototype.js, MooTools,
// hand-written polyfills) which breaks the native serialiser; the embed script
// must not depend on any of that.

import { hasOwn, isArr } from './util.js';

const ESC = { '"': '\\"', '\\': '\\\\', '\b': '\\b', '\f': '\\f', '\n': '\\n', '\r': '\\r', '\t': '\\t' };

function quote(s) {
  let out = '"';
  for (let i = 0; i < s.length; i++) {
    const c = s.charAt(i);
    const n = s.charCodeAt(i);
    if (ESC[c]) out += ESC[c];
    else if (n < 0x20 || n === 0x2028 || n === 0x2029) out += '\\u' + ('000' + n.toString(16)).slice(-4);
    else out += c;
  }
  return out + '"';
}

/** encode serialises v like JSON.stringify, ignoring toJSON hooks and
 * functions, and cutting cycles at a fixed depth. */
export function encode(v, depth) {
  depth = depth || 0;
  if (v === null || v === undefined || depth > 32) return 'null';
  const t = typeof v;
  if (t === 'boolean') return v ? 'true' : 'false';
  if (t === 'number') return isFinite(v) ? String(v) : 'null';
  if (t === 'string') return quote(v);
  if (t === 'function' || t === 'symbol') return 'null';
  if (v instanceof Date) return isFinite(v.getTime()) ? quote(v.toISOString()) : 'null';
  if (t === 'object' && (v instanceof String || v instanceof Number || v instanceof Boolean)) return encode(v.valueOf(), depth);
  let out = '';
  if (isArr(v)) {
    for (let i = 0; i < v.length; i++) out += (i ? ',' : '') + encode(v[i], depth + 1);
    return '[' + out + ']';
  }
  for (const k in v) {
    if (!hasOwn(v, k)) continue;
    const x = v[k];
    if (x === undefined || typeof x === 'function' || typeof x === 'symbol') continue;
    out += (out ? ',' : '') + quote(k) + ':' + encode(x, depth + 1);
  }
  return '{' + out + '}';
}

const UNESC = { b: '\b', f: '\f', n: '\n', r: '\r', t: '\t', '"': '"', '\\': '\\', '/': '/' };
const NUM = /-?(0|[1-9]\d*)(\.\d+)?([eE][+-]?\d+)?/y;

/** decode parses strict JSON text; it throws SyntaxError on bad input. */
export function decode(text) {
  const s = String(text);
  let i = 0;
  const fail = () => { throw new SyntaxError('Comagic: bad JSON at ' + i); };
  const ws = () => { while (i < s.length && ' \t\n\r'.indexOf(s.charAt(i)) >= 0) i++; };
  const lit = (w, v) => { if (s.substr(i, w.length) !== w) fail(); i += w.length; return v; };
  function str() {
    let out = '';
    i++;
    for (;;) {
      if (i >= s.length) fail();
      const c = s.charAt(i++);
      if (c === '"') return out;
      if (c !== '\\') { out += c; continue; }
      const e = s.charAt(i++);
      if (e === 'u') {
        const h = s.substr(i, 4);
        if (!/^[0-9a-fA-F]{4}$/.test(h)) fail();
        out += String.fromCharCode(parseInt(h, 16));
        i += 4;
      } else if (hasOwn(UNESC, e)) out += UNESC[e];
      else fail();
    }
  }
  function val() {
    ws();
    const c = s.charAt(i);
    if (c === '{') {
      const o = {};
      i++; ws();
      if (s.charAt(i) === '}') { i++; return o; }
      for (;;) {
        ws();
        if (s.charAt(i) !== '"') fail();
        const k = str();
        ws();
        if (s.charAt(i++) !== ':') fail();
        const x = val();
        if (k !== '__proto__') o[k] = x;
        ws();
        const d = s.charAt(i++);
        if (d === '}') return o;
        if (d !== ',') fail();
      }
    }
    if (c === '[') {
      const a = [];
      i++; ws();
      if (s.charAt(i) === ']') { i++; return a; }
      for (;;) {
        a[a.length] = val();
        ws();
        const d = s.charAt(i++);
        if (d === ']') return a;
        if (d !== ',') fail();
      }
    }
    if (c === '"') return str();
    if (c === 't') return lit('true', true);
    if (c === 'f') return lit('false', false);
    if (c === 'n') return lit('null', null);
    NUM.lastIndex = i;
    const m = NUM.exec(s);
    if (!m) fail();
    i += m[0].length;
    return +m[0];
  }
  const v = val();
  ws();
  if (i !== s.length) fail();
  return v;
}
