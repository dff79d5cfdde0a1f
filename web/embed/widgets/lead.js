// The default lead forms of comagicd (SPEC §10): call_generator (a callback
// order), offline_message_generator (a request form) and personal_form (an
// offer with a link). Each display renders the form anew; closing it records
// a cancel, the button a submit. It uses only the public Comagic.UI
// framework, so a site can replace any of them (applyWidgetsOptions or its
// own registerViewController).

(function () {
  const UI = window.Comagic && window.Comagic.UI;
  if (!UI) return;
  const env = UI._env;

  const hex = (c, d) => {
    c = String(c || '').replace(/^#/, '');
    return /^([0-9a-fA-F]{3}){1,2}$/.test(c) ? '#' + c : d;
  };

  function run(name, settings, tpls) {
    const C = UI.C;
    const mobile = window.Comagic.getDeviceType() === 'mobile';
    const old = UI.getWidget(name);
    if (old && old.el) old.destroy();
    // call_generator offers the call times of the bootstrap, if any.
    const days = name === 'call_generator' ? env.callDays(settings.delayed_call_times) : [];
    const w = UI.createWidget(name, { settings: Object.assign({}, settings, { call_days: days }), template: tpls[name], id: settings.id });
    w.render();
    const R = w.refs;
    const picker = env.callPicker(R, days);
    const el = w.el;
    const accent = hex((mobile && settings.banner_color_mobile) || settings.banner_color, '#2E9E44');
    const button = hex((mobile && settings.button_color_mobile) || settings.button_color, '#1C2430');
    el.style.setProperty('--cmgl-accent', accent);
    el.style.setProperty('--cmgl-on-accent', '#' + UI.getContrastColor(accent));
    el.style.setProperty('--cmgl-button', button);
    el.style.setProperty('--cmgl-on-button', '#' + UI.getContrastColor(button));
    if (mobile) el.classList.add('cmgl--mobile');

    let sending = false;
    let gone = false;
    const close = () => {
      if (gone) return;
      gone = true;
      if (!w.isSubmitted()) w.cancel();
      w.hide();
    };
    const done = (ev) => {
      sending = false;
      if (R.submit) {
        R.submit.disabled = false;
        R.submit.removeAttribute('aria-busy');
      }
      if (!ev.success && R.form) {
        const f = ev.error && ev.error.field;
        R.formError.textContent = f && C.FIELD_ERRORS[f] ? C.FIELD_ERRORS[f] : ev.info.message;
        return;
      }
      R.doneTitle.textContent = ev.info.title;
      R.doneText.textContent = ev.info.message;
      if (R.form) R.form.hidden = true;
      R.done.hidden = false;
      R.doneClose.focus();
    };

    R.close.addEventListener('click', close);
    R.doneClose.addEventListener('click', close);
    el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        close();
      }
    });
    // Handled in another tab: the framework hides the form; nothing to record.
    w.on('leadhide', () => { gone = true; });
    w.on('leadsubmit', done);

    if (name === 'personal_form') {
      // The offer's link opens from the click itself, so no popup blocker stops it.
      R.submit.addEventListener('click', () => {
        if (w.isSubmitted()) return;
        w.submit({ button_url: String(settings.button_url || '') });
      });
    } else {
      w.on('submit', (x, values) => {
        if (sending) return;
        const errors = w.getErrors() || {};
        if (R.consent && !R.consent.checked) errors.consent = 'required';
        R.formError.textContent = '';
        w.showErrors(Object.keys(errors).length ? errors : null, C.FIELD_ERRORS);
        if (Object.keys(errors).length) {
          const bad = w.getEl('[aria-invalid="true"]');
          if (bad) bad.focus();
          return;
        }
        const data = {};
        Object.keys(values).forEach((k) => {
          const v = values[k];
          if (v !== '' && v != null) data[k] = typeof v === 'string' ? v.trim() : v;
        });
        if (data.group_id) data.group_id = +data.group_id;
        delete data.date;
        if (!picker.later()) delete data.delayed_call_time;
        else data.delayed_call_time = +data.delayed_call_time;
        sending = true;
        R.submit.disabled = true;
        R.submit.setAttribute('aria-busy', 'true');
        w.submit(data);
      });
    }
    const first = w.getEl('[c-name]') || R.submit;
    if (first && !mobile) first.focus({ preventScroll: true });
  }

  ['call_generator', 'offline_message_generator', 'personal_form'].forEach((n) => {
    if (!env || !env.reg[n]) UI.registerViewController(n, (settings, tpls) => run(n, settings, tpls));
  });
})();
