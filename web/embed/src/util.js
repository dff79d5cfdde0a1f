// Small helpers shared by the embed modules. Nothing here may throw into the
// host page or rely on prototypes the page might have patched.

export const w = window;
export const doc = document;
export const isArr = Array.isArray;
const own = Object.prototype.hasOwnProperty;

/** hasOwn reports whether o has its own property k. */
export const hasOwn = (o, k) => o != null && own.call(o, k);

/** later runs fn on a fresh task, so callbacks are always asynchronous. */
export const later = (fn, ms) => setTimeout(fn, ms || 0);

function log(kind, msg) {
  try {
    const c = w.console;
    if (c && typeof c[kind] === 'function') c[kind]('Comagic: ' + msg);
  } catch (e) { /* a broken console must not break the page */ }
}

/** warn prints a warning prefixed with "Comagic: ". */
export const warn = (msg) => log('warn', msg);

/** errMsg turns anything thrown into a short text. */
export const errMsg = (e) => (e && e.message) || String(e);

/** guard wraps a public method so that it never throws into the page. */
export function guard(name, fn) {
  return function () {
    try {
      return fn.apply(this, arguments);
    } catch (e) {
      warn(name + '() failed: ' + errMsg(e));
    }
  };
}

/** invoke calls a page-supplied callback, reporting (not rethrowing) its errors. */
export function invoke(cb, arg) {
  if (typeof cb !== 'function') return;
  try {
    cb(arg);
  } catch (e) {
    log('error', 'your callback threw: ' + errMsg(e));
  }
}

/** filled reports whether v is a usable non-empty scalar argument. */
export const filled = (v) => (typeof v === 'string' && v !== '') || (typeof v === 'number' && isFinite(v));

/** copy returns a shallow copy of the own enumerable properties of o. */
export function copy(o) {
  const r = {};
  for (const k in o) if (hasOwn(o, k)) r[k] = o[k];
  return r;
}
