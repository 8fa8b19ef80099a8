// Checkpoint staff page: scanner field, verdict overlay, ID-card/assisted look-ups, scan + tap.
// Texts, camera, sound and the shift view are in checkpoint-{texts,camera,sound,shift}.js.
"use strict";
(function () {
  const TOKEN_KEY = "hc-checkpoint-token";
  const LANG_KEY = "hc-checkpoint-lang";
  const MUTED_KEY = "hc-checkpoint-muted";
  const TEXT = window.HC_TEXT;

  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem(LANG_KEY) || "zh";
  let muted = localStorage.getItem(MUTED_KEY) === "true";
  let mode = "scan";
  let lastAnswer = null;
  let busy = false;
  let resultSeconds = 5;
  let hotline = null;
  let shownAt = 0;
  let clearTimer = null;
  let pairing = { side: null, until: 0 };
  const END_PAIRING_PATH = "/v1/scan-tap/end";
  const END_PAIRING_WAIT_MS = 3000;
  let pairingEnded = Promise.resolve();  // the last "end pairing" request, once answered

  function t(key) { return (TEXT[lang] && TEXT[lang][key]) || key; }
  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function applyLanguage() {
    document.body.dataset.lang = lang;
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    $("lang-toggle").textContent = lang === "zh" ? "EN" : "中文";
    $("lang-toggle").lang = lang === "zh" ? "en" : "zh-CN";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    applySound();
    if (lastAnswer) { render(lastAnswer); tickClear(); } else if ($("result").dataset.display === "idle") { showIdle(); }
    renderShift();
    tickPairing();
    refreshStatus();
  }

  function duration(seconds) {
    if (seconds === null || seconds === undefined) { return "–"; }
    const s = Math.max(0, Math.round(seconds));
    if (s >= 86400) { return Math.floor(s / 86400) + t("days") + " " + Math.floor((s % 86400) / 3600) + t("hours"); }
    if (s >= 3600) { return Math.floor(s / 3600) + t("hours") + " " + Math.floor((s % 3600) / 60) + t("minutes"); }
    if (s >= 60) { return Math.floor(s / 60) + t("minutes"); }
    return s + t("seconds");
  }

  function timeText(epoch) {
    return epoch ? new Date(epoch * 1000).toLocaleString(lang === "zh" ? "zh-CN" : "en-GB") : "–";
  }

  function line(text, className) {
    const div = document.createElement("div");
    div.textContent = text;
    if (className) { div.className = className; }
    return div;
  }

  // -- sound (WebAudio tones made here: nothing is fetched)
  function applySound() {
    const button = $("sound-toggle");
    button.textContent = t(muted ? "sound_off" : "sound_on");
    button.dataset.muted = muted ? "true" : "false";
    button.setAttribute("aria-pressed", muted ? "false" : "true");
  }

  // -- the verdict overlay and its countdown back to the idle screen
  function showIdle() {
    const result = $("result");
    result.dataset.display = "idle";
    result.hidden = true;
    $("idle").textContent = t("ready");
    $("result-title").textContent = t("ready");
    $("result-reason").textContent = "";
    $("result-person").textContent = "";
    $("result-binding").hidden = true;
    $("result-details").replaceChildren();
    $("result-timer").hidden = true;
  }

  function stopClear() {
    if (clearTimer !== null) { clearInterval(clearTimer); clearTimer = null; }
    $("result-timer").hidden = true;
  }

  function clearResult() {
    stopClear();
    lastAnswer = null;
    showIdle();
    // Back to scanning, unless staff are typing an ID number or a card read is awaited.
    if (mode === "idcard" && !$("id-number").value && !$("id-name").value && pairing.side !== "code") { setMode("scan"); }
    focusScanner();
  }

  function tickClear() {
    if (!lastAnswer) { return; }
    const shown = (Date.now() - shownAt) / 1000;
    const left = resultSeconds - shown;
    if (left <= 0) { clearResult(); return; }
    const timer = $("result-timer");
    timer.hidden = false;
    timer.querySelector("#result-countdown").textContent = lang === "zh"
      ? t("shown") + " " + Math.floor(shown) + t("seconds") + " · " + Math.ceil(left) + t("seconds") + t("clears_in")
      : t("shown") + " " + Math.floor(shown) + t("seconds") + " · " + t("clears_in") + " " + Math.ceil(left) + t("seconds");
    timer.querySelector("#result-bar").style.width = Math.max(0, (100 * left) / resultSeconds) + "%";
  }

  // While a scan is checked (usually a few milliseconds) the controls stay in reach: the
  // overlay is for verdicts only.
  function showChecking() {
    stopClear();
    lastAnswer = null;
    showIdle();
    $("result").dataset.display = "checking";
    $("idle").textContent = t("checking");
  }

  function showAnswer(answer) {
    render(answer);
    const display = $("result").dataset.display;
    window.HCSound.play(display, muted);
    announce();
    remember(answer, display);
    notePairing(answer);
    shownAt = Date.now();
    stopClear();
    tickClear();
    clearTimer = setInterval(tickClear, 200);
  }

  // The verdict is announced once through the live region: word, sentence, binding.
  function announce() {
    const parts = [$("result-title").textContent, $("result-reason").textContent];
    if (!$("result-binding").hidden) { parts.push($("result-binding").textContent); }
    $("announce").textContent = parts.filter(Boolean).join(lang === "zh" ? "。" : ". ");
  }

  function fill(template, values) {
    return template.replace(/\{(\w+)\}/g, (whole, key) => (values[key] !== undefined ? values[key] : whole));
  }

  // The plain sentence for an error: what happened — what to do (the server's catalogue).
  function sentence(answer) {
    const text = answer.staff_text || answer.error_text || answer.text || {};
    const until = answer.locked_until ? new Date(answer.locked_until * 1000).toLocaleTimeString(
      lang === "zh" ? "zh-CN" : "en-GB", { hour: "2-digit", minute: "2-digit" }) : "–";
    return fill(text[lang] || answer.error || "", { until });
  }

  function displayOf(answer) {
    const binding = answer.binding || {};
    if (binding.required && binding.result === "waiting") { return "tap"; }
    return answer.display || "error";
  }

  function render(answer) {
    lastAnswer = answer;
    $("idle").textContent = t("ready");
    const display = displayOf(answer);
    const result = $("result");
    result.hidden = false;
    result.dataset.display = display;
    $("result-title").textContent = t(display);
    const reason = $("result-reason");
    const person = $("result-person");
    const details = $("result-details");
    details.replaceChildren();
    if (display === "error") {
      // Someone else's code is its own verdict, not "cannot verify" (scan + tap).
      if (answer.error === "holder_mismatch") { $("result-title").textContent = (answer.error_text || {})[lang]; }
      reason.textContent = sentence(answer);
      person.textContent = "";
    } else if (display === "tap") {
      reason.textContent = fill(t("tap_reason"), { s: Math.round(answer.binding.window_s || 0) });
      person.textContent = answer.masked_name || "";
    } else if (display === "unconfirmed") {
      reason.textContent = t("unconfirmed_action");
      person.textContent = hotline ? t("hotline") + " " + hotline : "";
      if (answer.issuer_name || answer.issuer) {
        details.append(line(t("issuer") + ": " + (answer.issuer_name || answer.issuer)));
      }
    } else if (display === "card") {
      const card = answer.shc || {};
      reason.textContent = (card.resources || []).join(", ");
      person.textContent = card.masked_name || "";
      details.append(line(t("issuer") + ": " + (answer.issuer_name || answer.issuer || "")));
    } else {
      reason.textContent = (answer.reason_text || {})[lang] || answer.reason || "";
      person.textContent = (answer.masked_name || "") + "  ****" + (answer.id_tail || "");
      details.append(line(t("issuer") + ": " + (answer.issuer_name || answer.issuer || "")));
      details.append(line(t("kind") + ": " + t(answer.kind)));
      if (answer.validity_left_s !== undefined) {
        details.append(line(t("valid_left") + ": " + duration(answer.validity_left_s)));
      }
    }
    renderBinding(answer.binding);
    if (answer.home_issuer) {
      details.append(line(t("home") + ": " + (answer.home_issuer_name || answer.home_issuer) +
        (answer.assisted ? " · " + t("assisted_mark") : "") + (answer.cached ? " · " + t("cached") : "")));
    }
    if (answer.checks) {
      const parts = Object.entries(answer.checks).map(([k, v]) => t(k) + " " + t(v));
      details.append(line(t("checks") + ": " + parts.join(" · ")));
    }
    // What could not be checked and since when: a quiet note while within policy (offline,
    // data still fresh enough), a warning when it is the reason for the verdict.
    (answer.unchecked || []).forEach((item) => {
      const since = item.since
        ? " (" + t("since") + " " + timeText(item.since) +
          (item.age_s !== null && item.age_s !== undefined ? ", " + duration(item.age_s) + t("ago") : "") + ")"
        : "";
      const el = line((item.within_policy ? "ⓘ " : "⚠ " + t("unchecked") + ": ") + ((item.text || {})[lang] || item.check) + since,
        item.within_policy ? "unchecked note" : "unchecked warning");
      el.dataset.check = item.check;
      details.append(el);
    });
    details.append(line(t("checked_at") + ": " + timeText(answer.checked_at || Date.now() / 1000)));
    // The code itself, only here: small, for a phone call to the hotline or the administrator.
    if (answer.error) { details.append(line(t("code") + ": " + answer.error, "code")); }
  }

  function renderBinding(binding) {
    const el = $("result-binding");
    const result = binding && binding.result;
    el.hidden = !["match", "mismatch", "unconfirmed"].includes(result);
    el.dataset.result = result || "";
    if (!el.hidden) { el.textContent = t("bind_" + result); }
  }

  // -- the shift view (checkpoint-shift.js)
  function remember(answer, display) { window.HCShift.remember(answer, display); renderShift(); }
  function renderShift() { window.HCShift.render(t, lang === "zh" ? "zh-CN" : "en-GB"); }

  // -- scan + tap: the server pairs a code and an ID card read within its window; the page
  // only shows what is awaited (it keeps no ID number and no code).
  function notePairing(answer) {
    const binding = answer.binding || {};
    if (binding.result === "waiting") {
      pairing = { side: binding.side, until: Date.now() + 1000 * (binding.window_s || 0) };
      if (binding.required && binding.side === "code" && mode !== "idcard") { setMode("idcard"); }
    } else if (binding.result) {
      pairing = { side: null, until: 0 };
    }
    tickPairing();
  }

  function tickPairing() {
    const el = $("pairing");
    const left = Math.ceil((pairing.until - Date.now()) / 1000);
    if (!pairing.side || left <= 0) { pairing = { side: null, until: 0 }; el.hidden = true; return; }
    el.hidden = false;
    $("pairing-text").textContent = fill(t(pairing.side === "code" ? "bind_waiting_code" : "bind_waiting_card"), { s: left });
  }

  async function call(method, path, body, contentType) {
    // A read waits until an ended pairing is answered: sent at once, it could overtake the
    // end on another connection and be compared with the previous person's read. Not for
    // ever: on a network that swallowed the end, the lane must not freeze.
    if (path !== END_PAIRING_PATH) {
      await Promise.race([pairingEnded, new Promise((done) => setTimeout(done, END_PAIRING_WAIT_MS))]);
    }
    const headers = { Authorization: "Bearer " + token() };
    let payload;
    if (body instanceof Blob) { payload = body; headers["Content-Type"] = contentType; }
    else if (body !== undefined) { payload = JSON.stringify(body); headers["Content-Type"] = "application/json"; }
    let response;
    try {
      response = await fetch(path, { method, headers, body: payload });
    } catch (err) {
      return { display: "error", error: "unreachable",
        staff_text: { zh: TEXT.zh.unreachable, en: TEXT.en.unreachable } };
    }
    let data = {};
    try { data = await response.json(); } catch (err) { data = {}; }
    if (response.status === 401) { endSession(); }
    if (!response.ok) { data.display = "error"; }
    return data;
  }

  function focusScanner() {
    if (mode === "scan" && !$("main").hidden) { $("scan-input").focus(); }
  }

  // Returns whether the scan was taken (false while another one is being checked).
  function submitScan(text) {
    if (!text || busy) { return false; }
    busy = true;
    showChecking();
    call("POST", "/v1/scan", { text }).then(showAnswer).finally(() => {
      busy = false;
      focusScanner();
    });
    return true;
  }

  async function refreshStatus() {
    if (!token()) { return; }
    const status = await call("GET", "/v1/status");
    if (status.display === "error") { return; }
    if (typeof status.result_display_s === "number") { resultSeconds = status.result_display_s; }
    hotline = status.hotline || null;
    const bar = $("status-bar");
    const trust = status.trust_list || {};
    const ages = Object.values(status.revocations || {}).map((r) => r.age_s).filter((a) => a !== null);
    const revocationAge = ages.length ? Math.max(...ages) : null;
    bar.textContent = status.checkpoint_id + " · " + t("trust_age") + " " + duration(trust.age_s) +
      " · " + t("revocation_age") + " " + duration(revocationAge) + " · " +
      (status.offline ? t("offline_state") + (status.offline_since ? " " + t("since") + " " + timeText(status.offline_since) : "") : t("online"));
    bar.dataset.offline = status.offline ? "true" : "false";
    bar.title = bar.textContent;
    showFailingSources(status);
  }

  // A source that keeps failing (a province's revocation list, the registry) is named in the
  // header, with since when, so staff know which codes may end on "status not confirmed".
  // `status.sources` lists every source with its own state (healthcode/peersync.py); a frozen
  // registry (expired timestamp) shows here too, as "registry" failing.
  function showFailingSources(status) {
    const failing = [];
    (status.sources || []).forEach((source) => {
      if (source.state !== "failing") { return; }
      const name = source.kind === "registry" ? t("registry_source") : source.name;
      const since = source.last_success;
      failing.push(name + (since ? " " + t("since") + " " + timeText(since) : ""));
    });
    const el = $("source-alert");
    el.hidden = failing.length === 0;
    el.textContent = failing.length ? "⚠ " + t("failing_source") + ": " + failing.join(" · ") : "";
  }

  function setMode(next) {
    mode = next;
    document.querySelectorAll(".mode").forEach((b) => b.classList.toggle("active", b.dataset.mode === next));
    $("scan-form").hidden = next !== "scan";
    $("id-form").hidden = next !== "idcard";
    if (next === "idcard") { $("id-number").focus(); } else { focusScanner(); }
  }

  function toggleCamera() {
    window.HCCamera.toggle({
      onCode: submitScan,
      focus: focusScanner,
      onError: () => showAnswer({ display: "error", error: "camera",
        staff_text: { zh: TEXT.zh.camera_error, en: TEXT.en.camera_error } }),
    });
  }

  function showLogin() { $("login").hidden = false; $("main").hidden = true; $("logout").hidden = true; $("username").focus(); }
  function showMain() { $("login").hidden = true; $("main").hidden = false; $("logout").hidden = false; setMode(mode); refreshStatus(); }
  function endSession() { sessionStorage.removeItem(TOKEN_KEY); stopClear(); lastAnswer = null; showIdle(); showLogin(); }

  async function logout() {
    const current = token();
    endSession();
    if (current && current.startsWith("hcs_")) {
      // Ends the session on the server too: a copy of the token is of no use afterwards.
      try {
        await fetch("/v1/auth/logout", { method: "POST", headers: { Authorization: "Bearer " + current } });
      } catch (err) { /* offline: the session still ends at its expiry */ }
    }
  }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const deviceToken = $("device-token").value.trim();
    let response;
    try {
      response = deviceToken
        // A device token is tried before it is kept: an unregistered device is told so here.
        ? await fetch("/v1/status", { headers: { Authorization: "Bearer " + deviceToken } })
        : await fetch("/v1/auth/login", {
          method: "POST", headers: { "Content-Type": "application/json" },
          body: JSON.stringify({ username: $("username").value, password: $("password").value }),
        });
    } catch (err) {
      $("login-error").textContent = t("unreachable");
      return;
    }
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { $("login-error").textContent = sentence(data); return; }
    if (deviceToken) { sessionStorage.setItem(TOKEN_KEY, deviceToken); $("device-token").value = ""; showMain(); return; }
    $("login-error").textContent = "";
    sessionStorage.setItem(TOKEN_KEY, data.access_token);
    $("password").value = "";
    showMain();
  });

  $("scan-form").addEventListener("submit", (event) => {
    event.preventDefault();
    const input = $("scan-input");
    const text = input.value;
    input.value = "";
    submitScan(text);
  });

  // A photo or screenshot of a code: the server decodes every QR in it; show the first.
  $("image-input").addEventListener("change", async () => {
    const file = $("image-input").files[0];
    $("image-input").value = "";
    if (!file) { return; }
    showChecking();
    const answer = await call("POST", "/v1/scan/image", file, file.type || "application/octet-stream");
    showAnswer(answer.results && answer.results.length ? answer.results[0] : answer);
    focusScanner();
  });

  // A hardware scanner typing into the ID-card form: move what it typed (and the rest of
  // it) to the scanner field, so the code is verified instead of refused as an ID number.
  const SCANNED_CODE = /^(hc:\/|shc:\/)/i;
  ["id-number", "id-name"].forEach((id) => {
    $(id).addEventListener("input", () => {
      const value = $(id).value;
      if (!SCANNED_CODE.test(value)) { return; }
      $("id-number").value = "";
      $("id-name").value = "";
      setMode("scan");
      $("scan-input").value = value;
    });
  });

  $("id-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const assisted = $("assisted").checked;
    const idNumber = $("id-number").value.trim();
    const body = { id_number: idNumber, name: $("id-name").value.trim() || null };
    $("id-number").value = "";
    $("id-name").value = "";
    // Each look-up is marked assisted on purpose, never by a box left ticked.
    $("assisted").checked = false;
    if (SCANNED_CODE.test(idNumber)) { setMode("scan"); submitScan(idNumber); return; }
    showChecking();
    showAnswer(await call("POST", assisted ? "/v1/assisted" : "/v1/id-card", body));
    if (mode === "idcard") { $("id-number").focus(); }
  });

  document.querySelectorAll(".mode").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
  $("camera-toggle").addEventListener("click", toggleCamera);
  $("lang-toggle").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    applyLanguage();
    focusScanner();
  });
  $("sound-toggle").addEventListener("click", () => {
    muted = !muted;
    localStorage.setItem(MUTED_KEY, muted ? "true" : "false");
    applySound();
    focusScanner();
  });
  $("logout").addEventListener("click", logout);
  // "Next person" (or "do not compare"): whatever waits for its pair (scan + tap) was the
  // last person's, so the next read is not compared with it.
  function endPairing() {
    if (!pairing.side) { return; }
    pairing = { side: null, until: 0 };
    tickPairing();
    pairingEnded = call("POST", END_PAIRING_PATH);
  }
  $("result-next").addEventListener("click", () => { endPairing(); clearResult(); });
  $("pairing-skip").addEventListener("click", () => { endPairing(); focusScanner(); });
  // Buttons never take the focus from the scanner field (a focused button would swallow the
  // scanner's Enter); the ID-card form and the login form keep theirs.
  document.querySelectorAll("#topbar button, #modes button, #result-next, #pairing-skip").forEach((button) => {
    button.addEventListener("mousedown", (event) => event.preventDefault());
  });
  document.addEventListener("click", (event) => {
    if (mode === "scan" && !event.target.closest("input, select, textarea, #login")) { focusScanner(); }
  });
  $("scan-input").addEventListener("blur", () => setTimeout(() => {
    const active = document.activeElement;
    const typing = active && active.closest && active.closest("#id-form, #login") &&
      active.matches("input:not([type=checkbox]), textarea");
    if (mode === "scan" && !typing) { focusScanner(); }
  }, 0));
  setInterval(refreshStatus, 15000);
  setInterval(tickPairing, 500);

  applyLanguage();
  if (token()) { showMain(); } else { showLogin(); }
}());
