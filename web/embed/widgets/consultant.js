// The default consultant view controller of comagicd: a floating label, a
// rack (a small card listing the ways to reach the site), the chat window and
// the offline-request form. It uses only the public Comagic.UI framework, so a
// site can replace it (applyWidgetsOptions) with its own.

(function () {
  const UI = window.Comagic && window.Comagic.UI;
  if (!UI) return;

  function theme(w, settings) {
    const c = String((settings.common && settings.common.banner_color) || '2F6FEB').replace(/^#/, '');
    const accent = /^([0-9a-fA-F]{3}){1,2}$/.test(c) ? '#' + c : '#2F6FEB';
    w.el.style.setProperty('--cmgd-accent', accent);
    w.el.style.setProperty('--cmgd-on-accent', '#' + UI.getContrastColor(accent));
  }

  // raw turns a string the chat widget escaped back into text, for DOM
  // properties (textContent, src); templates use the escaped one as it is.
  const raw = (s) => {
    const t = document.createElement('textarea');
    t.innerHTML = s == null ? '' : s;
    return t.value;
  };

  // beep plays a short generated tone (no audio file), unless the visitor
  // turned the sound off.
  let audio = null;
  function beep() {
    if (window.Comagic.storage.getItem('_cmg_sound_disabled')) return;
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      const t = audio.currentTime;
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.frequency.setValueAtTime(880, t);
      o.frequency.setValueAtTime(1320, t + 0.09);
      g.gain.setValueAtTime(0.0001, t);
      g.gain.exponentialRampToValueAtTime(0.15, t + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t + 0.3);
      o.connect(g);
      g.connect(audio.destination);
      o.start(t);
      o.stop(t + 0.32);
    } catch (e) { /* no Web Audio */ }
  }

  // chatWindow builds the chat: the consultant_chat widget with its window,
  // message log, bot messages (visitor card, e-mail, rating, retention),
  // group selector, typing indicator, sound, print and file sending.
  function chatWindow(settings, tpls, form, label) {
    const cs = settings.chat;
    const C = UI.C;
    const store = window.Comagic.storage;
    const GROUP = '_cmg_current_group_id';
    const chat = UI.createWidget('consultant_chat', { settings: settings, template: tpls.consultant_chat });
    chat.render();
    chat.hide();
    theme(chat, settings);
    const R = chat.refs;
    const log = R.log;
    const groups = [].concat(R.group || []);
    let op = false; // an operator took part in the chat
    let rated = null;
    let typingTimer = 0;
    let waiting = null; // text held while the visitor card is asked for

    const atBottom = () => log.scrollHeight - log.scrollTop - log.clientHeight < 40;
    const add = (el, top) => {
      const stick = atBottom();
      if (top) log.insertBefore(el, log.firstChild);
      else log.appendChild(el);
      if (!top && (stick || el.classList.contains('cmgd-msg--visitor') || el.classList.contains('cmgd-msg--bot'))) log.scrollTop = log.scrollHeight;
      return el;
    };
    const message = (m, top) => { if (m) m.el = add(UI.createEl(tpls.consultant_chat_message, m), top); };
    const bot = (kind, data) => {
      const w = UI.createWidget('consultant_chat_bot', { settings: Object.assign({ bot: kind }, data), template: tpls.consultant_chat_bot });
      w.render(log);
      log.scrollTop = log.scrollHeight;
      return w;
    };
    const done = (w) => {
      w.refs.form.hidden = true;
      w.refs.done.hidden = false;
    };
    const lock = (on) => {
      R.text.disabled = on;
      R.send.disabled = on;
    };
    const group = () => store.getItem(GROUP);
    const needGroup = () => groups.length > 0 && chat.getState() === 'available' && !group();

    // tools shows what can be done now: the group selector before a chat,
    // the rating once an operator answered, file sending when allowed.
    function tools() {
      if (R.groups) {
        R.groups.hidden = !needGroup();
        R.composer.hidden = !R.groups.hidden;
      }
      if (R.rate) R.rate.hidden = !op || !!rated;
      if (R.attach) R.attach.hidden = !chat.isReadyForFileTransfer();
      R.more.hidden = !chat.hasHistory();
      R.sound.setAttribute('aria-pressed', String(!store.getItem('_cmg_sound_disabled')));
    }

    function send() {
      const text = R.text.value.trim();
      if (!text || R.text.disabled) return;
      if (needGroup()) return tools();
      R.text.value = '';
      resize();
      if (chat.getRequiredInfo().length) return askCard(text);
      message(chat.sendChatMessage(text, group()));
    }

    // askCard shows the visitor-card form for the fields the site requires,
    // then sends the held text.
    function askCard(text) {
      waiting = text;
      lock(true);
      const titles = {};
      (cs.fields || []).forEach((f) => { titles[f.name] = f.title; });
      const w = bot('vcard', { fields: chat.getRequiredInfo().map((n) => ({ name: n, title: titles[n] })) });
      const first = w.getEl('input');
      if (first) first.focus();
      w.on('submit', (x, values) => {
        const errors = w.getErrors();
        w.showErrors(errors, C.FIELD_ERRORS);
        if (errors) return;
        chat.setVisitorCard(values, (r) => {
          if (!r.success) return w.showErrors({ [r.error && r.error.field ? r.error.field : 'name']: 'server' }, { server: (r.error && r.error.message) || C.OFFLINE_MESSAGE_FAILED.message });
          done(w);
          lock(false);
          R.text.focus();
          message(chat.sendChatMessage(waiting, group()));
          waiting = null;
        });
      });
    }

    function older() {
      const h = chat.getHistory();
      if (!h) return;
      const before = log.scrollHeight - log.scrollTop;
      h.forEach((m) => message(m, true));
      log.scrollTop = log.scrollHeight - before;
      tools();
    }

    function resize() {
      R.text.style.height = 'auto';
      R.text.style.height = Math.min(R.text.scrollHeight + 2, 140) + 'px';
    }

    // close hides the window as the visitor asked; a pending invitation is declined.
    function close() {
      if (chat.getState() === 'invite') chat.inviteReject();
      chat.hide();
    }

    chat.on('show', () => {
      const f = form;
      if (f.isVisible()) f.hide();
      const r = UI.getWidget('consultant_rack');
      if (r && r.isVisible()) r.hide();
      if (label()) label().refs.button.setAttribute('aria-expanded', 'true');
      store.setItem('_cmgd_chat_open', 1);
      if (window.Comagic.getDeviceType() === 'mobile') UI.Mobile.form(chat);
      if (!log.firstChild) bot('text', { text: C.WELCOME_CHAT_TEXT });
      tools();
      chat.clearUnreadCounter();
      log.scrollTop = log.scrollHeight;
      const g = needGroup() && groups[0];
      (g || R.text).focus();
    });
    chat.on('hide', () => {
      store.setItem('_cmgd_chat_open', 0);
      UI.Mobile.unform(chat);
      if (label()) {
        label().refs.button.setAttribute('aria-expanded', 'false');
        label().refs.button.focus();
      }
    });
    R.close.addEventListener('click', close);
    chat.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        close();
      }
    });
    chat.el.addEventListener('click', () => { if (audio && audio.state === 'suspended') audio.resume(); });

    R.composer.addEventListener('submit', (e) => {
      e.preventDefault();
      send();
    });
    // Enter sends, Shift+Enter starts a new line. The line break of an Enter
    // that sent is refused also when it comes as its own input event.
    let sent = false;
    R.text.addEventListener('keydown', (e) => {
      sent = e.key === 'Enter' && !e.shiftKey && !e.isComposing;
      if (sent) {
        e.preventDefault();
        send();
      }
    });
    R.text.addEventListener('beforeinput', (e) => { if (sent && /Line|Paragraph/.test(e.inputType)) e.preventDefault(); });
    R.text.addEventListener('keyup', () => { sent = false; });
    R.text.addEventListener('input', () => {
      resize();
      chat.chatTyping(R.text.value);
    });
    groups.forEach((b) => b.addEventListener('click', () => {
      store.setItem(GROUP, b.dataset.group);
      tools();
      R.text.focus();
    }));
    if (R.file) R.file.addEventListener('change', () => chat.sendFile(R.file));
    R.more.addEventListener('click', older);
    log.addEventListener('scroll', () => { if (log.scrollTop === 0) older(); });
    R.sound.addEventListener('click', () => {
      store.setItem('_cmg_sound_disabled', !store.getItem('_cmg_sound_disabled'));
      tools();
    });
    R.print.addEventListener('click', () => chat.printCurrentChat());
    R.email.addEventListener('click', () => {
      const w = bot('email', {});
      const card = chat.getVisitorCard();
      const f = w.getEl('input');
      if (card.email[0]) f.value = card.email[0];
      f.focus();
      w.on('submit', (x, values) => {
        const errors = w.getErrors();
        w.showErrors(errors, C.FIELD_ERRORS);
        if (!errors) chat.sendChatByMail(values, (r) => { if (r.success) done(w); else w.refs.error.textContent = C.OFFLINE_MESSAGE_FAILED.message; });
      });
    });
    const rate = () => {
      const w = bot('rating', {});
      [].concat(w.refs.star).forEach((b) => b.addEventListener('click', () => {
        chat.setOperatorRating(+b.dataset.mark);
        done(w);
      }));
      w.refs.star[4].focus();
    };
    if (R.rate) R.rate.addEventListener('click', rate);

    chat.on('showhistory', (list) => list.forEach((m) => message(m)));
    chat.on('sendmessage', (m) => {
      if (m.sender === 'operator') {
        R.typing.hidden = true;
        op = true;
        beep();
      }
      message(m);
      if (chat.isVisible()) chat.clearUnreadCounter();
      tools();
    });
    chat.on('invite', (m) => {
      message(m);
      beep();
      chat.show();
    });
    chat.on('chattyping', () => {
      R.typing.hidden = false;
      clearTimeout(typingTimer);
      typingTimer = setTimeout(() => { R.typing.hidden = true; }, 5000);
    });
    chat.on('operatorjoined', (v) => {
      op = true;
      R.title.textContent = raw(v.name) || cs.title || 'Чат';
      R.position.textContent = raw(v.position);
      R.avatar.src = raw(v.avatar) || C.IMAGES.OPERATOR;
      tools();
    });
    chat.on('operatorleave', () => {
      R.title.textContent = cs.title || 'Чат';
      R.position.textContent = '';
      R.avatar.src = C.IMAGES.OPERATOR;
    });
    chat.on('ratingchange', (r) => {
      rated = r;
      tools();
    });
    chat.on('statechange', (st) => {
      if (st === 'available') {
        store.setItem(GROUP, null);
        if (log.lastChild) bot('text', { text: 'Чат завершён' });
        if (op && R.rate && !rated) rate();
        op = false;
      } else if (st === 'chat' && store.getItem('_cmgd_chat_open') && !chat.isVisible()) chat.show();
      tools();
    });
    chat.on('messagestatus', (m) => { if (m.el) m.el.classList.toggle('cmgd-msg--failed', m.status === 'failed'); });
    chat.on('sendfile', (r) => { if (!r.success) bot('text', { text: 'Не удалось отправить файл' + (r.error && r.error.code === 'too_large' ? ': он слишком большой' : '') }); });
    chat.on('showchatretentionaction', (a) => {
      const way = a.alternate_communication_way;
      const b = C.RETENTION_BUTTONS_SETTINGS[way];
      if (!b) return;
      const w = bot('text', { text: b.text, button: b.buttonText });
      w.refs.action.addEventListener('click', () => chat.closeChat(() => {
        if (way === 'sitephone') window.Comagic.openSitePhonePanel();
        else if (way === 'offline_message') form.open();
        else {
          store.setItem(GROUP, null);
          chat.show();
          tools();
        }
      }));
    });
    return chat;
  }

  UI.registerViewController('consultant', function (settings, tpls) {
    const om = settings.offline_message || {};
    const C = UI.C;
    // On a phone the form takes the whole screen (Mobile.form) and the label
    // is sized in screen units, whatever the page's zoom.
    const mobile = () => window.Comagic.getDeviceType() === 'mobile';
    let label = null;
    let rack = null;
    let chat = null;
    // The chat is offered when the settings have a chat section that is shown.
    const cs = settings.chat && typeof settings.chat === 'object' && settings.chat.is_visible !== false ? settings.chat : null;
    // chatShown tells whether the chat is offered: the site shows it and an
    // operator can answer, or a chat is open.
    const chatShown = () => !!chat && (chat.isChatAvailable() || chat.getState() === 'chat' || chat.getState() === 'invite');

    const form = UI.createWidget('consultant_offline_message', {
      settings: settings,
      template: tpls.consultant_offline_message,
    });
    form.render();
    form.hide();
    theme(form, settings);

    const focusable = () => form.getEl('[c-name]:not([disabled])');
    const showForm = (on) => {
      form.refs.form.hidden = !on;
      form.refs.done.hidden = on;
    };
    const resetForm = () => {
      const fields = form.el.querySelectorAll('[c-name]');
      for (let i = 0; i < fields.length; i++) fields[i].value = '';
      form.showErrors(null);
      form.refs.formError.textContent = '';
      showForm(true);
    };

    form.on('show', function () {
      if (rack) rack.hide();
      if (chat && chat.isVisible()) chat.hide();
      if (label) label.refs.button.setAttribute('aria-expanded', 'true');
      if (mobile()) UI.Mobile.form(form);
      const f = form.refs.form.hidden ? form.refs.doneClose : focusable();
      if (f) f.focus();
    });
    form.on('hide', function () {
      UI.Mobile.unform(form);
      if (label) {
        label.refs.button.setAttribute('aria-expanded', 'false');
        label.refs.button.focus();
      }
      if (!form.refs.form.hidden) return;
      resetForm();
    });
    form.refs.close.addEventListener('click', () => form.hide());
    form.refs.doneClose.addEventListener('click', () => form.hide());
    form.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        form.hide();
      }
    });

    let sending = false;
    form.on('submit', function (w, values) {
      if (sending) return;
      const errors = form.getErrors();
      form.refs.formError.textContent = '';
      form.showErrors(errors, C.FIELD_ERRORS);
      if (errors) {
        const bad = form.getEl('[aria-invalid="true"]');
        if (bad) bad.focus();
        return;
      }
      let any = false;
      for (const k in values) if (k !== 'group_id' && values[k]) any = true;
      if (!any) {
        form.refs.formError.textContent = C.FIELD_ERRORS.name;
        return;
      }
      sending = true;
      form.refs.submit.setAttribute('aria-busy', 'true');
      form.sendRequest(values);
    });
    form.on('sendofflinerequest', function (ev) {
      sending = false;
      form.refs.submit.removeAttribute('aria-busy');
      if (ev.success) {
        form.refs.doneTitle.textContent = ev.info.title;
        form.refs.doneText.textContent = ev.info.message;
        showForm(false);
        form.refs.done.focus();
        return;
      }
      const field = ev.field && form.getEl('[c-name="' + ev.field.replace(/[^a-z_]/gi, '') + '"]');
      if (field) {
        const errs = {};
        errs[ev.field] = 'server';
        form.showErrors(errs, { server: C.FIELD_ERRORS[ev.field] || ev.info.message });
        field.focus();
      } else form.refs.formError.textContent = ev.info.message;
    });

    if (cs) chat = chatWindow(settings, tpls, form, () => label);

    if (om.is_visible !== false || cs) {
      rack = UI.createWidget('consultant_rack', { settings: settings, template: tpls.consultant_rack });
      rack.render();
      rack.hide();
      theme(rack, settings);
      const channels = [].concat(rack.refs.channel || []);
      channels.forEach((b) => b.addEventListener('click', () => (b.dataset.channel === 'chat' ? chat.show() : form.open())));
      rack.on('show', () => {
        // The rack sits above the label, whose size on a phone is in screen units.
        rack.el.style.setProperty('--cmgd-label', label.refs.button.offsetHeight + 'px');
        label.refs.button.setAttribute('aria-expanded', 'true');
        const first = channels.filter((b) => !b.parentNode.hidden)[0];
        if (first) first.focus();
      });
      rack.on('hide', () => label.refs.button.setAttribute('aria-expanded', String(form.isVisible() || (!!chat && chat.isVisible()))));
      rack.el.addEventListener('keydown', (e) => {
        if (e.key === 'Escape') {
          rack.hide();
          label.refs.button.focus();
        }
      });

      label = UI.createWidget('consultant_label', { settings: settings, template: tpls.consultant_label });
      label.render();
      theme(label, settings);
      label.refs.button.addEventListener('click', () => {
        if (chat && chat.isVisible()) chat.hide();
        else if (form.isVisible()) form.hide();
        else if (rack.isVisible()) rack.hide();
        else if (chat && chat.getState() !== 'available' && chatShown()) chat.show();
        else rack.show();
      });
      if (mobile()) {
        UI.Mobile.updateLabelStyles(label.el, { padding: 4 });
        UI.Mobile.updateLabelStyles(label.refs.button, { width: 15, height: 15 });
      }
      // What the label and the rack offer follows the chat's availability.
      const offer = () => {
        const on = chatShown();
        const title = on ? cs.title || 'Чат' : om.title || C.SEND_OFFLINE_MESSAGE_TEXT;
        const n = chat ? chat.getUnreadCounter() : 0;
        label.refs.hint.textContent = title;
        label.refs.button.setAttribute('aria-label', title + (n ? ', непрочитанных: ' + n : ''));
        label.refs.counter.textContent = n > 99 ? '99+' : String(n);
        label.refs.counter.hidden = !n;
        label.el.classList.toggle('cmgd-label--chat', on);
        if (rack.refs.chatItem) rack.refs.chatItem.hidden = !on;
        rack.refs.text.textContent = on ? 'Напишите нам в чат, оператор на связи.' : 'Оставьте заявку, и мы ответим вам в ближайшее время.';
        if (!on && om.is_visible === false) label.el.hidden = true;
        else label.el.hidden = false;
      };
      if (chat) ['chatavailabilitychange', 'statechange', 'sendmessage', 'invite', 'messageviewed', 'showhistory'].forEach((e) => chat.on(e, offer));
      offer();
    }
  });
})();
