// Widgets: the base class (render/show/hide/destroy, events with cancellable
// before* handlers, refs, plugins) and the named subclasses.

import { createChat } from './chat.js';
import { attach } from './plugins.js';
import { escape, render } from './tpl.js';

const own = Object.prototype.hasOwnProperty;
const LIFECYCLE = { render: 1, show: 1, hide: 1, destroy: 1 };
const CONFIG = { settings: 1, tpl: 1, template: 1, id: 1 };

/** registry holds the live widgets by name and by id, for getWidget. */
export const registry = {};

const report = (e) => { try { console.error('Comagic: a widget handler threw: ' + ((e && e.message) || e)); } catch (x) { /* no console */ } };

/** createEl renders template tpl (a string, or a ready element returned as is) with data into one element. */
export function createEl(tpl, data) {
  if (tpl && tpl.nodeType === 1) return tpl;
  const t = document.createElement('template');
  t.innerHTML = render(tpl == null ? '' : tpl, data).trim();
  const c = t.content;
  let el = c.firstElementChild;
  if (!el || el !== c.lastElementChild || c.childNodes.length !== 1) {
    el = document.createElement('div');
    el.appendChild(c);
  }
  return document.adoptNode(el);
}

// BASE holds the base implementations of the lifecycle methods.
const BASE = {
  render(p, b) {
    const ready = this.tpl && this.tpl.nodeType === 1;
    const old = this.el;
    if (!ready) {
      const data = Object.assign({}, this.settings, { settings: this.settings, widget: this });
      this.attachEl(createEl(this.tpl, data));
    }
    const parent = p || (old && old.parentNode) || this._parent || document.body;
    this._parent = parent;
    if (old && old !== this.el && old.parentNode) old.parentNode.replaceChild(this.el, old);
    else if (!this.el.parentNode || p) parent.insertBefore(this.el, b || null);
  },
  show() {
    if (this.el) this.el.classList.remove('comagic-widget--hidden');
    this._shown = true;
  },
  hide() {
    if (this.el) this.el.classList.add('comagic-widget--hidden');
    this._shown = false;
  },
  destroy() {
    for (let i = 0; i < this._off.length; i++) this._off[i]();
    this._off = [];
    if (this.el && this.el.parentNode) this.el.parentNode.removeChild(this.el);
    this.el = null;
    this.refs = {};
    if (registry[this.name] === this) delete registry[this.name];
    if (this.id != null && registry['#' + this.id] === this) delete registry['#' + this.id];
    this.fire('destroy', this);
  },
};

export class Widget {
  constructor(name, config) {
    config = config || {};
    this.name = name;
    this.settings = config.settings || {};
    this.id = config.id;
    this.tpl = config.tpl !== undefined ? config.tpl : config.template;
    this.el = null;
    this.refs = {};
    this._ev = {};
    this._off = [];
    this._impl = {};
    this._parent = null;
    this._shown = true; // a rendered widget is visible until hide()
    for (const k in config) {
      if (!own.call(config, k) || own.call(CONFIG, k)) continue;
      const v = config[k];
      if (typeof v !== 'function') this[k] = v;
      else if (own.call(LIFECYCLE, k)) {
        // An override becomes the instance's own method; the prototype's
        // method stays the base implementation, so an override may call
        // this.constructor.prototype.render.apply(this, arguments).
        this._impl[k] = v;
        this[k] = function () { return this._run(k, v, arguments); };
      } else this[k] = v.bind(this);
    }
    registry[name] = this;
    if (this.id != null) registry['#' + this.id] = this;
    if (this.tpl && this.tpl.nodeType === 1) this.attachEl(this.tpl);
  }

  /** on subscribes cb to a widget event; cb runs with this = the widget. */
  on(name, cb) {
    if (typeof cb === 'function') (this._ev[name] = this._ev[name] || []).push(cb);
    return this;
  }

  /** un unsubscribes cb from a widget event. */
  un(name, cb) {
    const l = this._ev[name] || [];
    for (let i = l.length - 1; i >= 0; i--) if (l[i] === cb || cb === undefined) l.splice(i, 1);
    return this;
  }

  /** fire calls the handlers of an event; returns false when one returned false. */
  fire(name) {
    const args = Array.prototype.slice.call(arguments, 1);
    const l = (this._ev[name] || []).slice();
    let ok = true;
    for (let i = 0; i < l.length; i++) {
      try {
        if (l[i].apply(this, args) === false) ok = false;
      } catch (e) {
        report(e);
      }
    }
    return ok;
  }

  // _run runs a lifecycle method: the before-event (false cancels), the
  // implementation, then the after-event. An implementation returning false
  // did not change the widget (an override that only forwarded the call,
  // such as show(true) publishing to a visibility observer): no after-event,
  // and isVisible() keeps its value.
  _run(name, impl, args) {
    if (this.fire('before' + name, this) === false) return this;
    if (impl.apply(this, args) === false) return this;
    if (name === 'show') this._shown = true;
    else if (name === 'hide') this._shown = false;
    else if (name === 'render') this._shown = !(this.el && this.el.classList.contains('comagic-widget--hidden'));
    if (name !== 'destroy') this.fire(name, this);
    return this;
  }

  // _base runs the base implementation of a lifecycle method: with events when
  // the widget has no override, alone when an override calls it through the
  // prototype.
  _base(name, args) {
    if (own.call(this._impl, name)) {
      BASE[name].apply(this, args);
      return this;
    }
    return this._run(name, BASE[name], args);
  }

  /** render builds the element from the template and inserts it into parentEl (default body) before beforeEl. */
  render() { return this._base('render', arguments); }

  /** show shows the widget: by default it removes the comagic-widget--hidden class. */
  show() { return this._base('show', arguments); }

  /** hide hides the widget: by default it adds the comagic-widget--hidden class. */
  hide() { return this._base('hide', arguments); }

  /** destroy removes the element from the page and the widget from the registry. */
  destroy() { return this._base('destroy', arguments); }

  /** isVisible tells whether the widget is on the page and was not hidden, by
   * the base hide() or by an override of hide(). */
  isVisible() {
    return !!this.el && this.el.isConnected && this._shown && !this.el.classList.contains('comagic-widget--hidden');
  }

  /** getEl returns the widget's element, or the first element inside it matching selector. */
  getEl(selector) {
    if (!this.el || !selector) return this.el;
    return this.el.matches(selector) ? this.el : this.el.querySelector(selector);
  }

  /** getRenderTo returns the element the widget was rendered into, or the one
   * render() will use (document.body unless given) before it is rendered. */
  getRenderTo() {
    return (this.el && this.el.parentNode) || this._parent || document.body;
  }

  /** attachEl makes el the widget's element: collects refs and applies the plugins. */
  attachEl(el) {
    for (let i = 0; i < this._off.length; i++) this._off[i]();
    this._off = [];
    this.el = el;
    el.classList.add('comagic-widget');
    const refs = {};
    const list = [el].concat(Array.prototype.slice.call(el.querySelectorAll('[c-ref]')));
    for (let i = 0; i < list.length; i++) {
      const n = list[i].getAttribute('c-ref');
      if (!n) continue;
      // c-ref="groups[2]" puts the element at refs.groups[2].
      const ix = /^(.+)\[(\d+)\]$/.exec(n);
      if (ix) (Array.isArray(refs[ix[1]]) ? refs[ix[1]] : (refs[ix[1]] = []))[+ix[2]] = list[i];
      else if (!own.call(refs, n)) refs[n] = list[i];
      else if (Array.isArray(refs[n])) refs[n].push(list[i]);
      else refs[n] = [refs[n], list[i]];
    }
    this.refs = refs;
    attach(this);
    return this;
  }
}

// provide makes a widget the implementation of a page method (such as
// Comagic.openSiteRequestPanel) and runs a call that was made before it existed.
function provide(env, method, fn) {
  env.hooks[method] = fn;
  const args = env.pending[method];
  if (args) {
    delete env.pending[method];
    setTimeout(() => fn.apply(null, args), 0);
  }
}

export function makeSubclasses(env, C) {
  const api = () => window.Comagic;
  const emit = env.emit;

  class ConsultantOfflineMessage extends Widget {
    constructor(name, config) {
      super(name, config);
      // Comagic.openSiteRequestPanel() opens the form; so does
      // Comagic.openChatWindow() while no operator can chat.
      provide(env, 'openSiteRequestPanel', () => this.open());
      provide(env, 'openChatWindow', openChat);
    }

    /** open renders the form when needed and shows it as the public API does:
     * show(true), which a view controller's show override may route through
     * its own visibility rules. */
    open() {
      if (!this.el) this.render();
      return this.show(true);
    }

    /** sendRequest sends the request; the sendofflinerequest event tells how it went. */
    sendRequest(values) {
      values = values || {};
      const req = {};
      const keys = ['name', 'email', 'phone', 'message', 'group_id', 'form_name'];
      for (let i = 0; i < keys.length; i++) {
        const v = values[keys[i]];
        if (v !== undefined && v !== null && v !== '') req[keys[i]] = typeof v === 'string' ? v.trim() : v;
      }
      if (req.group_id !== undefined) req.group_id = +req.group_id || undefined;
      if (!req.form_name) req.form_name = (this.settings.offline_message && this.settings.offline_message.title) || C.SEND_OFFLINE_MESSAGE_TEXT;
      emit('ui:actionstart', { widget: this.name, action: 'sendofflinerequest' });
      api().addOfflineRequest(req, (o) => {
        const ok = o && o.success === true;
        const err = (o && o.error) || {};
        const info = ok ? { title: C.OFFLINE_MESSAGE_SENT.title, message: C.OFFLINE_MESSAGE_SENT.message }
          : { title: C.OFFLINE_MESSAGE_FAILED.title, message: err.field && C.FIELD_ERRORS[err.field] ? C.FIELD_ERRORS[err.field] : C.OFFLINE_MESSAGE_FAILED.message };
        if (ok) {
          const card = env.storage.getItem('visitor_card') || {};
          if (req.name) card.name = req.name;
          if (req.email) card.email = req.email;
          if (req.phone) card.phone = req.phone;
          env.storage.setItem('visitor_card', card);
        }
        const ev = { success: ok, info: info };
        if (!ok) {
          ev.error = { code: err.code || 'network', message: err.message || '' };
          if (err.field) ev.field = err.field;
        }
        this.fire('sendofflinerequest', ev);
        emit('ui:actionend', { widget: this.name, action: 'sendofflinerequest', success: ok });
      });
    }
  }

  // ---- consultant chat ----

  const LEADS = ['call_generator', 'offline_message_generator', 'personal_form'];
  const EMAIL = /^[^\s@]+@[^\s@]+\.[^\s@]+$/;
  const said = {};
  const call = (cb, arg) => {
    if (typeof cb !== 'function') return;
    try { cb(arg); } catch (e) { report(e); }
  };
  // chatOf returns the page's chat, created on first use, or null when the
  // site's consultant has no chat section or does not show it (is_visible
  // false; then chat methods say so and answer false, and no socket opens).
  const chatOf = () => {
    const s = env.S.settings && env.S.settings.consultant;
    if (env.S.cfg.widgetsOff || !s || !s.chat || typeof s.chat !== 'object' || s.chat.is_visible === false) return null;
    return env.chat || (env.chat = createChat(env));
  };
  const off = (m) => {
    if (!said[m]) { said[m] = 1; try { console.warn('Comagic: ' + m + '(): the online chat is disabled for this site'); } catch (e) { /* no console */ } }
    return false;
  };
  const fail = (r) => ({ success: false, error: (r && r.error) || { code: 'unavailable', message: 'the chat server cannot be reached' } });

  // mail emails the transcript of the current or last chat to v (an address
  // or {email}); cb and the widget's sendchatbymail event get {success, error?}.
  function mail(v, cb, w) {
    const email = String((v && typeof v === 'object' ? v.email : v) || '').trim();
    const c = chatOf();
    const done = (res) => {
      if (w) w.fire('sendchatbymail', res);
      call(cb, res);
    };
    if (!c) return setTimeout(() => done(fail(off('sendChatByMail'))), 0);
    if (!EMAIL.test(email)) return setTimeout(() => done({ success: false, error: { code: 'invalid', message: 'a valid e-mail address is required', field: 'email' } }), 0);
    emit('ui:actionstart', { widget: 'consultant_chat', action: 'sendchatbymail' });
    c.send({ type: 'mail', email: email }).then((r) => {
      done(r.ok ? { success: true } : fail(r));
      emit('ui:actionend', { widget: 'consultant_chat', action: 'sendchatbymail', success: !!r.ok });
    });
  }
  provide(env, 'sendChatByMail', (v, cb) => mail(v, cb, registry.consultant_chat));

  // openChat implements Comagic.openChatWindow(): the chat when an operator
  // can answer or a chat is open, otherwise the request form.
  function openChat() {
    const w = registry.consultant_chat;
    const om = registry.consultant_offline_message;
    const c = env.chat;
    if (w && c && (c.st.available || c.st.state !== 'available')) {
      if (!w.el) w.render();
      w.show(true);
    } else if (om && om.open) om.open();
    else if (w && c) {
      if (!w.el) w.render();
      w.show(true);
    } else off('Comagic.openChatWindow');
  }

  // ConsultantChat is the consultant_chat widget: the methods and events of
  // the chat API (SPEC §7) over the page's chat connection.
  class ConsultantChat extends Widget {
    constructor(name, config) {
      super(name, config);
      provide(env, 'openChatWindow', openChat);
      this._chat = chatOf();
      if (this._chat) this._chat.attach(this);
    }

    // _send sends a command; then(reply) runs with {ok, …}.
    _send(m, frame, then) {
      const c = this._chat;
      if (!c) return off(m);
      c.send(frame).then(then || (() => undefined));
      return true;
    }

    startChat(groupId) {
      const f = { type: 'start' };
      if (groupId) f.group_id = +groupId;
      return this._send('startChat', f, (r) => { if (r.ok) this.fire('startchat', { chat_id: r.chat_id }); });
    }

    closeChat(cb) {
      return this._send('closeChat', { type: 'close' }, (r) => {
        if (r.ok) this.fire('closechat', {});
        call(cb, r.ok ? { success: true } : fail(r));
      });
    }

    isChatAvailable() { return !!this._chat && this._chat.st.available; }

    sendChatByMail(v, cb) { mail(v, cb, this); return !!this._chat; }

    /** sendChatMessage sends text and returns the message object to render
     * now; the server's echo of it is not fired again. */
    sendChatMessage(text, groupId) {
      const c = this._chat;
      if (!c) return off('sendChatMessage');
      text = String(text == null ? '' : text).slice(0, 10000);
      if (!text.trim()) return false;
      return c.message(text, groupId, (m, r) => {
        m.status = r.ok ? 'sent' : 'failed';
        if (!r.ok) m.error = r.error;
        this.fire('messagestatus', m);
      });
    }

    setOperatorRating(mark) {
      mark = Math.round(+mark);
      if (!(mark >= 1 && mark <= 5)) return false;
      return this._send('setOperatorRating', { type: 'rate', mark: mark }, (r) => {
        if (!r.ok) return;
        this._chat.rated(r.rating === undefined ? mark : r.rating);
        this.fire('setrating', mark);
      });
    }

    hasHistory() { return !!this._chat && this._chat.hist.has(this._chat.st.hasHistory); }

    /** getHistory returns up to 20 earlier messages, newest first, or false. */
    getHistory() { return this._chat ? this._chat.history() : false; }

    getOperatorVcard() {
      const o = this._chat && this._chat.st.operator;
      return o ? Object.assign({}, o) : null;
    }

    getVisitorCard() {
      if (this._chat) {
        const c = this._chat.st.card;
        return { name: c.name, email: c.email.slice(), phone: c.phone.slice() };
      }
      const c = env.storage.getItem('visitor_card') || {};
      return { name: c.name || '', email: c.email ? [c.email] : [], phone: c.phone ? [c.phone] : [] };
    }

    setVisitorCard(vcard, cb) {
      const f = { type: 'visitor_card' };
      ['name', 'email', 'phone'].forEach((k) => {
        const v = vcard && vcard[k] != null ? String(vcard[k]).trim() : '';
        if (v) f[k] = v;
      });
      const ok = this._send('setVisitorCard', f, (r) => {
        if (r.ok) this._chat.carded(r.visitor_card);
        call(cb, r.ok ? { success: true, visitor_card: this.getVisitorCard() } : fail(r));
      });
      if (!ok) setTimeout(() => call(cb, fail()), 0);
      return ok;
    }

    inviteAccept() { return this._send('inviteAccept', { type: 'invite_accept' }, (r) => { if (r.ok) this.fire('inviteaccept', {}); }); }

    inviteReject() { return this._send('inviteReject', { type: 'invite_reject' }, (r) => { if (r.ok) this.fire('invitereject', {}); }); }

    /** sendFile uploads the file chosen in input (or a File) to the open
     * chat, starting one if needed; the sendfile event tells how it went. */
    sendFile(input) {
      const c = this._chat;
      if (!c) return off('sendFile');
      const file = input && input.files ? input.files[0] : input && typeof input.size === 'number' ? input : null;
      if (input && input.files) try { input.value = ''; } catch (e) { /* read-only */ }
      const done = (ok, err) => {
        this._busy = false;
        this.fire('sendfile', ok ? { success: true } : { success: false, error: err });
        emit('ui:actionend', { widget: this.name, action: 'sendfile', success: ok });
      };
      if (!file || !this.isReadyForFileTransfer()) return false;
      if (c.st.maxFile && file.size > c.st.maxFile) {
        setTimeout(() => this.fire('sendfile', { success: false, error: { code: 'too_large', message: 'the file is larger than ' + c.st.maxFile + ' bytes' } }), 0);
        return false;
      }
      this._busy = true;
      emit('ui:actionstart', { widget: this.name, action: 'sendfile' });
      const up = () => c.upload(file, done);
      if (c.st.state === 'chat') up();
      else c.send({ type: c.st.state === 'invite' ? 'invite_accept' : 'start' }).then((r) => (r.ok ? up() : done(false, r.error)));
      return true;
    }

    isReadyForFileTransfer() { return !!this._chat && this._chat.st.file && !this._busy; }

    getRequiredInfo() { return this._chat ? this._chat.st.required.slice() : []; }

    getState() {
      const s = this._chat ? this._chat.st.state : 'available';
      if (s === 'available') for (let i = 0; i < LEADS.length; i++) if (registry[LEADS[i]] && registry[LEADS[i]].isVisible()) return 'lead';
      return s;
    }

    chatTyping(text) {
      if (!this._chat) return off('chatTyping');
      this._chat.typing(text);
      return true;
    }

    getUnreadCounter() { return this._chat ? this._chat.unread() : 0; }

    clearUnreadCounter() {
      if (!this._chat) return;
      this._chat.clearUnread();
      this.fire('messageviewed', {});
    }

    /** printCurrentChat prints the messages of the current (or last) chat. */
    printCurrentChat() {
      const c = this._chat;
      if (!c) return off('printCurrentChat');
      const id = c.st.chat_id || c.lastChat();
      const pad = (n) => (n < 10 ? '0' : '') + n;
      let html = '<h1>' + escape((this.settings.chat && this.settings.chat.title) || document.title) + '</h1>';
      c.log.forEach((m) => {
        if (id && m.chat_id !== id && m.chat_id) return;
        const d = new Date(m.date * 1000);
        // The message objects' strings are escaped already.
        html += '<p><b>' + m.from + '</b> <small>' + pad(d.getDate()) + '.' + pad(d.getMonth() + 1) + '.' + d.getFullYear() + ' ' + pad(d.getHours()) + ':' + pad(d.getMinutes()) +
          '</small><br>' + (m.fx_name ? m.fx_name + ' (' + m.fx_size_info + ')' : m.text) + '</p>';
      });
      const f = document.createElement('iframe');
      f.setAttribute('aria-hidden', 'true');
      f.style.cssText = 'position:fixed;width:0;height:0;border:0;left:-9999px';
      document.body.appendChild(f);
      const d = f.contentDocument;
      d.open();
      d.close();
      d.body.innerHTML = html;
      d.body.style.cssText = 'font:14px/1.5 sans-serif;white-space:pre-wrap';
      try { f.contentWindow.print(); } catch (e) { report(e); }
      setTimeout(() => f.remove(), 1000);
      return true;
    }
  }

  // callInfo turns a sitePhoneCall answer into {success, info: {title, message}, result}.
  const callInfo = (r) => {
    const ok = !!r && r.success === true;
    const status = r && r.result && r.result.status;
    const t = ok ? C.CALL_SENT : status === 4 ? C.CALL_LIMIT : status === 1 ? C.CALL_CAPTCHA : C.CALL_FAILED;
    return { success: ok, info: { title: t.title, message: t.message }, result: (r && r.result) || null };
  };
  const CALL_KEYS = { phone: 1, captcha_key: 1, captcha_value: 1, delayed_call_time: 1, group_id: 1 };

  // Sitephone is the sitephone widget and the consultant's consultant_sitephone.
  class Sitephone extends Widget {
    constructor(name, config) {
      super(name, config);
      if (name === 'sitephone') provide(env, 'openSitePhonePanel', () => { if (!this.el) this.render(); this.show(true); });
    }

    sitephoneCall(params, cb) { return window.ComagicWidget.sitePhoneCall(params, cb); }

    /** startCall orders the callback with the form's values (phone,
     * captcha_key, captcha_value, delayed_call_time, group_id; other fields
     * go along as values); the callcomplete event (and, for
     * consultant_sitephone, sitephonecall) gets {success, info: {title,
     * message}, result}. */
    startCall(values) {
      values = Object.assign({}, values);
      const extra = {};
      let more = false;
      for (const k in values) {
        if (own.call(values, k) && !own.call(CALL_KEYS, k) && k !== 'date' && values[k] != null && typeof values[k] !== 'object' && typeof values[k] !== 'function') {
          extra[k] = String(values[k]);
          more = true;
        }
      }
      emit('ui:actionstart', { widget: this.name, action: 'startcall' });
      env.callback(values, this.name, more ? extra : null, (r) => {
        const ev = callInfo(r);
        this.fire('callcomplete', ev);
        if (this.name === 'consultant_sitephone') this.fire('sitephonecall', ev);
        emit('ui:actionend', { widget: this.name, action: 'startcall', success: ev.success });
      });
    }
  }

  // Lead forms: submit(data) records the lead, cancel() the refusal. The
  // leadsubmit event gets {success, info: {title, message}} whether the
  // submit worked or not, so the form can say so. While one is visible the
  // visitor's state is 'lead' (consultant_chat.getState(), statechange).
  let leadShown = false;
  const leadState = () => setTimeout(() => {
    const chat = registry.consultant_chat;
    let on = false;
    for (let i = 0; i < LEADS.length; i++) on = on || (!!registry[LEADS[i]] && registry[LEADS[i]].isVisible());
    if (on === leadShown) return;
    leadShown = on;
    if (chat) chat.fire('statechange', chat.getState());
  }, 0);
  const handled = (name) => { if (typeof env.leadHandled === 'function') env.leadHandled(name); };

  class Lead extends Widget {
    constructor(name, config) {
      super(name, config);
      ['render', 'show', 'hide', 'destroy'].forEach((e) => this.on(e, leadState));
    }

    /** isSubmitted tells whether submit() was called on this display. */
    isSubmitted() { return !!this._submitted; }

    /** submit records the lead: call_generator orders a callback (phone,
     * group_id, delayed_call_time, captcha_key, captcha_value; other fields
     * go along as values), offline_message_generator sends an offline
     * request, personal_form records the data; each is also logged as the
     * form's submit. */
    submit(data) {
      this._submitted = true;
      data = Object.assign({}, data);
      handled(this.name);
      const done = (ev) => this.fire('leadsubmit', ev);
      if (this.name === 'personal_form') {
        env.leadAction(this.name, 'submit', data, (o) => {
          const ok = !!o && o.success === true;
          const t = ok ? C.LEAD_SENT : C.LEAD_FAILED;
          done({ success: ok, info: { title: t.title, message: t.message } });
        });
        return;
      }
      env.leadAction(this.name, 'submit', {}, null);
      if (this.name === 'call_generator') {
        const extra = {};
        let more = false;
        for (const k in data) {
          if (own.call(data, k) && !own.call(CALL_KEYS, k) && data[k] != null && typeof data[k] !== 'object' && typeof data[k] !== 'function') {
            extra[k] = String(data[k]);
            more = true;
          }
        }
        env.callback(data, 'call_generator', more ? extra : null, (r) => done(callInfo(r)));
        return;
      }
      api().addOfflineRequest(Object.assign({ form_name: this.settings.title || this.settings.banner_title || this.name }, data), (o) => {
        const ok = !!o && o.success === true;
        const t = ok ? C.OFFLINE_MESSAGE_SENT : C.OFFLINE_MESSAGE_FAILED;
        const ev = { success: ok, info: { title: t.title, message: t.message } };
        if (!ok) ev.error = (o && o.error) || { code: 'network', message: '' };
        done(ev);
      });
    }

    cancel() {
      handled(this.name);
      env.leadAction(this.name, 'cancel', {}, () => this.fire('leadcancel', this));
    }
  }

  return {
    consultant_offline_message: ConsultantOfflineMessage,
    consultant_chat: ConsultantChat,
    consultant_sitephone: Sitephone,
    sitephone: Sitephone,
    call_generator: Lead,
    offline_message_generator: Lead,
    personal_form: Lead,
  };
}
