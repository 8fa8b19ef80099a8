// Checkpoint staff page: scanner field, camera (jsQR, vendored), ID-card/assisted look-ups.
"use strict";
(function () {
  const TOKEN_KEY = "hc-checkpoint-token";
  const LANG_KEY = "hc-checkpoint-lang";
  const MUTED_KEY = "hc-checkpoint-muted";
  // A code the camera keeps seeing is the same person still in front of it: it is sent again
  // only after it has been out of view this long.
  const CAMERA_REPEAT_MS = 1500;
  // How many verdicts the shift view keeps (in this page only: nothing is stored on the device).
  const SHIFT_SIZE = 20;
  const TEXT = {
    zh: {
      title: "健康码核验", logout: "退出", login: "工作人员登录", username: "用户名",
      password: "密码", login_button: "登录", or_device: "或输入设备令牌", device_token: "设备令牌",
      mode_scan: "扫码", mode_idcard: "身份证 / 助查", camera: "摄像头", photo: "上传图片",
      scan_placeholder: "请扫码（扫码枪或摄像头）", id_placeholder: "身份证号", name_placeholder: "姓名",
      assisted: "老幼助查（代查）", lookup: "查询", ready: "请扫码", next: "下一位",
      green: "绿码 通行", yellow: "黄码 请核查", red: "红码 禁止通行", error: "无法核验",
      card: "有效健康卡（无颜色）", unconfirmed: "状态无法确认", tap: "请刷身份证",
      tap_reason: "本岗要求核对证件 — 请在 {s} 秒内刷此人身份证",
      unconfirmed_action: "请查验身份证或致电热线", hotline: "热线",
      checking: "核验中…", issuer: "签发方", kind: "类型", phone: "手机码", offline: "离线码",
      valid_left: "剩余有效", checked_at: "核验时间", checks: "检查项", unchecked: "未能检查",
      since: "自", ago: "前", trust_age: "信任列表", online: "在线", offline_state: "离线",
      revocation_age: "作废数据", home: "归属地", assisted_mark: "代查", cached: "缓存",
      days: "天", hours: "小时", minutes: "分钟", seconds: "秒",
      passed: "通过", failed: "失败", not_checked: "未检查", stale: "过期数据",
      format: "格式", claims: "内容", trust_list: "信任列表", signature: "签名", validity: "有效期",
      revocation: "作废", clears_in: "后清除", shown: "已显示", code: "错误代码",
      sound_on: "声音 开", sound_off: "静音", shift: "本班最近核验", shift_empty: "本班尚无核验",
      kind_qr: "二维码", kind_printed: "打印码", kind_id_card: "身份证", kind_assisted: "代查",
      unreachable: "无法连接核验服务 — 请检查网络后重试", camera_error: "无法打开摄像头 — 请检查权限或用扫码枪",
      bind_match: "✓ 码与身份证相符", bind_mismatch: "✗ 码不属于此身份证持有人",
      bind_unconfirmed: "? 无法核对码与身份证 — 请核对证件照片",
      bind_waiting_code: "已扫码 — 请在 {s} 秒内刷身份证核对", bind_waiting_card: "已刷身份证 — 请在 {s} 秒内扫此人的码",
      failing_source: "数据源异常", stale_source: "未同步", registry_source: "信任注册中心", pairing_skip: "不核对",
    },
    en: {
      title: "Health code checkpoint", logout: "Log out", login: "Staff login", username: "Username",
      password: "Password", login_button: "Log in", or_device: "or enter a device token",
      device_token: "Device token", mode_scan: "Scan", mode_idcard: "ID card / assisted", photo: "Photo",
      camera: "Camera", scan_placeholder: "Scan a code (scanner or camera)",
      id_placeholder: "ID number", name_placeholder: "Name", assisted: "Assisted look-up",
      lookup: "Look up", ready: "Ready to scan", next: "Next person",
      green: "GREEN – pass", yellow: "YELLOW – check", red: "RED – no entry", error: "Cannot verify",
      card: "Valid health card (no colour)", unconfirmed: "Status not confirmed", tap: "Read the ID card",
      tap_reason: "this checkpoint checks cards — read this person's ID card within {s} s",
      unconfirmed_action: "Check the ID card or call the hotline", hotline: "hotline",
      checking: "Checking…", issuer: "Issuer", kind: "Kind", phone: "phone code",
      offline: "printed code", valid_left: "valid for", checked_at: "checked at", checks: "checks",
      unchecked: "not checked", since: "since", ago: " ago", trust_age: "trust list", online: "online",
      offline_state: "OFFLINE", revocation_age: "revocation data", home: "home province",
      assisted_mark: "assisted", cached: "cached", days: "d", hours: "h", minutes: "min",
      seconds: "s", passed: "passed", failed: "failed", not_checked: "not checked",
      stale: "stale", format: "format", claims: "claims", trust_list: "trust list", signature: "signature",
      validity: "validity", revocation: "revocation", code: "error code",
      clears_in: "clears in", shown: "shown", sound_on: "Sound on", sound_off: "Muted",
      shift: "This shift", shift_empty: "No verdicts yet this shift",
      kind_qr: "QR", kind_printed: "printed", kind_id_card: "ID card", kind_assisted: "assisted",
      unreachable: "checkpoint service unreachable — check the network and try again",
      camera_error: "camera unavailable — check the permission or use the scanner",
      bind_match: "✓ code matches the ID card", bind_mismatch: "✗ code belongs to someone else",
      bind_unconfirmed: "? could not confirm the code belongs to the card — compare the photo",
      bind_waiting_code: "code scanned — read the ID card within {s} s",
      bind_waiting_card: "ID card read — scan their code within {s} s",
      failing_source: "source failing", stale_source: "not synced", registry_source: "trust registry", pairing_skip: "Don't compare",
    },
  };
  // What each screen sounds (and, on phones, vibrates) like: pass, check, refuse.
  const SOUND_OF = { green: "pass", yellow: "check", card: "check", unconfirmed: "check", tap: "check", red: "refuse", error: "refuse" };
  const TONES = {
    pass: { type: "sine", notes: [[880, 0, 0.1], [1320, 0.12, 0.12]] },
    check: { type: "triangle", notes: [[660, 0, 0.12], [660, 0.2, 0.12]] },
    refuse: { type: "square", notes: [[220, 0, 0.4]] },
  };
  const VIBRATION = { pass: [80], check: [120, 80, 120], refuse: [400, 120, 400, 120, 400] };

  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem(LANG_KEY) || "zh";
  let muted = localStorage.getItem(MUTED_KEY) === "true";
  let mode = "scan";
  let lastAnswer = null;
  let cameraStream = null;
  let busy = false;
  let resultSeconds = 5;
  let hotline = null;
  let shownAt = 0;
  let clearTimer = null;
  let audio = null;
  let soundCount = 0;
  let shift = [];
  let pairing = { side: null, until: 0 };

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

  function sound(display) {
    const kind = SOUND_OF[display];
    if (!kind) { return; }
    // What was played (or not), for people and tests to see.
    document.body.dataset.sound = muted ? "muted" : kind;
    soundCount += 1;
    document.body.dataset.soundCount = String(soundCount);
    if (muted) { return; }
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      const tone = TONES[kind];
      const start = audio.currentTime + 0.01;
      tone.notes.forEach(([frequency, offset, length]) => {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.type = tone.type;
        oscillator.frequency.value = frequency;
        gain.gain.setValueAtTime(0.0001, start + offset);
        gain.gain.exponentialRampToValueAtTime(0.25, start + offset + 0.01);
        gain.gain.exponentialRampToValueAtTime(0.0001, start + offset + length);
        oscillator.connect(gain).connect(audio.destination);
        oscillator.start(start + offset);
        oscillator.stop(start + offset + length + 0.02);
      });
    } catch (err) { /* no audio output: the screen still says it all */ }
  }

  function vibrate(kind) {
    const pattern = muted ? null : VIBRATION[kind];
    document.body.dataset.vibrate = pattern ? pattern.join(",") : "none";
    if (pattern && navigator.vibrate) { try { navigator.vibrate(pattern); } catch (err) { /* none */ } }
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
    sound(display);
    vibrate(SOUND_OF[display]);
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

  // -- the shift view: this page's last verdicts (reloading the page forgets them)
  function kindOf(answer) {
    if (answer.mode === "assisted") { return "assisted"; }
    if (answer.mode === "id_card") { return "id_card"; }
    return answer.kind === "offline" ? "printed" : "qr";
  }

  function remember(answer, display) {
    if (display === "checking") { return; }
    shift.unshift({
      at: Date.now(), display, kind: kindOf(answer),
      name: answer.masked_name || (answer.shc || {}).masked_name || "–",
      error: answer.error || "",
    });
    shift.length = Math.min(shift.length, SHIFT_SIZE);
    renderShift();
  }

  function renderShift() {
    $("shift-empty").hidden = shift.length > 0;
    $("shift-list").replaceChildren(...shift.map((entry) => {
      const li = document.createElement("li");
      li.dataset.display = entry.display;
      const time = document.createElement("span");
      time.textContent = new Date(entry.at).toLocaleTimeString(lang === "zh" ? "zh-CN" : "en-GB");
      const verdict = document.createElement("span");
      verdict.className = "verdict";
      verdict.textContent = t(entry.display) + (entry.error ? " (" + entry.error + ")" : "") + " · " + entry.name;
      const kind = document.createElement("span");
      kind.className = "kind";
      kind.textContent = t("kind_" + entry.kind);
      li.append(time, verdict, kind);
      return li;
    }));
  }

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

  async function toggleCamera() {
    if (cameraStream) {
      cameraStream.getTracks().forEach((track) => track.stop());
      cameraStream = null;
      $("camera").hidden = true;
      focusScanner();
      return;
    }
    focusScanner();
    try {
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) {
      showAnswer({ display: "error", error: "camera",
        staff_text: { zh: TEXT.zh.camera_error, en: TEXT.en.camera_error } });
      focusScanner();
      return;
    }
    const video = $("camera-video");
    video.srcObject = cameraStream;
    await video.play();
    $("camera").hidden = false;
    focusScanner();
    let lastText = "";
    let lastSeen = 0;
    const canvas = $("camera-canvas");
    const context = canvas.getContext("2d", { willReadFrequently: true });
    const tick = () => {
      if (!cameraStream) { return; }
      if (video.readyState === video.HAVE_ENOUGH_DATA) {
        canvas.width = video.videoWidth;
        canvas.height = video.videoHeight;
        context.drawImage(video, 0, 0, canvas.width, canvas.height);
        const image = context.getImageData(0, 0, canvas.width, canvas.height);
        const code = jsQR(image.data, image.width, image.height, { inversionAttempts: "dontInvert" });
        if (code && code.data) {
          const now = Date.now();
          if (code.data === lastText && now - lastSeen < CAMERA_REPEAT_MS) {
            lastSeen = now; // still in view: already answered
          } else if (submitScan(code.data)) {
            lastText = code.data; // only once taken: a code seen while busy is tried again
            lastSeen = now;
          }
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
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
    call("POST", "/v1/scan-tap/end");
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
