// The default consultant view controller of comagicd: a floating label, a
// rack (a small card listing the ways to reach the site) and the
// offline-request form. It uses only the public Comagic.UI framework, so a
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

  UI.registerViewController('consultant', function (settings, tpls) {
    const om = settings.offline_message || {};
    const C = UI.C;
    // On a phone the form takes the whole screen (Mobile.form) and the label
    // is sized in screen units, whatever the page's zoom.
    const mobile = () => window.Comagic.getDeviceType() === 'mobile';
    let label = null;
    let rack = null;

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

    if (om.is_visible !== false) {
      rack = UI.createWidget('consultant_rack', { settings: settings, template: tpls.consultant_rack });
      rack.render();
      rack.hide();
      theme(rack, settings);
      const channels = [].concat(rack.refs.channel || []);
      channels.forEach((b) => b.addEventListener('click', () => form.open()));
      rack.on('show', () => {
        label.refs.button.setAttribute('aria-expanded', 'true');
        if (channels[0]) channels[0].focus();
      });
      rack.on('hide', () => label.refs.button.setAttribute('aria-expanded', String(form.isVisible())));
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
        if (form.isVisible()) form.hide();
        else if (rack.isVisible()) rack.hide();
        else rack.show();
      });
      if (mobile()) {
        UI.Mobile.updateLabelStyles(label.el, { padding: 4 });
        UI.Mobile.updateLabelStyles(label.refs.button, { width: 15, height: 15 });
      }
    }
  });
})();
