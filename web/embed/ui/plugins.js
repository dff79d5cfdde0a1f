// Plugins driven by element attributes: form (c-name, c-type, c-validator,
// c-length, c-mask, c-select, c-max, c-disabled), c-center, c-draggable with
// c-dragger, c-resizer and c-slim-scroll. Each is applied by attach(widget)
// when a widget gets its element.

const attr = (el, n) => el.getAttribute(n);
const all = (root, sel) => {
  const r = root.matches && root.matches(sel) ? [root] : [];
  return r.concat(Array.prototype.slice.call(root.querySelectorAll(sel)));
};
const listen = (w, el, ev, fn, opts) => {
  el.addEventListener(ev, fn, opts);
  w._off.push(() => el.removeEventListener(ev, fn, opts));
};
const px = (v) => Math.round(v) + 'px';
const digits = (s) => String(s).replace(/\D/g, '');

// ---- form ----

const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;

/** fieldValue reads the raw value of a form field element. */
function rawValue(el) {
  if (el.tagName === 'SELECT') {
    // A disabled option is a placeholder ("Choose a group *"): no value.
    const o = el.options[el.selectedIndex];
    return !o || o.disabled ? '' : el.value;
  }
  if (attr(el, 'c-select') !== null) {
    const sel = el.querySelector('[aria-checked="true"][c-value],[aria-selected="true"][c-value]');
    return sel ? attr(sel, 'c-value') : '';
  }
  const tag = el.tagName;
  if (tag === 'INPUT' && (el.type === 'checkbox' || el.type === 'radio')) return el.checked ? el.value || true : false;
  if (tag === 'INPUT' || tag === 'SELECT' || tag === 'TEXTAREA') return el.value;
  return el.textContent;
}

function setRaw(el, v) {
  if (el.tagName === 'INPUT' || el.tagName === 'TEXTAREA' || el.tagName === 'SELECT') el.value = v;
  else el.textContent = v;
}

// maskSlots counts the "_" places of a mask; maskPrefix is its fixed text
// before the first place, and its digits (a country code such as 7).
const maskSlots = (m) => m.split('_').length - 1;

/** applyMask formats what was typed into the mask, keeping digits only in the places. */
export function applyMask(mask, value) {
  const head = mask.slice(0, mask.indexOf('_'));
  let v = String(value);
  let d;
  if (head && v.indexOf(head) === 0) d = digits(v.slice(head.length));
  else {
    d = digits(v);
    const hd = digits(head);
    const n = maskSlots(mask);
    if (d.length > n && hd && d.indexOf(hd) === 0) d = d.slice(hd.length);
    if (d.length > n) d = d.slice(d.length - n);
  }
  if (!d) return '';
  let out = '';
  let j = 0;
  for (let i = 0; i < mask.length && j < d.length; i++) out += mask[i] === '_' ? d[j++] : mask[i];
  return out;
}

function fieldsOf(w) {
  return w.el ? all(w.el, '[c-name]') : [];
}

/** values implements getValues(): {name: value} of the widget's fields. */
function values(w) {
  const r = {};
  const f = fieldsOf(w);
  for (let i = 0; i < f.length; i++) {
    const el = f[i];
    let v = rawValue(el);
    if (attr(el, 'c-type') === 'numberfield' && typeof v === 'string') v = digits(v);
    const name = attr(el, 'c-name');
    if (el.type === 'radio' && v === false && r[name] !== undefined) continue;
    r[name] = v;
  }
  return r;
}

function lengthOk(spec, n) {
  const m = /^\s*(\d+)?\s*(?:([-,])\s*(\d+)?)?\s*$/.exec(spec);
  if (!m) return true;
  const min = m[1] ? +m[1] : 0;
  if (!m[2]) return n === min;
  return n >= min && (m[3] === undefined || n <= +m[3]);
}

/** errors implements getErrors(): {name: 'required'|'phone'|'email'|'length'} or null. */
function errors(w) {
  const vals = values(w);
  const r = {};
  let any = false;
  const f = fieldsOf(w);
  for (let i = 0; i < f.length; i++) {
    const el = f[i];
    const name = attr(el, 'c-name');
    if (disabled(el) || r[name]) continue;
    const v = vals[name];
    const s = v === false || v === true ? (v ? 'on' : '') : String(v == null ? '' : v).trim();
    const rules = (attr(el, 'c-validator') || '').split(/\s+/);
    let err = '';
    if (!s) {
      if (rules.indexOf('required') >= 0) err = 'required';
    } else {
      if (rules.indexOf('phone') >= 0 && !phoneOk(el, s)) err = 'phone';
      else if (rules.indexOf('email') >= 0 && !EMAIL.test(s)) err = 'email';
      else if (attr(el, 'c-length') && !lengthOk(attr(el, 'c-length'), attr(el, 'c-type') === 'numberfield' ? digits(s).length : s.length)) err = 'length';
    }
    if (err) { r[name] = err; any = true; }
  }
  return any ? r : null;
}

// phoneOk: a masked field is complete when every place of its mask is
// filled (a site's own mask, set with setUIPhoneMaskFormat, may be short);
// without a mask a number has 10 to 15 digits.
function phoneOk(el, s) {
  const mask = attr(el, 'c-mask');
  if (mask && maskSlots(mask)) return digits(rawValue(el)).length >= digits(mask).length + maskSlots(mask);
  const n = digits(s).length;
  return n >= 10 && n <= 15;
}

const disabled = (el) => { const d = attr(el, 'c-disabled'); return d !== null && d !== 'false'; };

function markErrors(w, errs, texts) {
  const f = fieldsOf(w);
  for (let i = 0; i < f.length; i++) {
    const name = attr(f[i], 'c-name');
    const e = errs && errs[name];
    if (e) f[i].setAttribute('aria-invalid', 'true');
    else f[i].removeAttribute('aria-invalid');
    f[i].classList.toggle('comagic-field--invalid', !!e);
  }
  const holders = w.el ? all(w.el, '[c-error]') : [];
  for (let i = 0; i < holders.length; i++) {
    const e = errs && errs[attr(holders[i], 'c-error')];
    holders[i].textContent = e ? (texts && texts[e]) || e : '';
  }
}

function formField(w, el) {
  const type = attr(el, 'c-type');
  const mask = attr(el, 'c-mask');
  const max = +attr(el, 'c-max') || 0;
  const editable = el.isContentEditable || el.tagName === 'INPUT' || el.tagName === 'TEXTAREA';
  if (disabled(el)) {
    if ('disabled' in el) el.disabled = true;
    else el.setAttribute('aria-disabled', 'true');
    if (el.isContentEditable) el.contentEditable = 'false';
  }
  if (el.tagName === 'SELECT') {
    nativeSelect(w, el);
    return;
  }
  if (attr(el, 'c-select') !== null) {
    selectField(w, el);
    return;
  }
  const clear = () => {
    if (el.getAttribute('aria-invalid') && !errorsOf(w, el)) {
      el.removeAttribute('aria-invalid');
      el.classList.remove('comagic-field--invalid');
    }
  };
  listen(w, el, 'change', clear);
  if (!editable) return;
  const fix = () => {
    const v = rawValue(el);
    let n = v;
    if (mask) n = applyMask(mask, v);
    else if (type === 'numberfield') n = digits(v);
    if (max && n.length > max) n = n.slice(0, max);
    if (n !== v) {
      setRaw(el, n);
      if (el === document.activeElement) {
        try {
          if (el.setSelectionRange) el.setSelectionRange(n.length, n.length);
          else { const s = window.getSelection(); s.selectAllChildren(el); s.collapseToEnd(); }
        } catch (e) { /* not a text field */ }
      }
    }
    clear();
  };
  listen(w, el, 'input', fix);
  if (mask && el.tagName === 'INPUT' && !el.placeholder) el.placeholder = mask;
  if (el.tagName === 'INPUT' || (el.isContentEditable && attr(el, 'c-multiline') === null)) {
    listen(w, el, 'keydown', (e) => {
      if (e.key === 'Enter' && !e.isComposing) {
        e.preventDefault();
        submit(w);
      }
    });
  }
}

const errorsOf = (w, el) => { const e = errors(w); return e && e[attr(el, 'c-name')]; };

// A native <select> (c-select or not) takes its value from the chosen option.
// With c-select and a c-ref, the widget also gets the ref <ref>CustomSelect: an
// element that mirrors the chosen option's text (hidden by ui.css; a view
// controller may style it as the visible face of the select).
function nativeSelect(w, el) {
  const ref = attr(el, 'c-ref');
  let face = null;
  if (attr(el, 'c-select') !== null && ref && !w.refs[ref + 'CustomSelect']) {
    face = document.createElement('span');
    face.className = 'comagic-c-select__value';
    face.setAttribute('aria-hidden', 'true');
    el.parentNode.insertBefore(face, el.nextSibling);
    w.refs[ref + 'CustomSelect'] = face;
  }
  const changed = () => {
    if (face) face.textContent = rawValue(el) ? el.options[el.selectedIndex].text.trim() : '';
    if (el.getAttribute('aria-invalid') && !errorsOf(w, el)) {
      el.removeAttribute('aria-invalid');
      el.classList.remove('comagic-field--invalid');
    }
    w.fire('select', w, attr(el, 'c-name'), rawValue(el));
  };
  listen(w, el, 'change', changed);
}

// A c-select field is a group of [c-value] options; a click, Enter or Space
// chooses one. Options get role=radio and aria-checked.
function selectField(w, el) {
  el.setAttribute('role', 'radiogroup');
  const opts = all(el, '[c-value]').filter((o) => o !== el);
  const choose = (o) => {
    for (let i = 0; i < opts.length; i++) {
      opts[i].setAttribute('aria-checked', opts[i] === o ? 'true' : 'false');
      opts[i].classList.toggle('comagic-selected', opts[i] === o);
    }
    w.fire('select', w, attr(el, 'c-name'), attr(o, 'c-value'));
  };
  for (let i = 0; i < opts.length; i++) {
    const o = opts[i];
    o.setAttribute('role', 'radio');
    if (!o.hasAttribute('aria-checked')) o.setAttribute('aria-checked', 'false');
    if (!o.hasAttribute('tabindex')) o.tabIndex = 0;
    listen(w, o, 'click', () => { if (!disabled(el)) choose(o); });
    listen(w, o, 'keydown', (e) => {
      if ((e.key === 'Enter' || e.key === ' ') && !disabled(el)) { e.preventDefault(); choose(o); }
    });
  }
}

function submit(w) {
  w.fire('submit', w, values(w));
}

function formPlugin(w) {
  const f = fieldsOf(w);
  if (!f.length && !w.el.querySelector('[c-type="submitbutton"]')) return;
  w.getValues = () => values(w);
  w.getErrors = () => errors(w);
  w.showErrors = (errs, texts) => markErrors(w, errs === undefined ? errors(w) : errs, texts);
  for (let i = 0; i < f.length; i++) formField(w, f[i]);
  const btns = all(w.el, '[c-type="submitbutton"]');
  for (let i = 0; i < btns.length; i++) {
    listen(w, btns[i], 'click', (e) => {
      e.preventDefault();
      if (!disabled(btns[i])) submit(w);
    });
  }
  const forms = all(w.el, 'form');
  for (let i = 0; i < forms.length; i++) listen(w, forms[i], 'submit', (e) => e.preventDefault());
}

// ---- center ----

function centerPlugin(w) {
  const els = all(w.el, '[c-center]');
  if (!els.length) return;
  const place = () => {
    for (let i = 0; i < els.length; i++) {
      const el = els[i];
      const how = attr(el, 'c-center') || 'xy';
      const r = el.getBoundingClientRect();
      const h = Math.max(r.height, +attr(el, 'c-center-height') || 0);
      el.style.position = 'fixed';
      if (how.indexOf('x') >= 0) el.style.left = px(Math.max(0, (window.innerWidth - r.width) / 2));
      if (how.indexOf('y') >= 0) el.style.top = px(Math.max(0, (window.innerHeight - h) / 2));
    }
  };
  w.center = place;
  listen(w, window, 'resize', place);
  w.on('show', place);
  w.on('render', place);
}

// ---- draggable and resizable ----

// track follows a pointer from a pointerdown until it is released.
function track(w, handle, start, move, end) {
  listen(w, handle, 'pointerdown', (e) => {
    if (e.button) return;
    e.preventDefault();
    const st = start(e);
    const mv = (ev) => move(st, ev.clientX - e.clientX, ev.clientY - e.clientY);
    const up = () => {
      document.removeEventListener('pointermove', mv);
      document.removeEventListener('pointerup', up);
      document.removeEventListener('pointercancel', up);
      end(st);
    };
    document.addEventListener('pointermove', mv);
    document.addEventListener('pointerup', up);
    document.addEventListener('pointercancel', up);
  });
}

function dragPlugin(w) {
  const root = all(w.el, '[c-draggable]')[0];
  if (!root) return;
  const axis = attr(root, 'c-draggable') || 'xy';
  const hp = +attr(root, 'c-draggable-hpadding') || 0;
  const vp = +attr(root, 'c-draggable-vpadding') || 0;
  const handles = all(root, '[c-dragger]');
  const clamp = (v, lo, hi) => Math.max(lo, Math.min(hi, v));
  for (let i = 0; i < handles.length; i++) {
    handles[i].classList.add('comagic-dragger');
    track(w, handles[i], () => {
      const r = root.getBoundingClientRect();
      root.style.position = 'fixed';
      root.style.right = 'auto';
      root.style.bottom = 'auto';
      root.style.left = px(r.left);
      root.style.top = px(r.top);
      return r;
    }, (r, dx, dy) => {
      if (axis.indexOf('x') >= 0) root.style.left = px(clamp(r.left + dx, hp, window.innerWidth - r.width - hp));
      if (axis.indexOf('y') >= 0) root.style.top = px(clamp(r.top + dy, vp, window.innerHeight - r.height - vp));
    }, () => {
      const r = root.getBoundingClientRect();
      w.fire('dragend', w, { left: Math.round(r.left), right: Math.round(window.innerWidth - r.right), top: Math.round(r.top), bottom: Math.round(window.innerHeight - r.bottom) });
    });
  }
}

function resizePlugin(w) {
  const handles = all(w.el, '[c-resizer]');
  for (let i = 0; i < handles.length; i++) {
    const h = handles[i];
    const vp = +attr(h, 'c-resizer-vpadding') || 0;
    h.classList.add('comagic-resizer');
    // The resizer sits at the top edge: dragging it up makes the widget taller.
    track(w, h, () => w.el.getBoundingClientRect(), (r, dx, dy) => {
      const max = r.bottom - vp;
      w.el.style.height = px(Math.max(40, Math.min(max, r.height - dy)));
    }, () => {
      w.fire('resizeend', w, Math.round(w.el.getBoundingClientRect().height));
    });
  }
}

function slimScrollPlugin(w) {
  const els = all(w.el, '[c-slim-scroll]');
  for (let i = 0; i < els.length; i++) if (attr(els[i], 'c-slim-scroll') !== 'false') els[i].classList.add('comagic-slim-scroll');
}

/** attach applies every plugin to the widget's element. */
export function attach(w) {
  formPlugin(w);
  centerPlugin(w);
  dragPlugin(w);
  resizePlugin(w);
  slimScrollPlugin(w);
}
