// History: the colour history with reasons, and every look at this citizen's status by someone
// else (checkpoint ID-card reads, assisted look-ups, other provinces, officials).

import { get, t, dateTime, pick, has, $, el, errorText, emptyRow, fillPeople } from './core.js';

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
      el('strong', { class: 'grow' }, what || role),
      el('span', {}, dateTime(entry.at))),
    where ? el('p', {}, where) : null,
    entry.purpose ? el('p', {}, t('purpose', { t: entry.purpose })) : null,
  );
}

function newest(entry) {
  const when = entry.changed_at ?? entry.at;
  return typeof when === 'number' ? when * 1000 : Date.parse(when) || 0;
}

async function fill(list, path, row, empty) {
  try {
    const entries = (await get(path)).sort((a, b) => newest(b) - newest(a));
    $(list).replaceChildren(...(entries.length ? entries.map(row) : [emptyRow(t(empty))]));
  } catch (error) {
    $(list).replaceChildren(emptyRow(errorText(error)));
  }
}

let wired = false;

// Whose looks are listed: oneself, or a child one holds the code of.
function accessPath() {
  const who = $('access-who').value || 'me';
  return who === 'me' ? '/v1/me/access-log' : `/v1/family/${encodeURIComponent(who)}/access-log`;
}

async function people() {
  try {
    fillPeople($('access-who'), await get('/v1/family'));
  } catch (error) {
    fillPeople($('access-who'), []);
  }
}

export async function enter() {
  if (!wired) {
    $('access-who').addEventListener('change', () => fill('access-list', accessPath(), accessRow, 'no_access'));
    wired = true;
  }
  await people();
  return Promise.all([
    fill('history-list', '/v1/me/history', historyRow, 'no_history'),
    fill('access-list', accessPath(), accessRow, 'no_access'),
  ]);
}
