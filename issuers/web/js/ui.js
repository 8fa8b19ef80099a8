// Small helpers the screens share: building elements, error messages in plain words.

import { ApiError } from './api.js';
import { t } from './i18n.js';

export const $ = (id) => document.getElementById(id);

// el('li', {class: 'row'}, 'text', child, ...)
export function el(tag, attributes = {}, ...children) {
  const node = document.createElement(tag);
  for (const [name, value] of Object.entries(attributes)) {
    if (value === false || value === null || value === undefined) continue;
    if (name === 'class') node.className = value;
    else if (name.startsWith('on')) node.addEventListener(name.slice(2), value);
    else node.setAttribute(name, value === true ? '' : String(value));
  }
  node.append(...children.filter((child) => child !== null && child !== undefined));
  return node;
}

export function errorText(error) {
  if (!(error instanceof ApiError)) return t('server_error');
  if (error.code === 'offline') return t('network_error');
  if (error.code === 'rate_limited') {
    return t('rate_limited', { m: Math.max(1, Math.ceil((error.retryAfter || 60) / 60)) });
  }
  if (error.status >= 500) return error.text(t('server_error'));
  return t('error_prefix') + error.text(error.message);
}

export function say(id, text) {
  $(id).textContent = text;
}

// The people a citizen may act for: themself and each bound family member.
export function fillPeople(select, family) {
  const chosen = select.value;
  select.replaceChildren(
    el('option', { value: 'me' }, t('me')),
    ...family.map((member) => el('option', { value: member.dependent_ref }, member.masked_name)),
  );
  if ([...select.options].some((option) => option.value === chosen)) select.value = chosen;
}

export function emptyRow(text) {
  return el('li', { class: 'empty' }, text);
}
