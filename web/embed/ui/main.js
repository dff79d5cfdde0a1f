// The widget framework (Comagic.UI), fetched by the core only on pages where
// the bootstrap enabled a widget. It completes window.Comagic.UI and runs the
// view controllers once their CSS, settings and templates have loaded:
// consultant and sitephone once per page, lead forms on every display.

import { CALL } from '../src/calltexts.js';
import { callDays, callPicker } from './calldays.js';
import { startLeads } from './leads.js';
import { compile, escape } from './tpl.js';
import { mobile } from './mobile.js';
import { createEl, makeSubclasses, registry, Widget } from './widget.js';

const C = window.Comagic;
const env = C && C.UI && C.UI._env;

const ONCE = { consultant: 1, sitephone: 1 };
// View controllers with a default widget in /static/widgets/: the name of
// its files (the lead forms share lead.js, lead.css and lead.tpls.json).
const DEFAULTS = { consultant: 'consultant', sitephone: 'sitephone', call_generator: 'lead', offline_message_generator: 'lead', personal_form: 'lead' };

const own = Object.prototype.hasOwnProperty;
const warn = (m) => { try { console.warn('Comagic: ' + m); } catch (e) { /* no console */ } };
const pad = (n) => (n < 10 ? '0' : '') + n;

/** toDate accepts a Date, unix seconds or milliseconds, or a date string. */
function toDate(d) {
  if (d instanceof Date) return d;
  if (typeof d === 'number' || /^\d+$/.test(String(d))) {
    const n = +d;
    return new Date(n < 1e11 ? n * 1000 : n);
  }
  return new Date(d);
}

/** consts are Comagic.UI.C: the texts and settings templates read. */
export function consts(base, mask) {
  return {
    PLACEHOLDERS: { name: 'Имя', phone: 'Телефон', email: 'E-mail', message: 'Сообщение', group: 'Выберите отдел', captcha: 'Код с картинки', date: 'Дата', time: 'Время' },
    PHONE_MASK_FORMAT: mask || '+7 (___) ___-__-__',
    IMAGES: { OPERATOR: base + '/static/widgets/operator.svg' },
    MESSAGES_SETTINGS: {
      MAX_LENGTH: 2000, HISTORY_PAGE_SIZE: 20, OPERATOR: 'Оператор', VISITOR: 'Посетитель', SYSTEM: 'Система',
      email: { sender: 'bot', text: 'Оставьте e-mail, и мы пришлём вам копию переписки', buttonText: 'Отправить', feedbackText: 'Спасибо! Копия переписки придёт на ваш e-mail' },
    },
    // The retention bot message: its text and its button (vendor templates read both).
    RETENTION_BUTTONS_SETTINGS: {
      offline_message: { text: 'Операторы пока заняты. Оставьте заявку, и мы ответим вам.', buttonText: 'Оставить заявку' },
      sitephone: { text: 'Операторы пока заняты. Закажите звонок, и мы перезвоним вам.', buttonText: 'Заказать звонок' },
      chat: { text: 'Операторы этого отдела пока заняты. Выберите другой отдел.', buttonText: 'Выбрать другой отдел' },
    },
    SUPPORTED_FILE_TYPES: ['jpg', 'jpeg', 'png', 'gif', 'pdf', 'doc', 'docx', 'xls', 'xlsx', 'txt', 'zip'],
    WELCOME_CHAT_TEXT: 'Здравствуйте! Чем мы можем помочь?',
    START_CHAT_TEXT: 'Начать чат',
    VCARD_TEXT: 'Представьтесь, пожалуйста, чтобы мы знали, как к вам обращаться',
    RATING_TEXT: 'Оцените, пожалуйста, работу оператора',
    RATING_FEEDBACK_TEXT: 'Спасибо за оценку!',
    OPERATOR_TYPING_TEXT: 'Оператор печатает…',
    EDITOR_FIELD_TEXT: 'Введите сообщение…',
    SEND_OFFLINE_MESSAGE_TEXT: 'Оставить заявку',
    CALL_SITEPHONE_TEXT: 'Заказать звонок',
    DATE_NOW_TITLE_TEXT: 'Сегодня',
    DATE_CHANGE_TITLE_TEXT: 'Вчера',
    // Texts of the request form and of field errors.
    OFFLINE_MESSAGE_SENT: { title: 'Заявка отправлена', message: 'Спасибо! Мы свяжемся с вами в ближайшее время.' },
    OFFLINE_MESSAGE_FAILED: { title: 'Заявка не отправлена', message: 'Не удалось отправить заявку. Проверьте соединение и попробуйте ещё раз.' },
    // Texts of a callback order (sitephone, call generator) and of other lead forms.
    CALL_SENT: Object.assign({}, CALL.sent),
    CALL_FAILED: Object.assign({}, CALL.failed),
    CALL_CAPTCHA: Object.assign({}, CALL.captcha),
    CALL_LIMIT: Object.assign({}, CALL.limit),
    LEAD_SENT: { title: 'Спасибо!', message: 'Мы получили ваш ответ.' },
    LEAD_FAILED: { title: 'Не отправлено', message: 'Не удалось отправить ответ. Проверьте соединение и попробуйте ещё раз.' },
    FIELD_ERRORS: {
      required: 'Заполните это поле',
      phone: 'Введите номер телефона полностью',
      email: 'Проверьте адрес e-mail',
      length: 'Неверная длина значения',
      name: 'Укажите имя, телефон или e-mail',
    },
  };
}

function install() {
  const S = env.S;
  const UI = C.UI;
  const K = consts(S.base, S.cfg.mask);
  const classes = makeSubclasses(env, K);

  const methods = {
    createWidget(name, config) {
      const Cls = own.call(classes, name) ? classes[name] : Widget;
      return new Cls(String(name), config);
    },
    getWidget: (name) => registry[name] || registry['#' + name] || null,
    // The reducer gets the published action first (the vendor's reducers take
    // only the action) and the previous state second.
    createObserver(reducer) {
      let state;
      const subs = [];
      return {
        sub(fn) {
          if (typeof fn === 'function') subs.push(fn);
          return () => { const i = subs.indexOf(fn); if (i >= 0) subs.splice(i, 1); };
        },
        pub(action) {
          state = typeof reducer === 'function' ? reducer(action, state) : action;
          const l = subs.slice();
          for (let i = 0; i < l.length; i++) l[i](state);
          return state;
        },
        getState: () => state,
      };
    },
    createEl: createEl,
    template: (tpl) => compile(tpl),
    escape: escape,
    toTimeString: (d) => { d = toDate(d); return pad(d.getHours()) + ':' + pad(d.getMinutes()); },
    toDateString: (d) => { d = toDate(d); return pad(d.getDate()) + '.' + pad(d.getMonth() + 1) + '.' + d.getFullYear(); },
    // getContrastColor answers the text colour for a background, as six hex
    // digits without '#' like the settings' colours (templates write '#<%= … %>').
    getContrastColor(hex) {
      let h = String(hex || '').replace(/^#/, '');
      if (h.length === 3) h = h.replace(/(.)/g, '$1$1');
      if (!/^[0-9a-fA-F]{6}$/.test(h)) return 'FFFFFF';
      const n = parseInt(h, 16);
      const yiq = (((n >> 16) & 255) * 299 + ((n >> 8) & 255) * 587 + (n & 255) * 114) / 1000;
      return yiq >= 150 ? '000000' : 'FFFFFF';
    },
    isIE: /MSIE |Trident\//.test(navigator.userAgent),
    Mobile: mobile(S),
    C: K,
  };
  for (const k in methods) if (own.call(methods, k)) UI[k] = methods[k];
  document.addEventListener('visibilitychange', () => { if (document.hidden) env.emit('sleep', { hidden: true }); });
  start();
}

// ---- loading and running the view controllers ----

const vcs = {};

// options are the applyWidgetsOptions of vc for this device; a tablet uses
// the desktop options unless tablet ones were given, as it gets the desktop
// settings unless the site has tablet ones.
function options(vc) {
  const o = env.S.cfg.widgetsOptions[vc];
  let d = o && o[env.S.device];
  if (!d && o && env.S.device === 'tablet') d = o.desktop;
  return d && typeof d === 'object' ? d : {};
}

function loadCSS(href, done) {
  const l = document.createElement('link');
  l.rel = 'stylesheet';
  l.href = href;
  l.onload = () => done();
  l.onerror = () => { warn('cannot load the stylesheet ' + href); done(); };
  document.head.appendChild(l);
}

const scripts = {};

function loadScript(src) {
  if (scripts[src]) return;
  scripts[src] = 1;
  const s = document.createElement('script');
  s.async = true;
  s.src = src;
  s.onerror = () => warn('cannot load the widget script ' + src);
  document.head.appendChild(s);
}

function getText(url, done) {
  fetch(url, { credentials: 'same-origin' })
    .then((r) => { if (!r.ok) throw new Error('HTTP ' + r.status); return r.text(); })
    .then((t) => done(t), (e) => { warn('cannot load the template ' + url + ': ' + e.message); done(null); });
}

let uiCSS = false;
const waitingForUICSS = [];

function prepare(vc) {
  const base = env.S.base + '/static/widgets/';
  const opt = options(vc);
  const st = (vcs[vc] = { opt: opt, left: 2, tpls: {}, ran: false, displays: 0 });
  const step = () => { if (--st.left === 0) { if (uiCSS) tryRun(vc); else waitingForUICSS.push(vc); } };

  const css = opt.css || (DEFAULTS[vc] ? base + DEFAULTS[vc] + '.css' : '');
  if (css) loadCSS(css, step);
  else step();

  const over = opt.tpls && typeof opt.tpls === 'object' ? opt.tpls : {};
  const names = Object.keys(over);
  let n = names.length + (DEFAULTS[vc] ? 1 : 0);
  const got = () => { if (--n <= 0) step(); };
  const custom = {};
  if (!n) step();
  if (DEFAULTS[vc]) {
    getText(base + DEFAULTS[vc] + '.tpls.json', (t) => {
      let d = {};
      try { d = t ? JSON.parse(t) : {}; } catch (e) { warn('bad default templates of ' + vc); }
      for (const k in d) if (own.call(d, k) && !own.call(custom, k)) st.tpls[k] = d[k];
      got();
    });
  }
  names.forEach((k) => getText(String(over[k]), (t) => {
    if (t !== null) { st.tpls[k] = t; custom[k] = 1; }
    got();
  }));

  if (opt.js) loadScript(String(opt.js));
  else if (DEFAULTS[vc] && !env.reg[vc]) loadScript(base + DEFAULTS[vc] + '.js');
  // A lead form enabled at bootstrap is displayed once, unless lead rules
  // decide when it shows (leads.js).
  const ruled = (env.S.rules || []).some((r) => r && r.widget === vc);
  if (!ONCE[vc] && !ruled) st.displays = 1;
}

function tryRun(vc) {
  const st = vcs[vc];
  const fn = env.reg[vc];
  if (!st || st.left > 0 || !uiCSS || typeof fn !== 'function') return;
  if (ONCE[vc]) {
    if (st.ran) return;
  } else if (st.displays <= 0) return;
  else st.displays--;
  st.ran = true;
  let settings = JSON.parse(JSON.stringify(env.S.settings[vc] || {}));
  let tpls = Object.assign({}, st.tpls);
  try {
    if (typeof st.opt.beforeViewControllerRun === 'function') {
      const r = st.opt.beforeViewControllerRun(settings, tpls);
      if (r && typeof r === 'object') {
        if (r.settings) settings = r.settings;
        if (r.tpls) tpls = r.tpls;
      }
    }
    fn(settings, tpls);
    // Each display of a lead form is recorded (SPEC §10).
    if (!ONCE[vc]) env.leadAction(vc, 'show', {}, null);
    if (typeof st.opt.afterViewControllerRun === 'function') st.opt.afterViewControllerRun();
  } catch (e) {
    try { console.error('Comagic: the ' + vc + ' view controller failed: ' + ((e && e.message) || e)); } catch (x) { /* no console */ }
  }
  if (!ONCE[vc] && st.displays > 0) tryRun(vc);
}

function start() {
  // The default call widgets share the call-time helpers.
  env.callDays = callDays;
  env.callPicker = (R, days) => callPicker(R, days, (d) => C.UI.toTimeString(d));
  env.onreg = (vc) => {
    const st = vcs[vc];
    if (st && st.ran && ONCE[vc]) warn('the ' + vc + ' view controller already ran on this page; register it before the widgets load');
    tryRun(vc);
  };
  // display(vc) shows a lead form once more: its view controller runs again.
  env.display = (vc) => {
    const st = vcs[vc];
    if (!st || ONCE[vc]) return;
    st.displays++;
    tryRun(vc);
  };
  loadCSS(env.S.base + '/static/widgets/ui.css', () => {
    uiCSS = true;
    waitingForUICSS.splice(0).forEach(tryRun);
  });
  const list = ['consultant', 'sitephone', 'call_generator', 'offline_message_generator', 'personal_form'];
  for (let i = 0; i < list.length; i++) {
    const s = env.S.settings;
    if (!env.S.cfg.widgetsOff && s && own.call(s, list[i]) && s[list[i]] != null) prepare(list[i]);
  }
  const leads = startLeads(env, registry, (vc) => !!vcs[vc], env.display);
  // leadHandled(vc) is called by a lead form's submit and cancel.
  env.leadHandled = (vc) => { if (leads) leads.handled(vc); };
}

if (env && !env.started) {
  env.started = true;
  try {
    install();
  } catch (e) {
    warn('the widget framework failed to start: ' + ((e && e.message) || e));
  }
}
