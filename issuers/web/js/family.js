// Family: the bound people (one tap shows a dependant's code), binding and unbinding, and the
// binding requests waiting for this citizen's consent (an adult is bound only if they agree).

import { get, post, del, t, $, el, errorText, say, emptyRow } from './core.js';
import { showPerson } from './code.js';

let wired = false;

function memberRow(member) {
  return el('li', { class: 'row' },
    el('span', { class: 'tag', 'data-colour': member.colour }, t(member.colour in { green: 1, yellow: 1, red: 1 } ? member.colour : 'none')),
    el('span', { class: 'grow' }, `${member.masked_name} · ${t('id_tail', { t: member.id_tail })}`),
    el('button', {
      type: 'button',
      'data-show': member.dependent_ref,
      'aria-label': `${t('show_code')}: ${member.masked_name}`,
      onclick: () => { location.hash = 'code'; showPerson(member.dependent_ref); },
    }, t('show_code')),
    el('button', {
      type: 'button',
      'data-unbind': member.dependent_ref,
      'aria-label': `${t('unbind')}: ${member.masked_name}`,
      onclick: () => unbind(member),
    }, t('unbind')),
  );
}

function consentRow(request) {
  const answer = (decision) => async () => {
    try {
      await post(`/v1/family/requests/${encodeURIComponent(request.request_id)}/${decision}`);
      say('family-message', t(decision === 'approve' ? 'approved' : 'declined'));
      await load();
    } catch (error) {
      say('family-message', errorText(error));
    }
  };
  return el('li', { class: 'row' },
    el('span', { class: 'grow' }, t('consent_from', { name: request.guardian_masked_name, t: request.guardian_id_tail })),
    el('button', { type: 'button', 'data-approve': request.request_id, onclick: answer('approve') }, t('approve')),
    el('button', { type: 'button', 'data-decline': request.request_id, onclick: answer('decline') }, t('decline')),
  );
}

function pendingRow(request) {
  return el('li', { class: 'row', 'data-request': request.request_id },
    el('span', { class: 'grow' }, t('waiting_for', { name: request.masked_name, t: request.id_tail })),
    el('button', {
      type: 'button',
      onclick: () => act(del(`/v1/family/requests/${encodeURIComponent(request.request_id)}`), 'withdrawn'),
    }, t('withdraw')));
}

// An adult ends a guardian's access to their code (consent given can be taken back).
function guardianRow(guardian) {
  return el('li', { class: 'row', 'data-guardian': guardian.guardian_ref },
    el('span', { class: 'grow' }, `${guardian.masked_name} · ${t('id_tail', { t: guardian.id_tail })}`),
    el('button', {
      type: 'button',
      'aria-label': `${t('end_access')}: ${guardian.masked_name}`,
      onclick: () => {
        if (!window.confirm(t('confirm_end', { name: guardian.masked_name }))) return;
        act(del(`/v1/me/guardians/${encodeURIComponent(guardian.guardian_ref)}`), 'ended');
      },
    }, t('end_access')));
}

async function act(request, done) {
  try {
    await request;
    say('family-message', t(done));
    await load();
  } catch (error) {
    say('family-message', errorText(error));
  }
}

async function unbind(member) {
  if (!window.confirm(t('confirm_unbind', { name: member.masked_name }))) return;
  try {
    await del(`/v1/family/${encodeURIComponent(member.dependent_ref)}`);
    say('family-message', t('unbound'));
    await load();
  } catch (error) {
    say('family-message', errorText(error));
  }
}

async function bind(event) {
  event.preventDefault();
  const name = $('bind-name').value.trim();
  const idNumber = $('bind-id').value.trim().toUpperCase();
  if (!name || !idNumber) {
    say('family-message', t('required'));
    return;
  }
  try {
    const answer = await post('/v1/family', { name, id_number: idNumber });
    $('bind-form').reset();
    say('family-message', answer && answer.state === 'pending' ? t('bind_pending') : t('bound'));
    await load();
  } catch (error) {
    say('family-message', error.code === 'counter_required' ? t('counter_required') : errorText(error));
  }
}

async function load() {
  try {
    const family = await get('/v1/family');
    $('family-list').replaceChildren(...(family.length ? family.map(memberRow) : [emptyRow(t('no_family'))]));
  } catch (error) {
    say('family-message', errorText(error));
  }
  try {
    const requests = await get('/v1/family/requests');
    const incoming = requests.incoming || [];
    const outgoing = requests.outgoing || [];
    $('consent-list').replaceChildren(...(incoming.length ? incoming.map(consentRow) : [emptyRow(t('no_consents'))]));
    $('pending-list').replaceChildren(...outgoing.map(pendingRow));
  } catch (error) {
    $('consent-list').replaceChildren(emptyRow(t('no_consents')));
  }
  try {
    const guardians = await get('/v1/me/guardians');
    $('guardian-list').replaceChildren(...(guardians.length ? guardians.map(guardianRow) : [emptyRow(t('no_guardians'))]));
  } catch (error) {
    $('guardian-list').replaceChildren(emptyRow(errorText(error)));
  }
}

export function enter() {
  if (!wired) {
    $('bind-form').addEventListener('submit', bind);
    wired = true;
  }
  return load();
}
