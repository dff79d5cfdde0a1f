// Attention: a short WebAudio chime and a browser notification when a chat
// waits in the queue or a visitor writes while the page is in the background.
// window.workstationStats counts what was done, for people debugging
// notifications and for the browser tests.

const stats = { beeps: 0, sounds: 0, permissionRequests: 0, notifications: 0 };
window.workstationStats = stats;

let audio = null;

/** prime creates the audio context during a user gesture (browsers refuse sound before one). */
export function prime() {
  try {
    const AC = window.AudioContext || window.webkitAudioContext;
    if (!audio && AC) audio = new AC();
    if (audio && audio.state === 'suspended') audio.resume();
  } catch (e) { audio = null; }
}

/** chime plays two short tones. */
export function chime() {
  stats.beeps++;
  if (!audio) return;
  try {
    const t0 = audio.currentTime;
    [[880, 0], [1320, 0.16]].forEach(([freq, at]) => {
      const o = audio.createOscillator();
      const g = audio.createGain();
      o.type = 'sine';
      o.frequency.value = freq;
      g.gain.setValueAtTime(0.0001, t0 + at);
      g.gain.exponentialRampToValueAtTime(0.25, t0 + at + 0.02);
      g.gain.exponentialRampToValueAtTime(0.0001, t0 + at + 0.28);
      o.connect(g).connect(audio.destination);
      o.start(t0 + at);
      o.stop(t0 + at + 0.3);
    });
    stats.sounds++;
  } catch (e) { /* no sound device */ }
}

/** permission returns the notification permission ('unsupported' without the API). */
export function permission() {
  return 'Notification' in window ? Notification.permission : 'unsupported';
}

/** askPermission asks for notifications once (when the browser has not been told yet). */
export function askPermission() {
  if (!('Notification' in window) || Notification.permission !== 'default') return Promise.resolve(permission());
  stats.permissionRequests++;
  try {
    const p = Notification.requestPermission();
    return p && p.then ? p.catch(() => permission()) : Promise.resolve(permission());
  } catch (e) {
    return Promise.resolve(permission());
  }
}

/** notify shows a notification (when allowed); onclick focuses the page and calls click. */
export function notify(title, body, tag, click) {
  if (!('Notification' in window) || Notification.permission !== 'granted') return;
  try {
    const n = new Notification(title, { body: body.slice(0, 180), tag, icon: 'icon.svg' });
    n.onclick = () => {
      window.focus();
      if (click) click();
      n.close();
    };
    stats.notifications++;
  } catch (e) { /* e.g. Android Chrome wants a service worker */ }
}
