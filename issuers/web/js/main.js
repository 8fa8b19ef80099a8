// The app shell: login, the screens behind the bottom tabs, language and text size, and the
// service worker that lets the app open with no network.

import {
  call, whenLoggedOut, ApiError, t, translate, setLanguage, lang, session, startSession, endSession,
  errorText,
} from './core.js';
import * as code from './code.js';

const $ = (id) => document.getElementById(id);
const SCREENS = ['login', 'code', 'family', 'declare', 'print', 'appeals', 'history'];
// Screens other than the code are loaded when first opened: the first load stays small.
const LOADERS = {
  family: () => import('./family.js'),
  declare: () => import('./declare.js'),
  print: () => import('./print.js'),
  appeals: () => import('./appeals.js'),
  history: () => import('./history.js'),
};
const TEXT_SIZE = 'hc.large';
let current = null;
let loginPhone = '';
let appConfig = null;

function setMessage(id, text) {
  $(id).textContent = text;
}

async function show(name) {
  if (!SCREENS.includes(name)) name = 'code';
  if (name !== 'login' && !session()) name = 'login';
  if (name === 'login' && session()) name = 'code';
  if (current === 'code' && name !== 'code') code.leave();
  current = name;
  for (const screen of SCREENS) $(`screen-${screen}`).hidden = screen !== name;
  $('tabs').hidden = name === 'login';
  $('logout').hidden = name === 'login';
  for (const tab of document.querySelectorAll('#tabs button')) {
    if (tab.dataset.screen === name) tab.setAttribute('aria-current', 'page');
    else tab.removeAttribute('aria-current');
  }
  document.body.dataset.screen = name;
  // Busy while the screen fetches what it shows (assistive technology waits; so do the tests).
  const section = $(`screen-${name}`);
  section.setAttribute('aria-busy', 'true');
  try {
    if (name === 'code') {
      await Promise.all([code.enter(), loadPeople()]);
    } else if (LOADERS[name]) {
      const module = await LOADERS[name]();
      if (current === name) await module.enter();
    }
  } finally {
    section.removeAttribute('aria-busy');
  }
}

async function loadPeople() {
  try {
    const family = await call('GET', '/v1/family');
    code.setPeople(family.map((member) => ({ ref: member.dependent_ref, masked_name: member.masked_name })));
  } catch (error) {
    // Offline or no family: the switcher shows only the citizen.
  }
}

function route() {
  const name = location.hash.replace(/^#/, '') || 'code';
  show(name);
}

export function go(name) {
  if (location.hash === `#${name}`) route();
  else location.hash = name;
}

async function requestCode(event) {
  event.preventDefault();
  const phone = $('phone').value.trim().replace(/[\s-]/g, '');
  if (!/^\+?[0-9]{5,19}$/.test(phone)) {
    $('phone').setAttribute('aria-invalid', 'true');
    setMessage('login-message', t('phone_invalid'));
    return;
  }
  $('phone').removeAttribute('aria-invalid');
  try {
    const answer = await call('POST', '/v1/auth/otp/request', { phone }, { auth: false });
    loginPhone = phone;
    $('phone-form').hidden = true;
    $('otp-form').hidden = false;
    setMessage('login-message', t('code_sent'));
    // Demo mode only: the issuer has no SMS gateway and says the code, so a newcomer can log in.
    const demo = $('demo-code');
    demo.hidden = !(answer && answer.demo_code);
    if (answer && answer.demo_code) demo.textContent = t('demo_code', { code: answer.demo_code });
    $('otp').focus();
  } catch (error) {
    setMessage('login-message', errorText(error));
  }
}

async function verifyCode(event) {
  event.preventDefault();
  const otp = $('otp').value.trim();
  if (!/^[0-9]{4,10}$/.test(otp)) {
    $('otp').setAttribute('aria-invalid', 'true');
    setMessage('login-message', t('otp_invalid'));
    return;
  }
  $('otp').removeAttribute('aria-invalid');
  try {
    const answer = await call('POST', '/v1/auth/otp/verify', { phone: loginPhone, code: otp }, { auth: false });
    startSession(answer, loginPhone);
    $('otp').value = '';
    $('demo-code').hidden = true;
    $('otp-form').hidden = true;
    $('phone-form').hidden = false;
    setMessage('login-message', '');
    go('code');
  } catch (error) {
    const known = { otp_wrong: 'otp_wrong', otp_expired: 'otp_expired', unauthenticated: 'otp_expired' };
    const key = error instanceof ApiError ? known[error.code] : undefined;
    setMessage('login-message', key ? t(key) : errorText(error));
    if (key === 'otp_wrong') $('otp').select();
  }
}

async function logout() {
  try {
    await call('POST', '/v1/auth/logout');
  } catch (error) {
    // Offline or already ended: the phone forgets the session either way.
  }
  endSession();
  code.reset();
  setMessage('login-message', t('logged_out'));
  go('login');
}

function applyTextSize(large) {
  document.documentElement.classList.toggle('large', large);
  $('text-toggle').setAttribute('aria-pressed', String(large));
  localStorage.setItem(TEXT_SIZE, large ? '1' : '0');
}

// The province's name and the app's settings; kept for offline starts.
async function loadConfig() {
  let config = null;
  try {
    config = await call('GET', '/v1/app/config', undefined, { auth: false });
    localStorage.setItem('hc.config', JSON.stringify(config));
  } catch (error) {
    try {
      config = JSON.parse(localStorage.getItem('hc.config') || 'null');
    } catch (ignored) {
      config = null;
    }
  }
  if (!config) return;
  appConfig = config;
  code.configure(config);
  showProvince();
}

function showProvince() {
  const province = appConfig && appConfig.province;
  $('province').textContent = province ? province[lang()] || province.zh || '' : '';
}

function init() {
  translate();
  // Text drawn before the Chinese font arrived is set again once it has (some engines keep
  // the fallback's empty boxes otherwise, as headless Chromium does on machines without CJK fonts).
  // The font is asked for here, not preloaded by the page: on a slow network it must not take
  // a connection the code needs (index.html's inline script).
  if (document.fonts) {
    document.fonts.load('1em "HC Sans CJK"', '健康码').then(() => {
      document.documentElement.classList.add('fonts-ready');
      translate();
    }, () => {});
  }
  applyTextSize(localStorage.getItem(TEXT_SIZE) === '1');
  $('phone-form').addEventListener('submit', requestCode);
  $('otp-form').addEventListener('submit', verifyCode);
  $('otp-back').addEventListener('click', () => {
    $('otp-form').hidden = true;
    $('phone-form').hidden = false;
    $('phone').focus();
  });
  $('logout').addEventListener('click', logout);
  $('lang-toggle').addEventListener('click', () => {
    setLanguage(lang() === 'zh' ? 'en' : 'zh');
    showProvince();
    code.relabel();
    if (LOADERS[current]) LOADERS[current]().then((module) => module.enter());
  });
  $('text-toggle').addEventListener('click', () => {
    applyTextSize(!document.documentElement.classList.contains('large'));
  });
  for (const tab of document.querySelectorAll('#tabs button')) {
    tab.addEventListener('click', () => go(tab.dataset.screen));
  }
  whenLoggedOut(() => {
    code.reset();
    setMessage('login-message', t('session_expired'));
    go('login');
  });
  window.addEventListener('hashchange', route);
  route();
  loadConfig(); // in parallel: the code is never held up by it
  if ('serviceWorker' in navigator) {
    navigator.serviceWorker.register('/sw.js', { scope: '/' }).catch(() => {});
  }
}

init();
