// Checkpoint staff page: scanner field, camera (jsQR, vendored), ID-card/assisted look-ups.
"use strict";
(function () {
  const TOKEN_KEY = "hc-checkpoint-token";
  const LANG_KEY = "hc-checkpoint-lang";
  const MUTED_KEY = "hc-checkpoint-muted";
  // A code the camera keeps seeing is the same person still in front of it: it is sent again
  // only after it has been out of view this long.
  const CAMERA_REPEAT_MS = 1500;
  const TEXT = {
    zh: {
      title: "健康码核验", logout: "退出", login: "工作人员登录", username: "用户名",
      password: "密码", login_button: "登录", or_device: "或输入设备令牌", device_token: "设备令牌",
      mode_scan: "扫码", mode_idcard: "身份证 / 助查", camera: "摄像头", photo: "上传图片",
      scan_placeholder: "请扫码（扫码枪或摄像头）", id_placeholder: "身份证号", name_placeholder: "姓名",
      assisted: "老幼助查（代查）", lookup: "查询", ready: "请扫码",
      green: "绿码 通行", yellow: "黄码 请核查", red: "红码 禁止通行", error: "无法核验",
      card: "有效健康卡（无颜色）", unconfirmed: "状态无法确认",
      unconfirmed_action: "请查验身份证或致电热线", hotline: "热线",
      checking: "核验中…", issuer: "签发方", kind: "类型", phone: "手机码", offline: "离线码",
      valid_left: "剩余有效", checked_at: "核验时间", checks: "检查项", unchecked: "未能检查",
      since: "自", ago: "前", trust_age: "信任列表", online: "在线", offline_state: "离线",
      revocation_age: "作废数据", home: "归属地", assisted_mark: "代查", cached: "缓存",
      days: "天", hours: "小时", minutes: "分钟", seconds: "秒",
      passed: "通过", failed: "失败", not_checked: "未检查", stale: "过期数据",
      format: "格式", claims: "内容", trust_list: "信任列表", signature: "签名", validity: "有效期",
      revocation: "作废", login_failed: "登录失败", clears_in: "后清除", shown: "已显示",
      sound_on: "声音 开", sound_off: "静音",
    },
    en: {
      title: "Health code checkpoint", logout: "Log out", login: "Staff login", username: "Username",
      password: "Password", login_button: "Log in", or_device: "or enter a device token",
      device_token: "Device token", mode_scan: "Scan", mode_idcard: "ID card / assisted", photo: "Photo",
      camera: "Camera", scan_placeholder: "Scan a code (scanner or camera)",
      id_placeholder: "ID number", name_placeholder: "Name", assisted: "Assisted look-up",
      lookup: "Look up", ready: "Ready to scan",
      green: "GREEN – pass", yellow: "YELLOW – check", red: "RED – no entry", error: "Cannot verify",
      card: "Valid health card (no colour)", unconfirmed: "Status not confirmed",
      unconfirmed_action: "Check the ID card or call the hotline", hotline: "hotline",
      checking: "Checking…", issuer: "Issuer", kind: "Kind", phone: "phone code",
      offline: "printed code", valid_left: "valid for", checked_at: "checked at", checks: "checks",
      unchecked: "not checked", since: "since", ago: " ago", trust_age: "trust list", online: "online",
      offline_state: "OFFLINE", revocation_age: "revocation data", home: "home province",
      assisted_mark: "assisted", cached: "cached", days: "d", hours: "h", minutes: "min",
      seconds: "s", passed: "passed", failed: "failed", not_checked: "not checked",
      stale: "stale", format: "format", claims: "claims", trust_list: "trust list", signature: "signature",
      validity: "validity", revocation: "revocation", login_failed: "Login failed",
      clears_in: "clears in", shown: "shown", sound_on: "Sound on", sound_off: "Muted",
    },
  };
  // What to do about each error code, for staff reading Chinese (the English hint comes with
  // the answer; tests/verifiers/test_page.py checks every code has one here).
  const HINTS_ZH = {
    input_too_large: "内容超出长度限制，不是健康码。",
    malformed_input: "不是 hc:/ 或 shc:/ 码、签名令牌或健康卡文件；请重新扫码。",
    malformed_qr: "二维码数字内容无效（长度或数字超出范围）；请重新扫码。",
    chunked_code: "这是多段 shc:/ 码的一段；请一起扫描所有分段。",
    chunk_missing: "多段码未给全；请扫描所有分段。",
    chunk_duplicate: "同一分段给了两次。",
    chunk_out_of_range: "分段编号超出总数，或各段总数不一致。",
    malformed_jws: "签名令牌不是三段严格的 base64url；码被修改或截断。",
    malformed_header: "令牌头部不是含 alg、kid、zip 的 JSON；不是标准健康码。",
    unsupported_algorithm: "只接受 ES256；此令牌用了其他算法（可能伪造）。",
    unsupported_compression: "内容必须为 zip DEF（原始 DEFLATE）压缩。",
    malformed_signature: "签名必须是 64 字节 r||s 格式（DER 签名无效）。",
    payload_too_large: "内容解压后超出限制（可能是压缩炸弹）。",
    malformed_payload: "内容不是有效的 DEFLATE 压缩 JSON 对象。",
    invalid_claims: "缺少必填项或类型错误；须由签发方修正。",
    unsupported_version: "本设备不认识此码的版本；请升级核验设备。",
    unknown_issuer: "签发方不在信任列表中；无法识别此码（可能伪造）。",
    issuer_suspended: "信任中心已暂停此签发方；其码不予认可。",
    unknown_key: "此签发方没有该密钥；请更新信任列表，否则按伪造处理。",
    key_revoked: "签发方密钥已吊销（泄露）；市民须重新领码。",
    key_not_valid: "此码签发时间不在签名密钥有效期内。",
    bad_signature: "签名验证失败；码被伪造或篡改。",
    expired: "码已过期；请市民刷新或重新打印。",
    not_yet_valid: "码的生效时间在未来；请检查本设备时间。",
    revoked: "此码签发后市民状态已变化；请出示最新的码。",
    status_unconfirmed: "作废数据过旧，无法排除状态变化；请联网核验或查验身份证。",
    clock_behind: "本设备时间落后于信任中心签名时间；请校准时间。",
    trust_list_malformed: "信任列表格式不符合标准。",
    trust_list_bad_signature: "信任列表签名无效；列表被篡改。",
    trust_list_unknown_root_key: "信任列表由非预置根密钥签名。",
    trust_list_threshold: "联合签名的根密钥数量不足。",
    trust_list_rollback: "提供的信任列表比现有的旧（回滚攻击）。",
    trust_list_expired: "信任列表已过期（冻结攻击或无网络）；请更新。",
    trust_list_unavailable: "没有已验证的信任列表；请至少联网一次。",
    unavailable_offline: "此项需联网（身份证查询）；请扫手机码或打印码。",
    upstream_unavailable: "所依赖的服务暂不可达；请稍后重试。",
    invalid_id_number: "身份证号校验位、日期或格式有误；请重新输入。",
    unknown_region: "行政区划代码不属于任何受信任签发方。",
    unauthenticated: "请重新登录。",
    token_expired: "登录已过期；请重新登录。",
    forbidden: "您的角色无权执行此操作。",
    not_found: "未找到此记录；请核对证件。",
    conflict: "请求与当前状态冲突；请刷新后重试。",
    invalid_request: "有字段缺失或格式错误。",
    assertion_invalid: "合作方断言未由信任列表中的密钥签名，或已过时。",
    assertion_replayed: "每个合作方断言只能使用一次。",
    rate_limited: "请求过多；请稍后再试。",
  };
  // What each screen sounds like: pass, check (yellow, no colour, status unconfirmed), refuse.
  const SOUND_OF = { green: "pass", yellow: "check", card: "check", unconfirmed: "check", red: "refuse", error: "refuse" };
  const TONES = {
    pass: { type: "sine", notes: [[880, 0, 0.1], [1320, 0.12, 0.12]] },
    check: { type: "triangle", notes: [[660, 0, 0.12], [660, 0.2, 0.12]] },
    refuse: { type: "square", notes: [[220, 0, 0.4]] },
  };

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

  function t(key) { return (TEXT[lang] && TEXT[lang][key]) || key; }
  function token() { return sessionStorage.getItem(TOKEN_KEY); }

  function applyLanguage() {
    document.body.dataset.lang = lang;
    document.documentElement.lang = lang === "zh" ? "zh-CN" : "en";
    $("lang-toggle").textContent = lang === "zh" ? "EN" : "中文";
    document.querySelectorAll("[data-i18n]").forEach((el) => { el.textContent = t(el.dataset.i18n); });
    document.querySelectorAll("[data-i18n-placeholder]").forEach((el) => {
      el.placeholder = t(el.dataset.i18nPlaceholder);
    });
    applySound();
    if (lastAnswer) { render(lastAnswer); tickClear(); } else if ($("result").dataset.display === "idle") { showIdle(); }
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

  // -- the result and its countdown back to the idle screen
  function showIdle() {
    const result = $("result");
    result.dataset.display = "idle";
    $("result-title").textContent = t("ready");
    $("result-reason").textContent = "";
    $("result-person").textContent = "";
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
    // Back to scanning, unless staff are typing an ID number.
    if (mode === "idcard" && !$("id-number").value && !$("id-name").value) { setMode("scan"); }
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

  function showChecking() {
    stopClear();
    lastAnswer = null;
    $("result").dataset.display = "checking";
    $("result-title").textContent = t("checking");
  }

  function showAnswer(answer) {
    render(answer);
    sound($("result").dataset.display);
    shownAt = Date.now();
    stopClear();
    tickClear();
    clearTimer = setInterval(tickClear, 200);
  }

  function render(answer) {
    lastAnswer = answer;
    const display = answer.display || "error";
    const result = $("result");
    result.dataset.display = display;
    $("result-title").textContent = t(display);
    const reason = $("result-reason");
    const person = $("result-person");
    const details = $("result-details");
    details.replaceChildren();
    if (display === "error") {
      const text = answer.error_text || answer.text || {};
      reason.textContent = text[lang] || answer.error || "";
      person.textContent = answer.error ? "(" + answer.error + ")" : "";
      const hint = lang === "zh" ? HINTS_ZH[answer.error] || answer.hint : answer.hint;
      if (hint) { details.append(line(hint, "hint")); }
    } else if (display === "unconfirmed") {
      reason.textContent = t("unconfirmed_action");
      person.textContent = hotline ? t("hotline") + " " + hotline : "";
      details.append(line(lang === "zh" ? HINTS_ZH.status_unconfirmed : answer.hint || "", "hint"));
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
      return { display: "error", error: "unavailable_offline",
        error_text: { zh: "无法连接核验服务", en: "Checkpoint service unreachable" } };
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
      showAnswer({ display: "error", error: "camera", error_text: { zh: "无法打开摄像头", en: "Camera unavailable" } });
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
    if (deviceToken) { sessionStorage.setItem(TOKEN_KEY, deviceToken); $("device-token").value = ""; showMain(); return; }
    const response = await fetch("/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("username").value, password: $("password").value }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { $("login-error").textContent = t("login_failed") + ": " + ((data.text || {})[lang] || ""); return; }
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
  // Buttons never take the focus from the scanner field (a focused button would swallow the
  // scanner's Enter); the ID-card form and the login form keep theirs.
  document.querySelectorAll("#topbar button, #modes button").forEach((button) => {
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

  applyLanguage();
  if (token()) { showMain(); } else { showLogin(); }
}());
