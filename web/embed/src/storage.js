// Comagic.storage: a tiny key/value store that persists across the pages of the
// site (localStorage), falling back to memory when storage is unavailable.

import { decode, encode } from './json.js';
import { hasOwn, w } from './util.js';

const mem = {};

function area(kind) {
  try {
    const s = w[kind];
    const t = '_cmg_t';
    s.setItem(t, t);
    s.removeItem(t);
    return s;
  } catch (e) {
    return null;
  }
}

/** load reads a JSON value stored under name, or undefined. */
export function load(kind, name) {
  const s = area(kind);
  let raw = s ? s.getItem(name) : hasOwn(mem, kind + name) ? mem[kind + name] : null;
  if (raw === null || raw === undefined) return undefined;
  try { return decode(raw); } catch (e) { return undefined; }
}

/** save stores v (JSON-encoded) under name; undefined removes it. */
export function save(kind, name, v) {
  const s = area(kind);
  const raw = v === undefined ? null : encode(v);
  try {
    if (s) {
      if (raw === null) s.removeItem(name);
      else s.setItem(name, raw);
      return;
    }
  } catch (e) { /* quota exceeded: fall through to memory */ }
  if (raw === null) delete mem[kind + name];
  else mem[kind + name] = raw;
}

/** storage is the public Comagic.storage object. */
export const storage = {
  getItem(key) {
    const v = load('localStorage', '_cmg_st.' + key);
    return v === undefined ? null : v;
  },
  setItem(key, value) {
    save('localStorage', '_cmg_st.' + key, value);
  },
  removeItem(key) {
    save('localStorage', '_cmg_st.' + key, undefined);
  },
};
