// Asks for the citizen's code as soon as the page starts, while the app's modules are still on
// their way: on a slow network that saves one round trip before the code is on screen. A plain
// script (the page's CSP allows no inline script); js/code.js takes the answer over.
(function askEarly() {
  try {
    const saved = JSON.parse(localStorage.getItem('hc.session') || 'null');
    const screen = location.hash.replace(/^#/, '') || 'code';
    if (!saved || typeof saved.token !== 'string' || !(saved.expiresAt > Date.now())) return;
    if (screen !== 'code') return;
    window.hcEarlyCode = fetch('/v1/me/code', {
      headers: { Accept: 'application/json', Authorization: `Bearer ${saved.token}` },
      cache: 'no-store',
    });
    window.hcEarlyCode.catch(() => {}); // a failure is handled when the app takes it over
  } catch (error) {
    window.hcEarlyCode = undefined;
  }
}());
