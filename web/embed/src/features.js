// Documented methods of widgets not enabled for the
// site (the consultant's chat and request form, the sitephone panel). Each one exists under
// its documented name and says in the console that the feature is disabled for
// the site: never a silent no-op, never a fake success.

import { hook, UI, visitorCard } from './ui.js';
import { api } from './core.js';
import { phonesApi } from './phones.js';
import { sitePhoneCall } from './sitephone.js';
import { guard, later, invoke, warn } from './util.js';

const said = {};

function off(feature, name) {
  if (said[name]) return;
  said[name] = true;
  warn(name + '(): ' + feature + ' is disabled for this site');
}

/** disabled returns a method that reports the feature as disabled and returns ret(args). */
export function disabled(feature, name, ret) {
  return function () {
    off(feature, name);
    return ret ? ret.apply(null, arguments) : undefined;
  };
}

const CHAT = 'the online consultant (chat)';
const REQ = 'the request form';
const PHONE = 'the callback widget (sitephone)';

const mailFailed = (v, cb) => {
  later(() => invoke(cb, { success: false, error: { code: 'feature_disabled', message: 'the online chat is disabled for this site' } }));
};

/** comagicStubs are merged into window.Comagic. */
export function comagicStubs() {
  return {
    // Until an operator can chat, openChatWindow opens the request form (the
    // consultant widget implements it), as the vendor's platform does.
    openChatWindow: hook('openChatWindow', 'consultant', disabled(CHAT, 'Comagic.openChatWindow')),
    openSiteRequestPanel: hook('openSiteRequestPanel', 'consultant', disabled(REQ, 'Comagic.openSiteRequestPanel')),
    openSitePhonePanel: hook('openSitePhonePanel', 'sitephone', disabled(PHONE, 'Comagic.openSitePhonePanel')),
    // sendChatByMail(email | {email}, callback?): the consultant widget
    // implements it; the callback gets {success, error?}.
    sendChatByMail: hook('sendChatByMail', 'consultant', disabled(CHAT, 'Comagic.sendChatByMail', mailFailed)),
    // sitePhoneCall(params, callback?) orders a callback (sitephone.js).
    sitePhoneCall: guard('Comagic.sitePhoneCall', sitePhoneCall),
    // Comagic.getCaptcha is in the core's api; this is its older name.
    Captcha: { get_captcha: guard('Comagic.Captcha.get_captcha', (cb, o) => api.getCaptcha(cb, o)) },
    // Phone-number replacement (phones.js).
    getPhones: guard('Comagic.getPhones', phonesApi.getPhones),
    getDTPhones: guard('Comagic.getDTPhones', phonesApi.getDTPhones),
    getReplacedPhones: guard('Comagic.getReplacedPhones', phonesApi.getReplacedPhones),
    visitorCard: visitorCard,
    UI: UI,
  };
}

/** widgetStubs are the methods of window.ComagicWidget. */
export function widgetStubs() {
  return {
    openSitePhonePanel: hook('openSitePhonePanel', 'sitephone', disabled(PHONE, 'ComagicWidget.openSitePhonePanel')),
    sitePhoneCall: guard('ComagicWidget.sitePhoneCall', sitePhoneCall),
    sitephoneCall: guard('ComagicWidget.sitephoneCall', sitePhoneCall),
  };
}
