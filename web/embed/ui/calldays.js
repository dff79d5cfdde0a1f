// Call times for the default call widgets (sitephone, call_generator): the
// offered times grouped by day, and the "now / at another time" picker.

/**
 * callDays groups the offered call times by day: delayed_call_times is a
 * list of times (ms since the epoch, as numbers or text, or date strings)
 * or, as the bootstrap and the vendor's platform send it, a list of
 * {date, times: [ms]}. Times already past are left out, and days without times.
 */
export function callDays(v) {
  const days = [];
  const at = {};
  const now = Date.now();
  const ms = (x) => (typeof x === 'number' ? x : /^\d+$/.test(String(x)) ? +x : Date.parse(x));
  const add = (t) => {
    if (!(t > now)) return;
    const k = new Date(t).toDateString();
    if (!(k in at)) {
      at[k] = days.length;
      days.push({ date: t, times: [] });
    }
    days[at[k]].times.push(t);
  };
  (Array.isArray(v) ? v : []).forEach((x) => {
    if (x && typeof x === 'object') (Array.isArray(x.times) ? x.times : []).forEach((t) => add(ms(t)));
    else add(ms(x));
  });
  days.forEach((d) => d.times.sort((a, b) => a - b));
  return days.sort((a, b) => a.times[0] - b.times[0]);
}

/**
 * callPicker wires the picker of a form's refs R: radio buttons now/later,
 * the block pick with the selects date and time (disabled and hidden while
 * "now" is chosen). It returns { later(), reset() }: whether a later time is
 * chosen, and a reset of the time list to the chosen day.
 */
export function callPicker(R, days, toTime) {
  const later = () => !!R.later && R.later.checked;
  function when() {
    const on = later();
    R.pick.hidden = !on;
    [R.date, R.time].forEach((el) => {
      if (on) el.removeAttribute('c-disabled');
      else el.setAttribute('c-disabled', '');
      el.disabled = !on;
    });
  }
  function times() {
    const d = days[+R.date.value];
    while (R.time.options.length > 1) R.time.remove(1);
    R.time.selectedIndex = 0;
    const now = Date.now();
    (d ? d.times : []).forEach((t) => {
      if (t < now) return;
      const o = document.createElement('option');
      o.value = String(t);
      o.textContent = toTime(new Date(+t));
      R.time.appendChild(o);
    });
  }
  if (R.pick) {
    [R.now, R.later].forEach((r) => r && r.addEventListener('change', when));
    R.date.addEventListener('change', times);
    when();
  }
  return { later: later, reset: () => R.date && times() };
}
