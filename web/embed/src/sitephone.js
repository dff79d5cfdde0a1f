// Callback orders (SPEC §8): ComagicWidget.sitePhoneCall(params, cb?) and its
// aliases. The parameters go to POST /api/track/<site_key>/callback as the page
// gave them (the server copes with every form seen in the wild); the callback
// gets the server's {success, result: {status, code}}. Without a callback the
// visitor sees a popup with the outcome.

import { sendCallback } from './core.js';
import { callText } from './calltexts.js';
import { doc, hasOwn, invoke, later } from './util.js';

/** PARAMS are the documented parameters of sitePhoneCall. */
const PARAMS = ['phone', 'captcha_key', 'captcha_value', 'delayed_call_time', 'group_id'];

const fail = (status, code) => ({ success: false, result: { status: status, code: String(code || '') } });

/**
 * callback orders a callback: params are sitePhoneCall's, source names who
 * ordered it (sitephone, consultant_sitephone, call_generator), values are
 * the other fields of a form; cb gets {success, result: {status, code}}
 * exactly once and never throws into the page.
 */
export function callback(params, source, values, cb) {
  const b = {};
  if (params && typeof params === 'object') {
    for (let i = 0; i < PARAMS.length; i++) {
      const k = PARAMS[i];
      try {
        const v = params[k];
        if (hasOwn(params, k) && v !== undefined && typeof v !== 'function') b[k] = v;
      } catch (e) { /* a throwing getter: left out */ }
    }
  }
  if (source) b.source = String(source);
  if (values && typeof values === 'object') b.values = values;
  sendCallback(b, (d, r) => {
    const st = r ? r.status : 0;
    let res;
    if (r && st === 200 && d.result && typeof d.result === 'object') res = { success: d.success === true, result: d.result };
    else if (!r || !st) res = fail(3, 'network');
    else res = fail(st === 429 ? 4 : 3, (d.error && d.error.code) || 'http_' + st);
    invoke(cb, res);
  });
}

let shown = null;

/** popup shows the outcome of a callback order the way the vendor's script
 * does when sitePhoneCall gets no callback: a small dialog, text only. */
export function popup(r) {
  const t = callText(r);
  if (shown) shown();
  const box = doc.createElement('div');
  const card = doc.createElement('div');
  const h = doc.createElement('div');
  const p = doc.createElement('div');
  const ok = doc.createElement('button');
  box.className = 'comagic-call-popup';
  box.setAttribute('role', 'alertdialog');
  box.setAttribute('aria-modal', 'false');
  box.setAttribute('aria-live', 'assertive');
  card.className = 'comagic-call-popup__card';
  h.className = 'comagic-call-popup__title';
  p.className = 'comagic-call-popup__message';
  ok.className = 'comagic-call-popup__close';
  ok.type = 'button';
  h.textContent = t.title;
  p.textContent = t.message;
  ok.textContent = 'OK';
  // Styles go through the CSSOM, which a strict CSP allows.
  box.style.cssText = 'position:fixed;left:0;right:0;bottom:24px;z-index:2147483600;display:flex;justify-content:center;pointer-events:none;padding:0 16px';
  card.style.cssText = 'pointer-events:auto;max-width:380px;width:100%;box-sizing:border-box;padding:18px 20px;border-radius:14px;background:#fff;color:#1c2430;' +
    'font:400 15px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,Arial,sans-serif;box-shadow:0 18px 48px rgba(16,24,40,.25),0 2px 8px rgba(16,24,40,.12);' +
    'border-top:4px solid ' + (r && r.success ? '#2e9e44' : '#c62828');
  h.style.cssText = 'font-weight:700;font-size:17px;margin:0 0 4px';
  p.style.cssText = 'margin:0 0 14px;color:#3d4756';
  ok.style.cssText = 'font:inherit;font-weight:700;padding:8px 22px;border:0;border-radius:10px;cursor:pointer;color:#fff;background:#1c2430';
  card.appendChild(h);
  card.appendChild(p);
  card.appendChild(ok);
  box.appendChild(card);
  let timer = 0;
  const close = () => {
    clearTimeout(timer);
    doc.removeEventListener('keydown', esc, true);
    if (box.parentNode) box.parentNode.removeChild(box);
    if (shown === close) shown = null;
  };
  const esc = (e) => { if (e.key === 'Escape') close(); };
  ok.addEventListener('click', close);
  doc.addEventListener('keydown', esc, true);
  (doc.body || doc.documentElement).appendChild(box);
  try { ok.focus({ preventScroll: true }); } catch (e) { /* not focusable */ }
  timer = later(close, 10000);
  shown = close;
}

/** sitePhoneCall implements ComagicWidget.sitePhoneCall(params, cb?). */
export function sitePhoneCall(params, cb) {
  callback(params, 'sitephone', null, typeof cb === 'function' ? cb : popup);
}
