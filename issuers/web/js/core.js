// The app's core, one file so a phone on a slow network fetches it in one request: texts in
// Chinese and English (i18n), what the phone keeps (store), calls to the issuer (api) and small
// helpers the screens share (ui).

// ---- texts (i18n) ----

// Chinese and English texts. The default follows the browser; a choice is remembered.
// Every character of the Chinese texts is in the shipped font subset (issuers/make_font.py).

const TEXTS = {
  zh: {
    skip: '跳到内容', app_title: '健康码', large_text: '大字', logout: '退出', menu: '菜单',
    login_title: '登录', phone: '手机号', send_code: '获取验证码', otp: '短信验证码', login: '登录',
    other_phone: '换一个手机号', login_note: '验证码通过短信发送，5 分钟内有效。',
    code_sent: '验证码已发送（如该手机号已登记）。', phone_invalid: '请输入正确的手机号（5 到 20 位数字）。',
    otp_invalid: '请输入短信里的数字验证码。', otp_wrong: '验证码不对，请核对短信后重新输入。',
    otp_expired: '验证码已过期或已失效，请重新获取。', demo_code: '演示模式：验证码是 {code}',
    rate_limited: '尝试次数过多，请在 {m} 分钟后再试。', network_error: '网络不通，请稍后再试。',
    session_expired: '登录已过期，请重新登录。', server_error: '服务暂时不可用，请稍后再试。',
    logged_out: '您已退出。',
    code_title: '我的健康码', people: '选择家人', me: '本人',
    green: '绿码', yellow: '黄码', red: '红码', none: '无码',
    green_advice: '可以通行。请在检查点出示此码。',
    yellow_advice: '请尽快做一次核酸检测，检测阴性后自动转绿。',
    red_advice: '请留在家中，并联系社区或拨打 12345 安排检测和就医。',
    qr_label: '{colour}健康码二维码，{name}', verdict_said: '{name}：{colour}。{reason}',
    valid_until: '有效至 {t}', time_left: '剩余 {m} 分钟',
    offline_valid: '离线，有效至 {t}', offline_expired: '离线且健康码已过期，无法出示。请联网刷新。',
    loading: '正在加载…', id_tail: '身份证尾号 {t}',
    family_title: '家人', consents_title: '等待您同意的绑定', bind_title: '绑定家人',
    full_name: '姓名', id_number: '身份证号', bind: '绑定', unbind: '解绑', show_code: '出示健康码',
    bind_note: '成年人需本人在自己的健康码中同意；没有手机的家人请到服务窗口办理。',
    no_family: '还没有绑定家人。', no_consents: '没有待处理的请求。',
    bind_pending: '已向对方发送同意请求，对方同意后完成绑定。', bound: '已绑定。', unbound: '已解绑。',
    confirm_unbind: '确定解绑{name}吗？', approve: '同意', decline: '拒绝',
    consent_from: '{name}（尾号 {t}）请求绑定您为家人', approved: '已同意。', declined: '已拒绝。',
    waiting_for: '等待{name}（尾号 {t}）同意', withdraw: '撤回', withdrawn: '已撤回。',
    guardians_title: '谁持有我的健康码', no_guardians: '没有人持有您的健康码。', end_access: '取消',
    confirm_end: '不再让{name}持有您的健康码？', ended: '已取消，对方不能再查看您的健康码。', counter_required: '对方没有自己的账号，请带双方身份证到服务窗口绑定。',
    declare_title: '申报', declare_kind: '申报类型', kind_health: '健康申报', kind_itinerary: '行程申报',
    symptoms: '症状', temperature_c: '体温（°C）', area_code: '去过的地区代码（6 位）',
    visited_on: '日期', submit: '提交', declared: '已提交。您的健康码现在是{colour}。',
    fever: '发热', cough: '咳嗽', fatigue: '乏力', sore_throat: '咽痛', loss_of_smell: '嗅觉丧失',
    print_title: '打印离线码', print_for: '为谁打印', print_layout: '版式', layout_a4: 'A4 纸',
    layout_card: '卡片', layout_family: '全家一页', print_button: '生成 PDF', download: '下载 PDF',
    print_ready: 'PDF 已生成，其中的离线码 7 天内有效。',
    print_unavailable: '本省暂未开通在线打印，请到服务窗口打印离线码。', howto_title: '怎么用',
    howto_1: '离线码 7 天有效，可打印或保存在手机里，在检查点出示即可，无需网络。',
    howto_2: '健康状态变化时离线码作废，请重新打印。请勿转给他人。',
    appeals_title: '申诉', appeal_for: '为谁申诉', appeal_reason: '申诉理由', appeal_submit: '提交申诉',
    appeals_list: '我的申诉', appeal_filed: '申诉已提交，工作人员处理后会显示结果。',
    no_appeals: '没有申诉。', state_open: '处理中', state_accepted: '已采纳', state_rejected: '未采纳',
    decision: '决定：{t}', reason_required: '请写明申诉理由。',
    history_title: '记录', access_title: '谁查看了我的状态', access_for: '查看谁的记录', colour_history: '颜色变化',
    no_access: '还没有人查看过您的状态。', no_history: '没有记录。',
    access_line: '{who}，{where}', purpose: '目的：{t}',
    role_checkpoint: '检查点', role_health_official: '卫生健康工作人员', role_counter_staff: '服务窗口',
    role_partner: '外省', role_admin: '管理员', role_citizen: '家人',
    tab_code: '健康码', tab_family: '家人', tab_declare: '申报', tab_print: '打印',
    tab_appeals: '申诉', tab_history: '记录', required: '此项必填。', error_prefix: '未成功：',
  },
  en: {
    skip: 'Skip to content', app_title: 'Health code', large_text: 'Large text', logout: 'Log out',
    menu: 'Menu', login_title: 'Log in', phone: 'Phone number', send_code: 'Send me a code',
    otp: 'Code from the text message', login: 'Log in', other_phone: 'Use another phone number',
    login_note: 'The code comes by text message and is valid for 5 minutes.',
    code_sent: 'Code sent (if this phone is registered).',
    phone_invalid: 'Enter your phone number (5 to 20 digits).',
    otp_invalid: 'Enter the digits from the text message.',
    otp_wrong: 'That code is wrong. Check the text message and type it again.',
    otp_expired: 'That code has expired or was used up. Ask for a new one.',
    demo_code: 'Demo mode: the code is {code}',
    rate_limited: 'Too many tries. Try again in {m} minutes.',
    network_error: 'No connection. Try again shortly.',
    session_expired: 'Your login has expired. Please log in again.',
    server_error: 'The service is unavailable. Try again shortly.', logged_out: 'You are logged out.',
    code_title: 'My health code', people: 'Choose a family member', me: 'Me',
    green: 'Green', yellow: 'Yellow', red: 'Red', none: 'No code',
    green_advice: 'You may pass. Show this code at the checkpoint.',
    yellow_advice: 'Get a test soon: a negative result turns your code green.',
    red_advice: 'Stay at home and call your community office or 12345 for a test and care.',
    qr_label: '{colour} health code QR for {name}', verdict_said: '{name}: {colour}. {reason}',
    valid_until: 'Valid until {t}', time_left: '{m} min left',
    offline_valid: 'Offline, valid until {t}',
    offline_expired: 'Offline and the code has expired: it cannot be shown. Connect to refresh it.',
    loading: 'Loading…', id_tail: 'ID ending {t}',
    family_title: 'Family', consents_title: 'Requests waiting for your consent',
    bind_title: 'Add a family member', full_name: 'Full name', id_number: 'ID number',
    bind: 'Add', unbind: 'Remove', show_code: 'Show code',
    bind_note: 'An adult must agree in their own app. Family without a phone: ask at a service counter.',
    no_family: 'No family members yet.', no_consents: 'No requests.',
    bind_pending: 'Request sent. They are added once they agree.', bound: 'Added.', unbound: 'Removed.',
    confirm_unbind: 'Remove {name}?', approve: 'Agree', decline: 'Decline',
    consent_from: '{name} (ID ending {t}) asks to hold your code', approved: 'Agreed.',
    waiting_for: 'Waiting for {name} (ID ending {t}) to agree', withdraw: 'Withdraw',
    withdrawn: 'Withdrawn.', guardians_title: 'Who holds my code',
    no_guardians: 'Nobody holds your code.', end_access: 'End',
    confirm_end: 'Stop {name} holding your code?', ended: 'Ended: they can no longer see your code.',
    counter_required: 'They have no account of their own: bind them at a service counter with both ID cards.',
    declined: 'Declined.',
    declare_title: 'Declare', declare_kind: 'Kind of declaration', kind_health: 'Health',
    kind_itinerary: 'Travel', symptoms: 'Symptoms', temperature_c: 'Temperature (°C)',
    area_code: 'Area code visited (6 digits)', visited_on: 'Date', submit: 'Submit',
    declared: 'Sent. Your code is now {colour}.', fever: 'Fever', cough: 'Cough', fatigue: 'Fatigue',
    sore_throat: 'Sore throat', loss_of_smell: 'Loss of smell',
    print_title: 'Print an offline code', print_for: 'For', print_layout: 'Layout',
    layout_a4: 'A4 page', layout_card: 'Card', layout_family: 'Family sheet',
    print_button: 'Make the PDF', download: 'Download the PDF',
    print_ready: 'The PDF is ready; its offline code is valid for 7 days.',
    print_unavailable: 'Printing is not set up in this province: ask at a service counter.', howto_title: 'How to use it',
    howto_1: 'An offline code is valid for 7 days. Print it or keep it on the phone and show it at a checkpoint; no network needed.',
    howto_2: 'It stops being valid when your status changes: print a new one then. Do not give it to anyone.',
    appeals_title: 'Appeals', appeal_for: 'For', appeal_reason: 'Why the status is wrong',
    appeal_submit: 'File the appeal', appeals_list: 'My appeals',
    appeal_filed: 'Appeal filed. The decision appears here once an official has decided.',
    no_appeals: 'No appeals.', state_open: 'Open', state_accepted: 'Accepted',
    state_rejected: 'Rejected', decision: 'Decision: {t}', reason_required: 'Say why.',
    history_title: 'History', access_title: 'Who looked at my status',
    access_for: 'Whose record', colour_history: 'Colour history',
    no_access: 'Nobody else has looked at your status.', no_history: 'No entries.',
    access_line: '{who}, {where}', purpose: 'Purpose: {t}',
    role_checkpoint: 'Checkpoint', role_health_official: 'Health official',
    role_counter_staff: 'Service counter', role_partner: 'Another province', role_admin: 'Admin',
    role_citizen: 'Family member',
    tab_code: 'Code', tab_family: 'Family', tab_declare: 'Declare', tab_print: 'Print',
    tab_appeals: 'Appeals', tab_history: 'History', required: 'Required.', error_prefix: 'Not done: ',
  },
};

const KEY = 'hc.lang';

export function initialLanguage() {
  const saved = localStorage.getItem(KEY);
  if (saved === 'zh' || saved === 'en') return saved;
  const wanted = (navigator.languages && navigator.languages[0]) || navigator.language || 'zh';
  return wanted.toLowerCase().startsWith('zh') ? 'zh' : 'en';
}

let language = initialLanguage();

export function lang() {
  return language;
}

export function t(key, values = {}) {
  const text = TEXTS[language][key] ?? TEXTS.en[key] ?? key;
  return text.replace(/\{(\w+)\}/g, (_, name) => String(values[name] ?? ''));
}

export function has(key) {
  return key in TEXTS[language];
}

// Set every [data-i18n] text and [data-i18n-label] aria-label of `root`.
export function translate(root = document) {
  document.documentElement.lang = language === 'zh' ? 'zh-CN' : 'en';
  for (const node of root.querySelectorAll('[data-i18n]')) node.textContent = t(node.dataset.i18n);
  for (const node of root.querySelectorAll('[data-i18n-label]')) {
    node.setAttribute('aria-label', t(node.dataset.i18nLabel));
  }
  const toggle = document.getElementById('lang-toggle');
  toggle.textContent = language === 'zh' ? 'EN' : '中文';
  toggle.lang = language === 'zh' ? 'en' : 'zh-CN';
  toggle.setAttribute('aria-label', language === 'zh' ? 'EN English' : '中文 Chinese');
}

export function setLanguage(next) {
  language = next;
  localStorage.setItem(KEY, next);
  translate();
}

// Times are shown on the phone's clock (the citizen's own time zone).
export function clockTime(date, seconds = false) {
  const pad = (n) => String(n).padStart(2, '0');
  const hm = `${pad(date.getHours())}:${pad(date.getMinutes())}`;
  return seconds ? `${hm}:${pad(date.getSeconds())}` : hm;
}

// An ISO 8601 string, or epoch seconds.
export function dateTime(when) {
  const date = new Date(typeof when === 'number' ? when * 1000 : when);
  if (Number.isNaN(date.getTime())) return '';
  const pad = (n) => String(n).padStart(2, '0');
  return `${date.getFullYear()}-${pad(date.getMonth() + 1)}-${pad(date.getDate())} ${clockTime(date)}`;
}

// The server's texts come as {zh, en}; pick ours.
export function pick(texts) {
  if (!texts || typeof texts !== 'object') return '';
  return texts[language] || texts.zh || texts.en || '';
}

// ---- what the phone keeps (store) ----

// What the phone keeps: the session (until it expires) and the last code of each person, so
// a code can still be shown offline while it is valid and never after (issue 15, offline).

const SESSION = 'hc.session';
const CODES = 'hc.codes';

function read(key) {
  try {
    return JSON.parse(localStorage.getItem(key) || 'null');
  } catch (error) {
    return null;
  }
}

export function session() {
  const saved = read(SESSION);
  if (!saved || typeof saved.token !== 'string' || !(saved.expiresAt > Date.now())) return null;
  return saved;
}

export function startSession(answer, phone) {
  const expiresAt = Date.now() + Number(answer.expires_in) * 1000;
  localStorage.setItem(SESSION, JSON.stringify({ token: answer.access_token, expiresAt, phone }));
}

// Logging out forgets the cached codes too: the next person on this phone sees nothing.
export function endSession() {
  localStorage.removeItem(SESSION);
  localStorage.removeItem(CODES);
}

// `who` is 'me' or a dependant's reference.
export function saveCode(who, code) {
  const codes = read(CODES) || {};
  codes[who] = code;
  localStorage.setItem(CODES, JSON.stringify(codes));
}

export function cachedCode(who) {
  const codes = read(CODES) || {};
  return codes[who] || null;
}

export function expiresAt(code) {
  return new Date(code.expires_at).getTime();
}

// The phone's clock may be wrong; a code's validity is judged on the issuer's clock, learnt
// from each answer's Date header (to the second) and kept for offline starts.
const OFFSET = 'hc.clock';
let offsetMs = Number(localStorage.getItem(OFFSET)) || 0;

export function learnServerTime(dateHeader) {
  const server = Date.parse(dateHeader || '');
  if (Number.isNaN(server)) return;
  const measured = server + 500 - Date.now(); // the header drops the milliseconds
  if (Math.abs(measured - offsetMs) < 2000) return; // same clock: keep the stored one
  offsetMs = measured;
  localStorage.setItem(OFFSET, String(offsetMs));
}

export function serverNow() {
  return Date.now() + offsetMs;
}

// ---- calls to the issuer (api) ----

// Calls to this province's issuer API (same origin). Errors come back as ApiError with the
// standard's stable code (docs/standard.md §9); a network failure is ApiError('offline').


export class ApiError extends Error {
  constructor(code, status, body = {}, retryAfter = null) {
    super(body.message || code);
    this.code = code;
    this.status = status;
    this.body = body;
    this.retryAfter = retryAfter;
  }

  // The server's own words when it sent them (its short text, then the message), else ours.
  text(fallback) {
    const short = pick(this.body.text);
    // Field problems in the page's language when the server gave them (declarations).
    const problems = (this.body.problems || [])
      .map((p) => pick(p.text) || `${p.field}: ${p.problem}`).join('; ');
    if (this.status >= 400 && this.status < 500 && this.code !== 'rate_limited') {
      // `message` is English (what was wrong and what to do); a Chinese page shows the short
      // Chinese text and the field problems only.
      const detail = problems || (lang() === 'en' ? this.body.message || '' : '');
      return [short, detail].filter(Boolean).join(lang() === 'zh' ? '：' : ': ') || fallback;
    }
    return short || fallback;
  }
}

// Listeners told when the session ends (401): the app goes back to the login screen.
const onUnauthenticated = [];
export function whenLoggedOut(listener) {
  onUnauthenticated.push(listener);
}

export async function call(method, path, body = undefined, { auth = true, raw = false, headers: extra = {}, early = null } = {}) {
  const headers = { Accept: raw ? '*/*' : 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const current = session();
  if (auth && current) headers.Authorization = `Bearer ${current.token}`;
  let answer;
  try {
    // `early`: the same request already sent by the page's inline script (index.html); its answer is used instead.
    answer = await (early || fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    }));
  } catch (error) {
    throw new ApiError('offline', 0, { message: String(error) });
  }
  learnServerTime(answer.headers.get('Date'));
  if (answer.status === 304) return null;
  if (answer.ok) {
    if (raw) return answer;
    if (answer.status === 204) return null;
    return answer.json();
  }
  let payload = {};
  try {
    payload = await answer.json();
  } catch (error) {
    payload = {};
  }
  const code = payload.error || (answer.status >= 500 ? 'server_error' : 'invalid_request');
  const retry = Number(answer.headers.get('Retry-After')) || null;
  const error = new ApiError(code, answer.status, payload, retry);
  if (auth && answer.status === 401) {
    endSession();
    for (const listener of onUnauthenticated) listener(error);
  }
  throw error;
}

export const get = (path) => call('GET', path);
export const post = (path, body) => call('POST', path, body ?? {});
export const del = (path) => call('DELETE', path);

// ---- helpers (ui) ----

// Small helpers the screens share: building elements, error messages in plain words.


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
