// Demo shop page: writes the classic embed code (site key from this page's
// ?k= parameter, host = this page's origin) and wires buttons to every
// non-UI Comagic API call. Results are shown as text only.
(function () {
  var m = /[?&]k=([A-Za-z0-9]+)/.exec(location.search);
  var key = m ? m[1] : '';

  // --- the classic embed code -------------------------------------------
  var __cs = window.__cs = window.__cs || [];
  __cs.push(['setCsAccount', key]);
  var s = document.createElement('script');
  s.async = true;
  s.src = '//' + location.host + '/static/cs.min.js';
  document.head.appendChild(s);
  // -----------------------------------------------------------------------

  function show(label, value) {
    var out = document.getElementById('out');
    var text;
    try { text = JSON.stringify(value, null, 2); } catch (e) { text = String(value); }
    out.textContent = label + ' → ' + (text === undefined ? 'undefined' : text) + '\n\n' + out.textContent;
  }
  function cb(label) { return function (r) { show(label, r); }; }
  function lead() {
    var f = document.getElementById('lead');
    return { name: f.name.value, phone: f.phone.value, email: f.email.value, message: f.message.value, form_name: 'Demo shop' };
  }

  var calls = {
    buy: function (el) {
      var item = el.getAttribute('data-item');
      Comagic.trackEvent('Shop', 'Buy', item);
      show('trackEvent("Shop", "Buy", "' + item + '")', 'sent');
    },
    getCredentials: function () { show('getCredentials()', Comagic.getCredentials()); },
    getVisitorId: function () { show('getVisitorId()', Comagic.getVisitorId()); },
    getSessionId: function () { show('getSessionId()', Comagic.getSessionId()); },
    getDeviceType: function () { show('getDeviceType()', Comagic.getDeviceType()); },
    getOperatorStatus: function () { show('getOperatorStatus()', Comagic.getOperatorStatus()); },
    trackEvent: function () {
      Comagic.trackEvent('Offer', 'DownloadBook', 'CallTrackingBook', 'value');
      show('trackEvent(...)', 'sent');
    },
    addVisitorInfo: function () {
      var l = lead();
      Comagic.addVisitorInfo({ name: l.name, phone: l.phone, email: l.email }, cb('addVisitorInfo'));
    },
    setProperty: function () { Comagic.setProperty('Тип посетителя', 'Потенциальный'); show('setProperty(...)', 'sent'); },
    setFlag: function () { Comagic.setProperty('Действующий клиент'); show('setProperty("Действующий клиент")', 'sent'); },
    hasProperty: function () { Comagic.hasProperty('Действующий клиент', cb('hasProperty')); },
    getProperty: function () { Comagic.getProperty('Тип посетителя', cb('getProperty')); },
    deleteProperty: function () { Comagic.deleteProperty('Тип посетителя'); show('deleteProperty(...)', 'sent'); },
    addOfflineRequest: function () {
      Comagic.addOfflineRequest(lead(), function (o) {
        show('addOfflineRequest', { success: o.success, result: o.result, error: o.error, status: o.status, statusText: o.statusText, readyState: o.readyState, responseText: o.responseText });
      });
    },
    reinitTrackView: function () {
      history.pushState(null, '', location.pathname + '?k=' + key + '&page=' + Date.now());
      Comagic.reinitTrackView();
      show('reinitTrackView()', 'new hit for ' + location.href);
    },
    storage: function () {
      var n = (Comagic.storage.getItem('demo_clicks') || 0) + 1;
      Comagic.storage.setItem('demo_clicks', n);
      show('storage demo_clicks', n);
    },
    openSiteRequestPanel: function () { Comagic.openSiteRequestPanel(); show('openSiteRequestPanel()', 'the request form opens when the consultant is enabled'); },
    openChatWindow: function () { Comagic.openChatWindow(); show('openChatWindow()', 'see the console'); },
    openSitePhonePanel: function () { ComagicWidget.openSitePhonePanel(); show('openSitePhonePanel()', 'see the console'); }
  };

  document.addEventListener('DOMContentLoaded', function () {
    if (!key) document.getElementById('nokey').hidden = false;
    document.addEventListener('click', function (e) {
      var el = e.target.closest && e.target.closest('[data-call]');
      if (!el) return;
      if (!window.Comagic) { show('Comagic', 'not loaded yet'); return; }
      calls[el.getAttribute('data-call')](el);
    });
  });
})();
