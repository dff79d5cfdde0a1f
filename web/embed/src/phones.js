// Phone-number replacement (SPEC §9): the bootstrap and hit answers say which
// number stands where ("phones"); this module writes them into the page,
// after every answer (so also after reinitTrackView) and, with
// setDynamicalReplacement, into content added later. window.__cs_onReplacePhones
// decides first. Untrusted text reaches the DOM only through textContent,
// node data and attributes.

import { hooks, S, send } from './core.js';
import { doc, errMsg, hasOwn, isArr, w, warn } from './util.js';

const P = {
  list: [], // [{id, type, value, img, text, raw, dt}]
  replaced: {}, // id -> raw actually written
  dts: {}, // id -> dt of what was written
  prev: {}, // id -> numbers written before (found again after a change)
  gate: null, // the answer of __cs_onReplacePhones
  obs: null,
  timer: 0,
};

const SKIP = /^(SCRIPT|STYLE|NOSCRIPT|TEXTAREA|TITLE|TEMPLATE|svg)$/;
const INLINE = /^(A|ABBR|B|BDI|BDO|BIG|CITE|CODE|EM|FONT|I|KBD|LABEL|MARK|NOBR|Q|S|SAMP|SMALL|SPAN|STRONG|SUB|SUP|TIME|TT|U|VAR|WBR)$/;
const SEP = '[\\s\\u00a0().\\-]*';

/** phoneEntries returns the getPhones() array: [{id, img, text, raw, dt?}]. */
function entries(onlyDT) {
  const out = [];
  for (let i = 0; i < P.list.length; i++) {
    const p = P.list[i];
    if (onlyDT && !p.dt) continue;
    const e = { id: p.id, img: p.img || null, text: p.text || null, raw: p.raw };
    if (p.dt) e.dt = true;
    out.push(e);
  }
  return out;
}

/** api holds Comagic.getPhones, getDTPhones and getReplacedPhones. */
export const phonesApi = {
  getPhones: () => entries(false),
  getDTPhones() {
    const l = entries(true);
    return l.length ? l : null;
  },
  getReplacedPhones(type) {
    const out = {};
    for (const id in P.replaced) {
      if (!hasOwn(P.replaced, id)) continue;
      const raw = P.replaced[id];
      if (type !== 'dynamic' && type !== 'static') {
        out[id] = raw;
        continue;
      }
      if ((type === 'dynamic') !== P.dts[id]) continue;
      (out[raw] = out[raw] || []).push(id);
    }
    return out;
  },
};

// take reads the numbers of a bootstrap or hit answer and replaces.
hooks.phones = (d) => {
  const l = isArr(d.phones) ? d.phones : [];
  P.list = [];
  for (let i = 0; i < l.length; i++) {
    const p = l[i];
    if (p && typeof p.id === 'string' && /^\d{8,15}$/.test(String(p.raw))) P.list.push(p);
  }
  clearInterval(P.timer);
  const hb = +d.phones_heartbeat_s;
  if (hb > 0) {
    P.timer = setInterval(() => {
      if (doc.visibilityState !== 'hidden') send('phones/heartbeat', {}, false, () => {});
    }, hb * 1000);
  }
  if (doc.readyState === 'loading') doc.addEventListener('DOMContentLoaded', () => run(true));
  else run(true);
};

// run asks __cs_onReplacePhones (on full runs) and replaces in root.
function run(full, roots) {
  if (!P.list.length) return;
  if (full || P.gate === null) {
    let ok = true;
    try {
      if (typeof w.__cs_onReplacePhones === 'function') ok = w.__cs_onReplacePhones(entries(false)) !== false;
    } catch (e) {
      warn('__cs_onReplacePhones threw: ' + errMsg(e));
    }
    P.gate = ok;
  }
  if (!P.gate || !doc.body) return;
  if (P.obs) P.obs.disconnect();
  try {
    roots = roots || [doc.body];
    for (let i = 0; i < roots.length; i++) for (let j = 0; j < P.list.length; j++) place(roots[i], P.list[j]);
  } catch (e) {
    warn('number replacement failed: ' + errMsg(e));
  }
  watch();
}

// watch replaces in content added later when setDynamicalReplacement is on.
function watch() {
  if (!S.cfg.dynamical || typeof MutationObserver !== 'function') return;
  if (!P.obs) {
    P.obs = new MutationObserver((recs) => {
      const roots = [];
      for (let i = 0; i < recs.length; i++) {
        const r = recs[i];
        if (r.type === 'characterData') roots.push(r.target.parentNode);
        for (let j = 0; j < r.addedNodes.length; j++) {
          const n = r.addedNodes[j];
          roots.push(n.nodeType === 3 ? n.parentNode : n);
        }
      }
      const live = roots.filter((n) => n && n.nodeType === 1 && doc.documentElement.contains(n));
      if (live.length) run(false, live);
    });
  }
  P.obs.observe(doc.body, { childList: true, subtree: true, characterData: true });
}

function cssOf(p) {
  const v = String(p.value);
  const q = (s) => '"' + s.replace(/["\\]/g, '\\$&') + '"';
  if (p.type === 'id') return '[id=' + q(v) + ']';
  if (p.type === 'class') return '[class~=' + q(v) + ']';
  if (p.type === 'name') return '[name=' + q(v) + ']';
  return v;
}

// place writes the number p into root wherever p's selector points.
function place(root, p) {
  if (p.type === 'phone_number') {
    const nums = [String(p.value)].concat(P.prev[p.id] || []);
    let hit = false;
    for (let i = 0; i < nums.length; i++) if (nums[i] !== p.raw && inText(root, nums[i], p)) hit = true;
    if (telLinks(root, nums, p)) hit = true;
    if (hit) mark(p);
    return;
  }
  let els;
  try {
    els = Array.prototype.slice.call(root.querySelectorAll(cssOf(p)));
    if (root.matches && root.matches(cssOf(p))) els.push(root);
  } catch (e) {
    warn('phone selector ' + p.id + ' is not valid CSS');
    return;
  }
  for (let i = 0; i < els.length; i++) {
    const el = els[i];
    if (/^(INPUT|TEXTAREA)$/.test(el.tagName)) {
      if (el.value !== p.text) el.value = p.text;
    } else if (el.textContent !== p.text) {
      el.textContent = p.text;
    }
    setTel(el.closest ? el.closest('a[href^="tel:"]') : null, p);
    const links = el.querySelectorAll ? el.querySelectorAll('a[href^="tel:"]') : [];
    for (let j = 0; j < links.length; j++) setTel(links[j], p);
    mark(p);
  }
}

function mark(p) {
  P.replaced[p.id] = p.raw;
  P.dts[p.id] = !!p.dt;
  const prev = P.prev[p.id] || (P.prev[p.id] = []);
  if (prev.indexOf(p.raw) < 0) prev.push(p.raw);
}

function setTel(a, p) {
  if (a && a.getAttribute('href') !== 'tel:+' + p.raw) a.setAttribute('href', 'tel:+' + p.raw);
}

// digitsOf is the stored form of a number written in a tel: link.
function digitsOf(s) {
  const d = String(s).replace(/\D/g, '');
  return d.length === 11 && d.charAt(0) === '8' ? '7' + d.slice(1) : d;
}

// telLinks rewrites the tel: links in root that call one of nums.
function telLinks(root, nums, p) {
  const links = Array.prototype.slice.call(root.querySelectorAll ? root.querySelectorAll('a[href^="tel:"]') : []);
  if (root.matches && root.matches('a[href^="tel:"]')) links.push(root);
  let hit = false;
  for (let i = 0; i < links.length; i++) {
    const d = digitsOf(links[i].getAttribute('href'));
    for (let j = 0; j < nums.length; j++) {
      if (d && (d === nums[j] || (nums[j].length === 11 && d === nums[j].slice(1)))) {
        setTel(links[i], p);
        hit = true;
      }
    }
  }
  return hit;
}

// pattern matches the number in any common writing: +7 (495) 999-99-99,
// 8 495 9999999, 74959999999, (495) 999-99-99 for Russian numbers.
function pattern(num) {
  let pre = '\\+?';
  let rest = num;
  if (num.length === 11 && num.charAt(0) === '7') {
    pre = '(?:\\+?\\s*7|8)?';
    rest = num.slice(1);
  }
  return new RegExp(pre + SEP + rest.split('').join(SEP), 'g');
}

// blockOf is the nearest ancestor that is not an inline element: a number
// may be split across the inline elements of one block.
function blockOf(n) {
  let e = n.parentNode;
  while (e && e.nodeType === 1 && INLINE.test(e.tagName)) e = e.parentNode;
  return e;
}

// inText replaces num wherever it stands in the text under root.
function inText(root, num, p) {
  const tw = doc.createTreeWalker(root, 4, {
    acceptNode: (n) => {
      for (let e = n.parentNode; e && e !== root.parentNode; e = e.parentNode) if (e.nodeType === 1 && SKIP.test(e.tagName)) return 2;
      return 1;
    },
  });
  const groups = [];
  let cur = null;
  for (let n = tw.nextNode(); n; n = tw.nextNode()) {
    const b = blockOf(n);
    if (!cur || cur.block !== b) groups.push((cur = { block: b, nodes: [] }));
    cur.nodes.push(n);
  }
  let hit = false;
  for (let i = 0; i < groups.length; i++) if (inGroup(groups[i].nodes, num, p)) hit = true;
  return hit;
}

function inGroup(nodes, num, p) {
  const starts = [];
  let text = '';
  for (let i = 0; i < nodes.length; i++) {
    starts.push(text.length);
    text += nodes[i].data;
  }
  const re = pattern(num);
  const found = [];
  let m;
  while ((m = re.exec(text))) {
    const s = m.index;
    const e = s + m[0].length;
    if (m[0] === '') {
      re.lastIndex++;
      continue;
    }
    if (/\d/.test(text.charAt(s - 1)) || /\d/.test(text.charAt(e))) continue;
    let from = s;
    while (/[\s\u00a0]/.test(text.charAt(from))) from++; // keep the space before it
    found.push([from, e]);
  }
  for (let k = found.length - 1; k >= 0; k--) {
    const s = found[k][0];
    const e = found[k][1];
    let first = true;
    for (let i = 0; i < nodes.length; i++) {
      const ns = starts[i];
      const ne = ns + nodes[i].data.length;
      if (ne <= s || ns >= e) continue;
      const d = nodes[i].data;
      const a = Math.max(s, ns) - ns;
      const b = Math.min(e, ne) - ns;
      nodes[i].data = d.slice(0, a) + (first ? p.text : '') + d.slice(b);
      first = false;
    }
  }
  return found.length > 0;
}
