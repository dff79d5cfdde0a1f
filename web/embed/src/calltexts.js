// Texts shown when a callback is ordered: the core's popup (sitePhoneCall
// without a callback) and the framework's Comagic.UI.C.CALL_* read the same
// ones. This module imports nothing, so the framework's tests can load it.

/** CALL are the title and message of each outcome of a callback order. */
export const CALL = {
  sent: { title: 'Звонок заказан', message: 'Мы перезвоним вам в ближайшее время.' },
  failed: { title: 'Звонок не заказан', message: 'Заказать звонок сейчас не получилось. Оставьте заявку, и мы свяжемся с вами.' },
  captcha: { title: 'Звонок не заказан', message: 'Код с картинки введён неверно. Попробуйте ещё раз.' },
  limit: { title: 'Звонок не заказан', message: 'Слишком много заказов звонка. Попробуйте через минуту.' },
};

/** callText picks the texts for an answer {success, result: {status}}. */
export function callText(r) {
  const st = r && r.result && r.result.status;
  return r && r.success === true ? CALL.sent : st === 1 ? CALL.captcha : st === 4 ? CALL.limit : CALL.failed;
}
