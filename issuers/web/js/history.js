// History: the colour history with reasons, and every look at this citizen's status by someone
// else (checkpoint ID-card reads, assisted look-ups, other provinces, officials).

import { get } from './api.js';
import { t, dateTime, pick, has } from './i18n.js';
import { $, el, errorText, emptyRow } from './ui.js';

function colourWord(colour) {
  return t(colour in { green: 1, yellow: 1, red: 1 } ? colour : 'none');
}

function historyRow(entry) {
  return el('li', {},
    el('div', { class: 'row' },
      el('span', { class: 'tag', 'data-colour': entry.colour }, colourWord(entry.colour)),
      el('span', { class: 'grow' }, dateTime(entry.changed_at))),
    el('p', {}, pick(entry.reason_text) || entry.note || entry.reason || ''),
  );
}

function accessRow(entry) {
  const role = has(`role_${entry.role}`) ? t(`role_${entry.role}`) : entry.role;
  const what = pick(entry.text) || entry.kind || '';
  const where = entry.place || '';
  return el('li', { 'data-kind': entry.kind || '' },
    el('div', { class: 'row' },
      el('strong', { class: 'grow' }, [role, what].filter(Boolean).join(' · ')),
      el('span', {}, dateTime(entry.at))),
    where ? el('p', {}, where) : null,
    entry.purpose ? el('p', {}, t('purpose', { t: entry.purpose })) : null,
  );
}

export async function enter() {
  try {
    const [history, access] = await Promise.all([get('/v1/me/history'), get('/v1/me/access-log')]);
    $('history-list').replaceChildren(...(history.length ? history.map(historyRow) : [emptyRow(t('no_history'))]));
    $('access-list').replaceChildren(...(access.length ? access.map(accessRow) : [emptyRow(t('no_access'))]));
  } catch (error) {
    $('access-list').replaceChildren(emptyRow(errorText(error)));
  }
}
