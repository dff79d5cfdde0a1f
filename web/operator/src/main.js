// The operator workstation (/operator/): sign-in, the header (own status,
// connection state, language, shortcuts, sign-out) and the four screens.
// It speaks only the documented API: api/openapi.yaml and the operator
// channel of api/asyncapi.yaml.

import { h, fill, toast } from './dom.js';
import { t, setLang, current, errText } from './i18n.js';
import { app, on, emit } from './state.js';
import { Conn } from './conn.js';
import * as api from './api.js';
import * as alert from './alert.js';
import * as chats from './chats.js';
import * as lists from './lists.js';

const root = document.getElementById('app');
const VIEWS = ['chats', 'visitors', 'requests', 'callbacks'];
let shell = null;

// ---- sign-in ------------------------------------------------------------

function showLogin(message) {
  stop();
  document.title = t('app.title') + ' — comagicd';
  const login = h('input', { class: 'input', name: 'login', autocomplete: 'username', required: true, autofocus: true });
  const password = h('input', { class: 'input', name: 'password', type: 'password', autocomplete: 'current-password', required: true });
  const err = h('p', { class: 'form__error', role: 'alert', hidden: !message, text: message || '' });
  const submit = h('button', { type: 'submit', class: 'btn btn--primary btn--block', text: t('login.submit') });
  const form = h('form', { class: 'login__form' },
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('login.login') }), login),
    h('label', { class: 'field' }, h('span', { class: 'field__label', text: t('login.password') }), password),
    err, submit);
  form.addEventListener('submit', async (e) => {
    e.preventDefault();
    alert.prime(); // a user gesture: sound may play later
    alert.askPermission();
    submit.disabled = true;
    submit.textContent = t('login.busy');
    try {
      const r = await api.login(login.value.trim(), password.value);
      start(r.employee);
    } catch (ex) {
      submit.disabled = false;
      submit.textContent = t('login.submit');
      err.hidden = false;
      err.textContent = ex.status === 401 ? t('login.wrong') : ex.status === 429 ? t('login.limited') : t('login.failed', errText(ex));
      password.select();
    }
  });
  fill(root, h('div', { class: 'login' },
    h('div', { class: 'login__card' },
      h('div', { class: 'login__brand' }, h('img', { src: 'icon.svg', alt: '', class: 'login__logo' }), h('span', { text: 'comagicd' })),
      h('h1', { class: 'login__title', text: t('login.title') }),
      form,
      h('p', { class: 'login__hint muted small', text: t('login.hint') })),
    h('button', { type: 'button', class: 'btn btn--ghost login__lang', title: t('lang.title'), onclick: () => { toggleLang(); showLogin(); }, text: t('lang.switch') })));
  login.focus();
}

// ---- the workstation ----------------------------------------------------

function start(employee) {
  app.me = employee;
  app.view = VIEWS.indexOf(location.hash.slice(1)) >= 0 ? location.hash.slice(1) : 'chats';
  buildShell();
  const proto = location.protocol === 'https:' ? 'wss:' : 'ws:';
  app.conn = new Conn(proto + '//' + location.host + '/ws/operator', {
    frame: (f) => {
      if (f.type === 'hello') {
        app.me = Object.assign({}, app.me, f.employee);
        app.sites = f.sites || [];
        if (!app.site || !app.sites.some((s) => s.id === app.site)) app.site = app.sites.length ? app.sites[0].id : 0;
        renderHeader();
        showView(app.view);
      }
      emit('frame', f);
    },
    state: () => renderConn(),
    opened: () => emit('opened'),
    lost: () => showLogin(t('err.unauthorized')),
    failed: async () => {
      // The upgrade may have been refused for the token: check it.
      try { await api.me(); } catch (e) { if (e.status === 401) showLogin(t('err.unauthorized')); }
    },
  });
  app.conn.start();
}

function stop() {
  if (app.conn) app.conn.stop();
  app.conn = null;
  shell = null;
  lists.resetLists();
}

function buildShell() {
  const nav = h('nav', { class: 'nav', 'aria-label': 'Navigation' });
  shell = {
    nav,
    status: h('div', { class: 'status' }),
    conn: h('div', { class: 'conn', role: 'status', 'aria-live': 'polite' }),
    user: h('div', { class: 'user' }),
    banner: h('div', { class: 'banner', hidden: true }),
    views: {},
  };
  for (const v of VIEWS) shell.views[v] = h('main', { class: 'view view--' + v, hidden: true, dataset: { view: v } });
  const help = h('div', { class: 'help' },
    h('button', { type: 'button', class: 'btn btn--icon help__btn', 'aria-label': t('help.title'), title: t('help.title'), text: '?' }),
    h('div', { class: 'help__tip', role: 'tooltip' },
      h('strong', { text: t('help.title') }),
      h('ul', {}, ['help.send', 'help.newline', 'help.switch', 'help.take', 'help.views'].map((k) => h('li', { text: t(k) })))));
  shell.notify = h('button', { type: 'button', class: 'btn btn--ghost btn--sm notify', onclick: () => alert.askPermission().then(renderHeader) });
  fill(root,
    h('div', { class: 'shell' },
      h('header', { class: 'top' },
        h('div', { class: 'top__brand' }, h('img', { src: 'icon.svg', alt: '', class: 'top__logo' }), h('span', { class: 'top__name', text: 'comagicd' })),
        nav,
        h('div', { class: 'top__right' }, shell.conn, shell.notify, shell.status,
          h('button', { type: 'button', class: 'btn btn--ghost btn--sm lang', title: t('lang.title'), onclick: () => { toggleLang(); relabel(); }, text: t('lang.switch') }),
          help, shell.user)),
      shell.banner,
      VIEWS.map((v) => shell.views[v])));
  chats.mount(shell.views.chats);
  lists.mountLive(shell.views.visitors);
  lists.mountList('requests', shell.views.requests);
  lists.mountList('callbacks', shell.views.callbacks);
  renderHeader();
  renderConn();
  showView(app.view);
}

function relabel() {
  document.title = t('app.title') + ' — comagicd';
  const view = app.view;
  buildShell();
  chats.relabel();
  lists.relabelLists();
  showView(view);
}

function toggleLang() { setLang(current() === 'ru' ? 'en' : 'ru'); }

function renderHeader() {
  if (!shell) return;
  const me = app.me || {};
  // Updated in place: a control rebuilt under the pointer would lose the click.
  if (!shell.links) {
    shell.links = {};
    fill(shell.nav, VIEWS.map((v, i) => {
      const badge = h('span', { class: 'badge', hidden: true });
      const a = h('a', { href: '#' + v, class: 'nav__link', title: t('nav.' + v) + ' (Alt+' + (i + 1) + ')', dataset: { view: v } },
        h('span', { text: t('nav.' + v) }), badge);
      shell.links[v] = { a, badge };
      return a;
    }));
    shell.sel = h('select', { class: 'input input--sm status__sel', 'aria-label': t('status.label') },
      ['online', 'away', 'offline'].map((st) => h('option', { value: st, text: t('status.' + st) })));
    shell.sel.addEventListener('change', () => setStatus(shell.sel.value));
    shell.dot = h('span', { class: 'dot', 'aria-hidden': 'true' });
    fill(shell.status, shell.dot, shell.sel);
    shell.name = h('span', { class: 'user__name' });
    fill(shell.user, shell.name, h('button', { type: 'button', class: 'btn btn--ghost btn--sm logout', onclick: logout, text: t('logout') }));
    fill(shell.banner, h('span', { text: t('status.offlineBanner') }),
      h('button', { type: 'button', class: 'btn btn--primary btn--sm', onclick: () => setStatus('online'), text: t('status.goOnline') }));
  }
  VIEWS.forEach((v) => {
    const n = v === 'chats' ? chats.queueSize() + chats.unreadCount() : v === 'requests' || v === 'callbacks' ? lists.freshCount(v) : 0;
    const l = shell.links[v];
    l.a.classList.toggle('is-active', app.view === v);
    if (app.view === v) l.a.setAttribute('aria-current', 'page');
    else l.a.removeAttribute('aria-current');
    l.badge.hidden = !n;
    l.badge.textContent = String(n);
  });
  if (me.status && shell.sel.value !== me.status) shell.sel.value = me.status;
  shell.sel.className = 'input input--sm status__sel status--' + me.status;
  shell.dot.className = 'dot dot--' + me.status;
  shell.name.textContent = me.name || me.login || '';
  const perm = alert.permission();
  shell.notify.hidden = perm === 'granted' || perm === 'unsupported';
  shell.notify.disabled = perm === 'denied';
  shell.notify.textContent = perm === 'denied' ? t('notify.denied') : t('notify.enable');
  shell.banner.hidden = me.status === 'online';
  const total = chats.queueSize() + chats.unreadCount();
  document.title = (total ? '(' + total + ') ' : '') + t('app.title') + ' — comagicd';
}

on('badges', renderHeader);
on('navigate', (v) => showView(v));

async function setStatus(s) {
  alert.prime();
  const r = await app.conn.call({ type: 'status', status: s });
  if (r.ok) app.me.status = r.status;
  else toast(t('common.error', errText(r.error)), 'error');
  renderHeader();
}

let connTimer = 0;
function renderConn() {
  if (!shell) return;
  clearInterval(connTimer);
  const c = app.conn;
  const st = c ? c.state : 'stopped';
  if (!shell.connText) {
    shell.connText = h('span', { class: 'conn__text' });
    shell.connRetry = h('button', { type: 'button', class: 'btn btn--ghost btn--sm', onclick: () => app.conn && app.conn.now(), text: t('conn.retry') });
    fill(shell.conn, h('span', { class: 'dot dot--conn', 'aria-hidden': 'true' }), shell.connText, shell.connRetry);
  }
  shell.conn.className = 'conn conn--' + st;
  shell.conn.dataset.state = st;
  shell.connRetry.hidden = st !== 'reconnecting';
  const draw = () => {
    shell.connText.textContent = st === 'reconnecting'
      ? t('conn.reconnecting', Math.max(0, Math.ceil((c.retryAt - Date.now()) / 1000))) : t('conn.' + st);
  };
  draw();
  if (st === 'reconnecting') connTimer = setInterval(draw, 1000);
}

function showView(v) {
  if (!shell || VIEWS.indexOf(v) < 0) return;
  app.view = v;
  if (location.hash !== '#' + v) history.replaceState(null, '', '#' + v);
  for (const k of VIEWS) shell.views[k].hidden = k !== v;
  if (v === 'requests' || v === 'callbacks') lists.seen(v);
  renderHeader();
  emit('view', v);
}

window.addEventListener('hashchange', () => showView(location.hash.slice(1)));

async function logout() {
  try { await api.logout(); } catch (e) { /* the token is gone either way */ }
  showLogin();
}

// ---- keyboard -----------------------------------------------------------

document.addEventListener('keydown', (e) => {
  if (!shell) return;
  if (e.altKey && !e.ctrlKey && (e.key === 'ArrowUp' || e.key === 'ArrowDown')) {
    e.preventDefault();
    showView('chats');
    chats.step(e.key === 'ArrowUp' ? -1 : 1);
  } else if (e.ctrlKey && !e.altKey && (e.key === '[' || e.key === ']' || e.code === 'BracketLeft' || e.code === 'BracketRight')) {
    e.preventDefault();
    showView('chats');
    chats.step(e.key === '[' || e.code === 'BracketLeft' ? -1 : 1);
  } else if (e.altKey && !e.ctrlKey && (e.code === 'KeyT' || e.key === 't')) {
    e.preventDefault();
    showView('chats');
    chats.takeFirst();
  } else if (e.altKey && !e.ctrlKey && /^Digit[1-4]$/.test(e.code)) {
    e.preventDefault();
    showView(VIEWS[Number(e.code.slice(5)) - 1]);
  }
});

// Browsers allow sound only after a gesture: the first click or key will do.
document.addEventListener('pointerdown', alert.prime, { once: true });
document.addEventListener('keydown', alert.prime, { once: true });
document.addEventListener('visibilitychange', () => { if (!document.hidden) renderHeader(); });

// ---- start --------------------------------------------------------------

api.whenUnauthorized(() => showLogin(t('err.unauthorized')));
setLang(current());
api.me().then((r) => start(r.employee), (e) => {
  if (e.status === 401) showLogin();
  else showLogin(t('login.failed', errText(e)));
});
