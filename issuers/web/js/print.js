// Printing: a 7-day offline code for oneself or a family member as a PDF (A4 page, card, or
// the family sheet), downloaded to the phone, with a short note on how to use it.

import { call, get, t, $, errorText, say, fillPeople } from './core.js';

let wired = false;
let lastUrl = null;

function pdfPath(who, layout) {
  if (layout === 'family') return '/v1/family/print';
  const base = who === 'me' ? '/v1/me/print' : `/v1/family/${encodeURIComponent(who)}/print`;
  return `${base}?layout=${encodeURIComponent(layout)}`;
}

function fileName(answer, fallback) {
  const disposition = answer.headers.get('Content-Disposition') || '';
  const match = /filename="?([A-Za-z0-9._-]+)"?/.exec(disposition);
  return match ? match[1] : fallback;
}

async function make(event) {
  event.preventDefault();
  const who = $('print-who').value;
  const layout = $('print-layout').value;
  const link = $('print-download');
  link.hidden = true;
  say('print-message', t('loading'));
  try {
    const answer = await call('POST', pdfPath(who, layout), {}, { raw: true });
    const blob = await answer.blob();
    if (lastUrl) URL.revokeObjectURL(lastUrl);
    lastUrl = URL.createObjectURL(blob);
    link.href = lastUrl;
    link.download = fileName(answer, `health-code-${layout}.pdf`);
    link.hidden = false;
    say('print-message', t('print_ready'));
    link.focus();
  } catch (error) {
    say('print-message', errorText(error));
  }
}

// The province says whether printing is set up and which layouts it offers (/v1/app/config).
function applyConfig() {
  let config = null;
  try {
    config = JSON.parse(localStorage.getItem('hc.config') || 'null');
  } catch (error) {
    config = null;
  }
  const print = (config && config.print) || {};
  const available = print.available !== false;
  $('print-form').hidden = !available;
  if (!available) say('print-message', t('print_unavailable'));
  const layouts = print.layouts;
  for (const option of $('print-layout').options) {
    option.hidden = Array.isArray(layouts) && option.value !== 'family' && !layouts.includes(option.value);
  }
}

export async function enter() {
  if (!wired) {
    $('print-form').addEventListener('submit', make);
    wired = true;
  }
  applyConfig();
  try {
    fillPeople($('print-who'), await get('/v1/family'));
  } catch (error) {
    say('print-message', errorText(error));
  }
}
