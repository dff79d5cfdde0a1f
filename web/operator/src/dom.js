// DOM helpers. Untrusted text only ever reaches the page as text nodes or
// textContent: h() turns every string child into a text node and sets no
// attribute from which HTML or script could come (no innerHTML anywhere).

/**
 * h creates an element. props: class, text, on<event> handlers, dataset,
 * boolean/DOM properties (hidden, disabled, checked, value) and plain
 * attributes; children: nodes, strings (as text) or arrays of them.
 */
export function h(tag, props, ...kids) {
  const el = document.createElement(tag);
  if (props) {
    for (const k of Object.keys(props)) {
      const v = props[k];
      if (v === undefined || v === null || v === false) continue;
      if (k === 'class') el.className = v;
      else if (k === 'text') el.textContent = String(v);
      else if (k === 'dataset') Object.assign(el.dataset, v);
      else if (k.slice(0, 2) === 'on' && typeof v === 'function') el.addEventListener(k.slice(2), v);
      else if (k === 'hidden' || k === 'disabled' || k === 'checked' || k === 'value' || k === 'selected' || k === 'multiple') el[k] = v;
      else if (k === 'href' || k === 'src') el.setAttribute(k, safeURL(v));
      else el.setAttribute(k, v === true ? '' : String(v));
    }
  }
  add(el, kids);
  return el;
}

function add(el, kids) {
  for (const c of kids) {
    if (c === undefined || c === null || c === false) continue;
    if (Array.isArray(c)) add(el, c);
    else el.appendChild(typeof c === 'object' ? c : document.createTextNode(String(c)));
  }
}

/** fill replaces the children of el. */
export function fill(el, ...kids) {
  while (el.firstChild) el.removeChild(el.firstChild);
  add(el, kids);
  return el;
}

/** safeURL keeps http(s) and same-origin relative URLs; anything else becomes '#'. */
export function safeURL(u) {
  try {
    const url = new URL(String(u), location.href);
    if (url.protocol === 'http:' || url.protocol === 'https:' || url.protocol === 'blob:') return url.href;
  } catch (e) { /* not a URL */ }
  return '#';
}

/** uid returns a random id for a message (idempotent resends). */
export function uid() {
  const b = new Uint8Array(12);
  crypto.getRandomValues(b);
  return 'ws-' + Array.prototype.map.call(b, (x) => (x + 256).toString(16).slice(1)).join('');
}

/** clock formats unix seconds as HH:MM (today) or DD.MM HH:MM. */
export function clock(sec) {
  if (!sec) return '';
  const d = new Date(sec * 1000);
  const now = new Date();
  const p = (n) => (n < 10 ? '0' : '') + n;
  const hm = p(d.getHours()) + ':' + p(d.getMinutes());
  if (d.toDateString() === now.toDateString()) return hm;
  return p(d.getDate()) + '.' + p(d.getMonth() + 1) + (d.getFullYear() !== now.getFullYear() ? '.' + d.getFullYear() : '') + ' ' + hm;
}

/** since formats a duration in seconds as 45 s / 3 min / 1 h 5 min, with the unit words given. */
export function duration(sec, u) {
  sec = Math.max(0, Math.floor(sec));
  if (sec < 60) return sec + ' ' + u.s;
  const m = Math.floor(sec / 60);
  if (m < 60) return m + ' ' + u.m;
  const hr = Math.floor(m / 60);
  return hr + ' ' + u.h + (m % 60 ? ' ' + (m % 60) + ' ' + u.m : '');
}

/** bytes formats a size. */
export function bytes(n) {
  if (n < 1024) return n + ' B';
  if (n < 1024 * 1024) return (n / 1024).toFixed(n < 10240 ? 1 : 0) + ' KB';
  return (n / 1048576).toFixed(1) + ' MB';
}

/** toast shows a short message at the bottom of the screen. */
export function toast(text, kind) {
  let box = document.getElementById('toasts');
  if (!box) {
    box = h('div', { id: 'toasts', class: 'toasts', role: 'status', 'aria-live': 'polite' });
    document.body.appendChild(box);
  }
  const t = h('div', { class: 'toast' + (kind ? ' toast--' + kind : ''), text });
  box.appendChild(t);
  setTimeout(() => t.remove(), kind === 'error' ? 7000 : 4000);
}

/** shortURL is a URL for reading: without the scheme and a trailing slash. */
export function shortURL(u) {
  return String(u || '').replace(/^https?:\/\//, '').replace(/\/$/, '');
}

/** phoneText writes a stored phone (digits, or E.164) for people: Russian
 * numbers as +7 (912) 345-67-89, others as +digits; anything else as given. */
export function phoneText(p) {
  const d = String(p || '').replace(/\D/g, '');
  if (/^7\d{10}$/.test(d)) return '+7 (' + d.slice(1, 4) + ') ' + d.slice(4, 7) + '-' + d.slice(7, 9) + '-' + d.slice(9);
  return d.length >= 10 && d.length <= 15 ? '+' + d : String(p || '');
}
