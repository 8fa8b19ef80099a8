// Calls to this province's issuer API (same origin). Errors come back as ApiError with the
// standard's stable code (docs/standard.md §9); a network failure is ApiError('offline').

import { session, endSession } from './store.js';
import { lang, pick } from './i18n.js';

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

export async function call(method, path, body = undefined, { auth = true, raw = false, headers: extra = {} } = {}) {
  const headers = { Accept: raw ? '*/*' : 'application/json', ...extra };
  if (body !== undefined) headers['Content-Type'] = 'application/json';
  const current = session();
  if (auth && current) headers.Authorization = `Bearer ${current.token}`;
  let answer;
  try {
    answer = await fetch(path, {
      method,
      headers,
      body: body === undefined ? undefined : JSON.stringify(body),
      cache: 'no-store',
    });
  } catch (error) {
    throw new ApiError('offline', 0, { message: String(error) });
  }
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
