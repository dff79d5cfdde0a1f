// Entry point of cs.min.js: the loader. It finds the site key and the server
// (three generations of embed code), defines window.Comagic, window.ComagicWidget
// and window.__cs, runs the queued commands in order and starts the single
// bootstrap request of the page view.

import { api, boot, S } from './core.js';
import { comagicStubs, widgetStubs } from './features.js';
import { storage } from './storage.js';
import { on, startWidgets, un } from './ui.js';
import { doc, errMsg, guard, hasOwn, isArr, later, w, warn } from './util.js';

const MARK = '__comagicd';

// normBase turns "//host/comagic", "https://host/x/" or a script URL prefix into
// an absolute API base without a trailing slash and without the legacy
// "/comagic" path (the API lives at the server root).
function normBase(href) {
  const a = doc.createElement('a');
  a.href = String(href);
  let path = (a.pathname || '').replace(/\/+$/, '').replace(/\/comagic$/, '');
  if (path && path.charAt(0) !== '/') path = '/' + path;
  return a.protocol + '//' + a.host + path;
}

const SRC = /^(.*?)\/static\/cs(\.min)?\.js(\?.*)?$/;

function ownScript() {
  const cur = doc.currentScript;
  if (cur && SRC.test(cur.src || '')) return cur;
  const all = doc.getElementsByTagName('script');
  for (let i = all.length - 1; i >= 0; i--) if (SRC.test(all[i].src || '')) return all[i];
  return null;
}

const methods = {};

function setKey(k) {
  if (typeof k !== 'string' || !/^[A-Za-z0-9]{1,64}$/.test(k)) {
    warn('setCsAccount: the site key "' + String(k).slice(0, 40) + '" is not valid');
    return;
  }
  if (S.started && S.siteKey !== k) {
    warn('the site key is already set for this page; ignoring ' + k);
    return;
  }
  S.siteKey = k;
  later(boot);
}

function setHost(h) {
  if (typeof h !== 'string' || !h) return warn('setHost: a host such as "//comagic.example.com" is required');
  if (S.started) return warn('setHost after the page was tracked has no effect');
  S.base = normBase(h);
}

// Configuration commands of the queue. Others are public methods by name.
const commands = {
  setCsAccount: setKey,
  setAccount: setKey,
  setHost: setHost,
  setCsHost: setHost,
  setDynamicalReplacement: (on) => { S.cfg.dynamical = on !== false && on !== 0 && on !== 'false'; },
  setUIPhoneMaskFormat: (mask) => { S.cfg.mask = String(mask == null ? '' : mask); },
  disableWidgets: (on) => { S.cfg.widgetsOff = on !== false && on !== 0 && on !== 'false'; },
  applyWidgetsOptions: (o) => {
    if (!o || typeof o !== 'object') return warn('applyWidgetsOptions expects an object');
    for (const k in o) if (hasOwn(o, k)) S.cfg.widgetsOptions[k] = o[k];
  },
};

// run executes one queue entry: ["command", args...], ["method", [args]] or a function.
function run(cmd) {
  try {
    if (typeof cmd === 'function') {
      cmd();
      return;
    }
    if (!cmd || typeof cmd.length !== 'number' || typeof cmd[0] !== 'string') {
      warn('ignoring a malformed command; push ["name", args...]');
      return;
    }
    const name = cmd[0];
    let args = Array.prototype.slice.call(cmd, 1);
    if (hasOwn(commands, name)) {
      commands[name].apply(null, args);
      return;
    }
    const fn = methods[name];
    if (typeof fn !== 'function') {
      warn('unknown command "' + name + '"');
      return;
    }
    if (args.length === 1 && isArr(args[0])) args = args[0];
    fn.apply(null, args);
  } catch (e) {
    warn('command failed: ' + errMsg(e));
  }
}

function push() {
  for (let i = 0; i < arguments.length; i++) run(arguments[i]);
  return 0;
}

function drain(q) {
  if (!q || q === queue || typeof q.length !== 'number') return;
  for (let i = 0; i < q.length; i++) run(q[i]);
}

const queue = { push: guard('push', push) };

function install(script) {
  const stubs = comagicStubs();
  const C = {};
  for (const k in stubs) if (hasOwn(stubs, k)) C[k] = stubs[k];
  for (const k in api) {
    if (!hasOwn(api, k)) continue;
    C[k] = methods[k] = guard(k, api[k]);
  }
  for (const k in stubs) if (hasOwn(stubs, k) && typeof stubs[k] === 'function') methods[k] = stubs[k];
  C.push = queue.push;
  C.storage = storage;
  C.on = guard('on', on);
  C.un = guard('un', un);
  Object.defineProperty(C, MARK, { value: true });
  w.Comagic = C;
  w.ComagicWidget = widgetStubs();
  if (typeof w.__cs_onReplacePhones !== 'function') w.__cs_onReplacePhones = () => true;

  if (script) {
    const m = SRC.exec(script.src);
    S.base = normBase(m[1] + '/');
    const k = /[?&]k=([^&#]*)/.exec(m[3] || '');
    if (k) setKey(decodeURIComponent(k[1]));
  }

  const pending = w.__cs;
  // Keep window.__cs pointing at our queue even when a later script assigns a
  // fresh array to it (commands pushed after load then still run). A page
  // that declared "var __cs" first owns a non-configurable property; then a
  // plain assignment is all we can do, and all that is needed.
  try {
    Object.defineProperty(w, '__cs', { configurable: true, get: () => queue, set: guard('__cs', drain) });
  } catch (e) {
    w.__cs = queue;
  }
  drain(pending);
  startWidgets();
  if (!S.siteKey) later(() => { if (!S.siteKey) warn('no site key: push ["setCsAccount", "<site_key>"] or load cs.min.js?k=<site_key>'); }, 3000);
}

function main() {
  const script = ownScript();
  const prev = w.Comagic;
  if (prev && prev[MARK]) {
    // Loaded twice: the first copy does all the work, so nothing is tracked twice.
    const k = script && /[?&]k=([^&#]*)/.exec(script.src);
    if (k) prev.push(['setCsAccount', decodeURIComponent(k[1])]);
    return;
  }
  install(script);
}

try {
  main();
} catch (e) {
  warn('failed to start: ' + errMsg(e));
}
