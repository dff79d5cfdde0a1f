// The default sitephone view controller of comagicd: a floating label and the
// callback panel (phone with the site's mask, group, call time, captcha,
// personal-data consent, the outcome). It uses only the public Comagic.UI
// framework, so a site can replace it (applyWidgetsOptions) with its own.

(function () {
  const UI = window.Comagic && window.Comagic.UI;
  if (!UI) return;

  const hex = (c, d) => {
    c = String(c || '').replace(/^#/, '');
    return /^([0-9a-fA-F]{3}){1,2}$/.test(c) ? '#' + c : d;
  };

  function theme(w, settings) {
    const accent = hex(settings.banner_color, '#2E9E44');
    w.el.style.setProperty('--cmgs-accent', accent);
    w.el.style.setProperty('--cmgs-on-accent', '#' + UI.getContrastColor(accent));
  }

  UI.registerViewController('sitephone', function (settings, tpls) {
    const C = UI.C;
    const mobile = () => window.Comagic.getDeviceType() === 'mobile';
    const days = UI._env.callDays(settings.delayed_call_times);
    // The label is shown while the site shows the widget and works now, or
    // always when the settings say so (is_always_displayed).
    const labelShown = settings.is_visible !== false && settings.is_button_displayed !== false &&
      (settings.is_schedule_active !== false || settings.is_always_displayed !== false);

    const panel = UI.createWidget('sitephone', { settings: Object.assign({}, settings, { call_days: days }), template: tpls.sitephone });
    panel.render();
    panel.hide();
    theme(panel, settings);
    const R = panel.refs;
    let label = null;
    let captchaKey = '';
    let sending = false;

    const focusable = () => panel.getEl('[c-name]:not([disabled])');
    const showForm = (on) => {
      R.form.hidden = !on;
      R.done.hidden = on;
    };

    function captcha() {
      if (!R.captchaImg) return;
      captchaKey = '';
      R.captcha.value = '';
      window.Comagic.getCaptcha((c) => {
        captchaKey = c.key;
        if (c.url) R.captchaImg.src = c.url;
        else R.captchaImg.removeAttribute('src');
      }, { bg: 'FFFFFF' });
    }

    // The visitor may ask for a call at another time.
    const picker = UI._env.callPicker(R, days);
    const later = picker.later;

    function reset() {
      const fields = panel.el.querySelectorAll('input[c-name], select[c-name]');
      for (let i = 0; i < fields.length; i++) {
        if (fields[i].type === 'checkbox') fields[i].checked = false;
        else if (fields[i].tagName === 'SELECT') fields[i].selectedIndex = 0;
        else fields[i].value = '';
      }
      picker.reset();
      panel.showErrors(null);
      R.formError.textContent = '';
      showForm(true);
    }

    panel.on('show', () => {
      ['consultant_rack', 'consultant_offline_message', 'consultant_chat'].forEach((n) => {
        const w = UI.getWidget(n);
        if (w && w.isVisible()) w.hide();
      });
      if (label) label.refs.button.setAttribute('aria-expanded', 'true');
      if (mobile()) UI.Mobile.form(panel);
      if (!R.form.hidden) captcha();
      const f = R.form.hidden ? R.doneClose : focusable();
      if (f) f.focus();
    });
    panel.on('hide', () => {
      UI.Mobile.unform(panel);
      if (label) {
        label.refs.button.setAttribute('aria-expanded', 'false');
        if (labelShown) label.refs.button.focus();
      }
      if (R.done.hidden) return;
      reset();
    });
    R.close.addEventListener('click', () => panel.hide());
    R.doneClose.addEventListener('click', () => panel.hide());
    R.retry.addEventListener('click', () => {
      showForm(true);
      captcha();
      const f = focusable();
      if (f) f.focus();
    });
    panel.el.addEventListener('keydown', (e) => {
      if (e.key === 'Escape') {
        e.stopPropagation();
        panel.hide();
      }
    });
    if (R.captchaNew) R.captchaNew.addEventListener('click', captcha);
    // An error shown goes away once its field is right.
    const recheck = () => {
      const now = panel.getErrors() || {};
      const keep = {};
      let shown = false;
      panel.el.querySelectorAll('[c-error]').forEach((e) => {
        const n = e.getAttribute('c-error');
        if (!e.textContent) return;
        shown = true;
        if (now[n]) keep[n] = now[n];
      });
      if (shown) panel.showErrors(keep, C.FIELD_ERRORS);
    };
    R.form.addEventListener('input', recheck);
    R.form.addEventListener('change', recheck);

    panel.on('submit', (w, values) => {
      if (sending) return;
      const errors = panel.getErrors();
      R.formError.textContent = '';
      panel.showErrors(errors, C.FIELD_ERRORS);
      if (errors) {
        const bad = panel.getEl('[aria-invalid="true"]');
        if (bad) bad.focus();
        return;
      }
      const call = { phone: values.phone };
      if (values.group_id) call.group_id = +values.group_id;
      if (later() && values.delayed_call_time) call.delayed_call_time = +values.delayed_call_time;
      if (R.captchaImg) {
        call.captcha_key = captchaKey;
        call.captcha_value = values.captcha_value;
      }
      sending = true;
      R.submit.setAttribute('aria-busy', 'true');
      R.submit.disabled = true;
      panel.startCall(call);
    });
    panel.on('callcomplete', (ev) => {
      sending = false;
      R.submit.removeAttribute('aria-busy');
      R.submit.disabled = false;
      const st = ev.result && ev.result.status;
      if (st === 1 && R.captcha) {
        // A wrong code: a new picture, the error on the field.
        captcha();
        panel.showErrors({ captcha_value: 'captcha' }, { captcha: ev.info.message });
        R.captcha.focus();
        return;
      }
      R.doneTitle.textContent = ev.info.title;
      R.doneText.textContent = ev.info.message;
      R.done.classList.toggle('cmgs-done--fail', !ev.success);
      R.retry.hidden = ev.success;
      showForm(false);
      R.done.focus();
    });

    label = UI.createWidget('sitephone_label', { settings: settings, template: tpls.sitephone_label });
    label.render();
    theme(label, settings);
    label.el.hidden = !labelShown;
    label.refs.button.addEventListener('click', () => {
      if (panel.isVisible()) panel.hide();
      else panel.show();
    });
    if (mobile()) {
      UI.Mobile.updateLabelStyles(label.el, { padding: 4 });
      UI.Mobile.updateLabelStyles(label.refs.button, { width: 15, height: 15 });
    }

    // The consultant's label may sit in the same corner: ours goes above it.
    const side = settings.h_position === 'left' ? 'left' : 'right';
    const edge = settings.v_position === 'top' ? 'top' : settings.v_position === 'middle' ? 'middle' : 'bottom';
    const stack = () => {
      const other = document.querySelector('.cmgd-root.cmgd-' + side + '.cmgd-' + edge + ' > .cmgd-label');
      const h = other && !other.hidden && other.offsetHeight;
      [label.el, panel.el].forEach((el) => {
        el.classList.toggle('cmgs-stacked', !!h);
        if (h) el.style.setProperty('--cmgs-under', h + 12 + 'px');
      });
    };
    stack();
    if (window.MutationObserver) new MutationObserver(stack).observe(document.body, { childList: true });
  });
})();
