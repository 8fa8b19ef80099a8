// Appeals: file a correction request for oneself or a family member; see its state and the
// official's decision.

import { get, post, t, dateTime, $, el, errorText, say, fillPeople, emptyRow } from './core.js';

let wired = false;

function appealRow(appeal) {
  const state = appeal.state in { open: 1, accepted: 1, rejected: 1 } ? appeal.state : 'open';
  return el('li', { 'data-appeal': appeal.id, 'data-state': state },
    el('div', { class: 'row' },
      el('strong', { class: 'grow' }, t(`state_${state}`)),
      el('span', {}, dateTime(appeal.created_at))),
    el('p', {}, appeal.reason),
    appeal.decision_note ? el('p', { class: 'decision' }, t('decision', { t: appeal.decision_note })) : null,
  );
}

async function file(event) {
  event.preventDefault();
  const reason = $('appeal-reason').value.trim();
  if (!reason) {
    $('appeal-reason').setAttribute('aria-invalid', 'true');
    say('appeal-message', t('reason_required'));
    return;
  }
  $('appeal-reason').removeAttribute('aria-invalid');
  const who = $('appeal-who').value;
  const body = { reason };
  if (who !== 'me') body.dependent_ref = who;
  try {
    await post('/v1/corrections', body);
    $('appeal-reason').value = '';
    say('appeal-message', t('appeal_filed'));
    await load();
  } catch (error) {
    say('appeal-message', errorText(error));
  }
}

async function load() {
  try {
    const [appeals, family] = await Promise.all([get('/v1/corrections/mine'), get('/v1/family')]);
    fillPeople($('appeal-who'), family);
    $('appeal-list').replaceChildren(...(appeals.length ? appeals.map(appealRow) : [emptyRow(t('no_appeals'))]));
  } catch (error) {
    say('appeal-message', errorText(error));
  }
}

export function enter() {
  if (!wired) {
    $('appeal-form').addEventListener('submit', file);
    wired = true;
  }
  return load();
}
