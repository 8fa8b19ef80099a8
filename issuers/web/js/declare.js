// Declarations: the form is built from the province's JSON Schema of each declaration kind,
// checked in the form as the schema says, and the server's own messages are shown; the answer
// carries the recomputed colour, which is shown (and the code screen picks up the new code).

import { get, post, t, has, pick, lang, $, el, errorText, say } from './core.js';
import { refresh } from './code.js';

let schemas = null;
let kind = 'health_declaration';
let wired = false;

function label(name, property) {
  const titled = lang() === 'zh' ? property['x-title-zh'] : property.title;
  return titled || (has(name) ? t(name) : property.title || name);
}

function optionLabel(value) {
  return has(value) ? t(value) : value;
}

function field(name, property, required) {
  const id = `decl-${name}`;
  const type = Array.isArray(property.type) ? property.type.find((x) => x !== 'null') : property.type;
  if (type === 'array') {
    const items = property.items || {};
    // The province's suggested values with their zh/en words, or a closed list (enum).
    const choices = property['x-suggestions']
      || (items.enum || []).map((value) => ({ value, zh: optionLabel(value), en: optionLabel(value) }));
    if (choices.length) {
      return el('fieldset', { 'data-field': name, 'data-type': 'list' },
        el('legend', {}, label(name, property)),
        ...choices.map((choice) => el('label', { class: 'check' },
          el('input', { type: 'checkbox', name, value: choice.value }),
          choice[lang()] || choice.zh || choice.value)));
    }
    return el('div', { 'data-field': name, 'data-type': 'text-list' },
      el('label', { for: id }, label(name, property)),
      el('input', { id, name, maxlength: 200 }));
  }
  const attributes = { id, name, required: required || null };
  if (property.enum) {
    return el('div', { 'data-field': name, 'data-type': 'choice' },
      el('label', { for: id }, label(name, property)),
      el('select', attributes, ...property.enum.map((choice) => el('option', { value: choice }, optionLabel(choice)))));
  }
  if (type === 'number' || type === 'integer') {
    Object.assign(attributes, {
      type: 'number', inputmode: 'decimal', min: property.minimum, max: property.maximum,
      step: type === 'integer' ? 1 : 0.1,
    });
  } else if (property.format === 'date') {
    attributes.type = 'date';
  } else {
    Object.assign(attributes, { maxlength: property.maxLength, pattern: property.pattern, inputmode: /\[0-9\]/.test(property.pattern || '') ? 'numeric' : null });
  }
  return el('div', { 'data-field': name, 'data-type': type },
    el('label', { for: id }, label(name, property)), el('input', attributes));
}

function build() {
  const schema = schemas && schemas[kind];
  const form = $('declare-form');
  if (!schema) {
    form.replaceChildren();
    return;
  }
  const required = new Set(schema.required || []);
  form.replaceChildren(
    ...Object.entries(schema.properties || {}).map(([name, property]) => field(name, property, required.has(name))),
    el('button', { type: 'submit', class: 'primary' }, t('submit')),
  );
  for (const button of document.querySelectorAll('[data-kind]')) {
    button.setAttribute('aria-pressed', String(button.dataset.kind === kind));
  }
}

// The form's values as the schema's types; the browser's own checks (min, max, pattern,
// required) run first, and their message is shown next to the field.
function collect(form) {
  const schema = schemas[kind];
  const data = {};
  for (const [name, property] of Object.entries(schema.properties || {})) {
    const holder = form.querySelector(`[data-field="${name}"]`);
    const kindOf = holder.dataset.type;
    if (kindOf === 'list') {
      data[name] = [...holder.querySelectorAll('input:checked')].map((box) => box.value);
      continue;
    }
    const input = holder.querySelector('input, select');
    if (!input.checkValidity()) {
      input.setAttribute('aria-invalid', 'true');
      input.focus();
      throw new Error(`${label(name, property)}: ${input.validationMessage}`);
    }
    input.removeAttribute('aria-invalid');
    const value = input.value.trim();
    if (value === '') continue;
    if (kindOf === 'text-list') data[name] = value.split(/[,，、]/).map((x) => x.trim()).filter(Boolean);
    else if (kindOf === 'number' || kindOf === 'integer') data[name] = Number(value);
    else data[name] = value;
  }
  return data;
}

async function submit(event) {
  event.preventDefault();
  let data;
  try {
    data = collect(event.target);
  } catch (error) {
    say('declare-message', error.message);
    return;
  }
  try {
    const answer = await post('/v1/me/declarations', { kind, data });
    const colour = answer.colour in { green: 1, yellow: 1, red: 1 } ? answer.colour : 'none';
    const message = $('declare-message');
    message.textContent = t('declared', { colour: t(colour) });
    message.dataset.colour = colour;
    const reason = pick(answer.reason_text);
    if (reason) message.append(el('br'), reason);
    refresh();
  } catch (error) {
    say('declare-message', errorText(error));
  }
}

// The province's schema: {"oneOf": [{"properties": {"kind": {"const": K}, "data": {...}}}]}
// becomes {K: the JSON Schema of K's data}.
function byKind(schema) {
  const kinds = {};
  for (const variant of (schema && schema.oneOf) || []) {
    const properties = variant.properties || {};
    const name = properties.kind && (properties.kind.const || (properties.kind.enum || [])[0]);
    if (name && properties.data) kinds[name] = properties.data;
  }
  return Object.keys(kinds).length ? kinds : null;
}

async function loadSchemas() {
  try {
    return byKind(await get('/v1/declarations/schema'));
  } catch (error) {
    return null;
  }
}

export async function enter() {
  if (!wired) {
    $('declare-form').addEventListener('submit', submit);
    for (const button of document.querySelectorAll('[data-kind]')) {
      button.addEventListener('click', () => { kind = button.dataset.kind; build(); });
    }
    wired = true;
  }
  if (!schemas) schemas = await loadSchemas();
  if (!schemas) say('declare-message', t('network_error'));
  build();
}
