// The code screen: what is shown at the gate. The QR is drawn here from the code's text, framed
// in the colour (also a word, an icon and a pattern), with a live clock and a moving bar so a
// screenshot is obvious. It polls for a new code (a colour change shows within 30 s), renews the
// code before it expires, keeps the screen on, and offline shows the last code only while valid.

import {
  call, get, ApiError, t, pick, clockTime, lang, cachedCode, saveCode, expiresAt, serverNow,
} from './core.js';
import qrcode from '../vendor/qrcode.mjs';

//: How often an open code screen asks whether the status changed (a colour change shows within
//: 30 s); the province's /v1/app/config may set another (status_poll_s).
let pollMs = 10000;
//: A code is renewed this long before it expires (config: code_refresh_before_s).
let renewBeforeMs = 120000;

export function configure(config) {
  if (config.status_poll_s > 0) pollMs = Math.min(config.status_poll_s, 25) * 1000;
  if (config.code_refresh_before_s > 0) renewBeforeMs = config.code_refresh_before_s * 1000;
  const province = config.province || {};
  state.provinceTexts = province;
}
const ICONS = {
  green: '<svg viewBox="0 0 24 24"><path d="M4 12.5l5 5L20 6.5" fill="none" stroke="currentColor" stroke-width="3.2" stroke-linecap="round" stroke-linejoin="round"/></svg>',
  yellow: '<svg viewBox="0 0 24 24"><path d="M12 3L2 21h20z" fill="none" stroke="currentColor" stroke-width="2.6" stroke-linejoin="round"/><path d="M12 9.5v5M12 17.5v.5" stroke="currentColor" stroke-width="2.6" stroke-linecap="round"/></svg>',
  red: '<svg viewBox="0 0 24 24"><path d="M5 5l14 14M19 5L5 19" stroke="currentColor" stroke-width="3.4" stroke-linecap="round"/></svg>',
  none: '<svg viewBox="0 0 24 24"><circle cx="12" cy="12" r="8" fill="none" stroke="currentColor" stroke-width="2.6"/></svg>',
};

const state = {
  who: 'me', // 'me' or a dependant's reference
  code: null,
  offline: false,
  visible: false,
  announced: '',
  pollTimer: null,
  tickTimer: null,
  wakeLock: null,
  provinceTexts: null,
};

const $ = (id) => document.getElementById(id);

function codePath(who, what = 'code') {
  return who === 'me' ? `/v1/me/${what}` : `/v1/family/${encodeURIComponent(who)}/${what}`;
}

export function currentPerson() {
  return state.who;
}

function valid(code, now = serverNow()) {
  return code && expiresAt(code) > now;
}

function mark(name) {
  if (performance.getEntriesByName(name).length === 0) performance.mark(name);
}

function announce(text) {
  if (text === state.announced) return;
  state.announced = text;
  $('live').textContent = text;
}

function renderRefusal() {
  const frame = $('code-frame');
  frame.dataset.colour = 'none';
  frame.dataset.state = 'refused';
  $('colour-icon').innerHTML = ICONS.none;
  $('colour-word').textContent = t('none');
  $('qr').replaceChildren();
  $('qr').setAttribute('aria-label', t('offline_expired'));
  $('who').textContent = '';
  $('reason').textContent = t('offline_expired');
  $('advice').textContent = '';
  $('validity').textContent = '';
  announce(t('offline_expired'));
}

export function render() {
  const code = state.code;
  if (!code) return;
  if (!valid(code)) {
    if (state.offline) renderRefusal();
    return;
  }
  const said = code.colour || code.status;
  const colour = ['green', 'yellow', 'red'].includes(said) ? said : 'none';
  const frame = $('code-frame');
  frame.dataset.colour = colour;
  frame.dataset.state = state.offline ? 'offline' : 'online';
  frame.dataset.jti = code.jti;
  $('colour-icon').innerHTML = ICONS[colour];
  $('colour-word').textContent = t(colour);
  const qr = $('qr');
  if (qr.dataset.text !== code.qr_text) {
    qr.replaceChildren(qrSvg(code.qr_text));
    qr.dataset.text = code.qr_text;
    mark('hc-code-shown'); // benchmarks/bench_citizen_app.py reads these marks
  }
  qr.setAttribute('aria-label', t('qr_label', { colour: t(colour), name: code.masked_name }));
  const province = pick(code.province) || pick(state.provinceTexts) || code.issuer_name || '';
  $('who').textContent = [code.masked_name, t('id_tail', { t: code.id_tail }), province]
    .filter(Boolean).join(' · ');
  const reason = pick(code.reason_text);
  $('reason').textContent = reason;
  $('advice').textContent = pick(code.advice) || t(`${colour}_advice`);
  updateValidity();
  announce(t('verdict_said', { name: code.masked_name, colour: t(colour), reason }));
}

function updateValidity() {
  const code = state.code;
  if (!code) return;
  const until = new Date(expiresAt(code));
  if (state.offline) {
    $('validity').textContent = t('offline_valid', { t: clockTime(until) });
    return;
  }
  const minutes = Math.max(0, Math.ceil((until.getTime() - serverNow()) / 60000));
  $('validity').textContent = `${t('valid_until', { t: clockTime(until) })} · ${t('time_left', { m: minutes })}`;
}

function tick() {
  $('clock').textContent = clockTime(new Date(), true);
  const code = state.code;
  if (!code) return;
  if (!valid(code)) {
    if (state.offline) renderRefusal();
    else renew();
    return;
  }
  if (!state.offline && expiresAt(code) - serverNow() < renewBeforeMs) renew();
  updateValidity();
}

let inFlight = null;
let lastRenewal = 0;

// Renewals the clock asks for are at most one per 5 s, whatever the server answers.
function renew() {
  if (Date.now() - lastRenewal < 5000) return;
  lastRenewal = Date.now();
  refresh();
}

export async function refresh() {
  if (inFlight) return inFlight;
  const who = state.who;
  inFlight = (async () => {
    try {
      // The first code of the citizen may already be on its way (index.html's inline script).
      const early = who === 'me' ? window.hcEarlyCode : undefined;
      window.hcEarlyCode = undefined;
      const code = await call('GET', codePath(who), undefined, { early });
      if (who !== state.who) return;
      state.offline = false;
      state.code = code;
      saveCode(who, code);
      render();
      mark('hc-code-fresh');
    } catch (error) {
      if (!(error instanceof ApiError) || who !== state.who) return;
      if (error.code === 'offline' || error.status >= 500) {
        state.offline = true;
        state.code = state.code || cachedCode(who);
        if (state.code) render();
        else renderRefusal();
      }
    } finally {
      inFlight = null;
    }
  })();
  return inFlight;
}

// Has the status changed? A 304 (nothing new) costs the server almost nothing; a 200 means
// fetch the code again. Without the status endpoint (older issuers), fetch the code.
async function poll() {
  const code = state.code;
  if (!code || !code.status_version || state.offline) return refresh();
  const who = state.who;
  try {
    const changed = await call('GET', codePath(who, 'status'), undefined, {
      headers: { 'If-None-Match': `"${code.status_version}"` },
    });
    if (changed && who === state.who && changed.status_version !== code.status_version) {
      return refresh();
    }
  } catch (error) {
    return refresh(); // offline, or an issuer without the status endpoint: ask for the code
  }
  return null;
}

export function showPerson(who) {
  state.who = who;
  state.announced = '';
  const cached = cachedCode(who);
  state.code = valid(cached) ? cached : null;
  $('qr').dataset.text = '';
  for (const button of document.querySelectorAll('#people button')) {
    button.setAttribute('aria-pressed', String(button.dataset.who === who));
  }
  if (state.code) render();
  else {
    $('code-frame').dataset.colour = 'none';
    $('qr').replaceChildren();
    // role="img" needs a name even before the code arrives (screen readers say "loading").
    $('qr').setAttribute('aria-label', t('loading'));
    $('reason').textContent = t('loading');
  }
  return refresh();
}

// The person switcher: one tap shows a dependant's code.
export function setPeople(dependants) {
  const group = $('people');
  const buttons = [{ ref: 'me', masked_name: t('me') }, ...dependants].map((person) => {
    const button = document.createElement('button');
    button.type = 'button';
    button.className = 'chip';
    button.dataset.who = person.ref;
    button.textContent = person.masked_name;
    button.setAttribute('aria-pressed', String(person.ref === state.who));
    button.addEventListener('click', () => showPerson(person.ref));
    return button;
  });
  group.replaceChildren(...(buttons.length > 1 ? buttons : []));
}

async function keepScreenOn() {
  if (!('wakeLock' in navigator) || state.wakeLock || document.visibilityState !== 'visible') return;
  try {
    state.wakeLock = await navigator.wakeLock.request('screen');
    state.wakeLock.addEventListener('release', () => { state.wakeLock = null; });
  } catch (error) {
    state.wakeLock = null; // refused (battery saver): the code still shows
  }
}

export function enter() {
  state.visible = true;
  clearInterval(state.tickTimer);
  clearInterval(state.pollTimer);
  state.tickTimer = setInterval(tick, 1000);
  state.pollTimer = setInterval(poll, pollMs);
  tick();
  keepScreenOn();
  return showPerson(state.who);
}

export function leave() {
  state.visible = false;
  clearInterval(state.tickTimer);
  clearInterval(state.pollTimer);
  if (state.wakeLock) state.wakeLock.release().catch(() => {});
  state.wakeLock = null;
}

export function reset() {
  leave();
  state.who = 'me';
  state.code = null;
  state.announced = '';
}

document.addEventListener('visibilitychange', () => {
  if (!state.visible || document.visibilityState !== 'visible') return;
  keepScreenOn();
  refresh();
});
window.addEventListener('online', () => { if (state.visible) refresh(); });
window.addEventListener('offline', () => {
  state.offline = true;
  if (state.visible) render();
});

export function relabel() {
  state.announced = '';
  if (state.code) render();
  else if (!$('qr').dataset.text) $('qr').setAttribute('aria-label', t('loading'));
  setPeopleLabels();
}

function setPeopleLabels() {
  const me = document.querySelector('#people button[data-who="me"]');
  if (me) me.textContent = t('me');
  document.documentElement.dataset.lang = lang();
}

// The QR symbol drawn on the phone from the code's text (qrcode-generator, vendored from npm).
// As the issuer builds it (healthcode/qr.py): the `hc:/` prefix in a byte segment, the digits in
// a numeric segment, error correction M, a 4-module quiet zone.


const SVG = 'http://www.w3.org/2000/svg';
const QUIET = 4;

export function qrSvg(text) {
  const split = /^([^0-9]*(?:[0-9]+\/[0-9]+\/)?)([0-9]*)$/.exec(text);
  const symbol = qrcode(0, 'M');
  if (split && split[2]) {
    symbol.addData(split[1], 'Byte');
    symbol.addData(split[2], 'Numeric');
  } else {
    symbol.addData(text, 'Byte');
  }
  symbol.make();
  const count = symbol.getModuleCount();
  const size = count + 2 * QUIET;
  let path = '';
  for (let row = 0; row < count; row += 1) {
    for (let col = 0; col < count; col += 1) {
      if (symbol.isDark(row, col)) path += `M${col + QUIET} ${row + QUIET}h1v1h-1z`;
    }
  }
  const svg = document.createElementNS(SVG, 'svg');
  svg.setAttribute('viewBox', `0 0 ${size} ${size}`);
  svg.setAttribute('shape-rendering', 'crispEdges');
  svg.setAttribute('aria-hidden', 'true');
  svg.setAttribute('focusable', 'false');
  const background = document.createElementNS(SVG, 'rect');
  background.setAttribute('width', String(size));
  background.setAttribute('height', String(size));
  background.setAttribute('fill', '#fff');
  const modules = document.createElementNS(SVG, 'path');
  modules.setAttribute('d', path);
  modules.setAttribute('fill', '#000');
  svg.append(background, modules);
  return svg;
}
