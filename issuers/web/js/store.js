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
