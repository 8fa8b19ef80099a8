// Checkpoint staff page: scanner field, camera (jsQR, vendored), ID-card/assisted look-ups.
"use strict";
(function () {
  const TOKEN_KEY = "hc-checkpoint-token";
  const LANG_KEY = "hc-checkpoint-lang";
  const TEXT = {
    zh: {
      title: "健康码核验", logout: "退出", login: "工作人员登录", username: "用户名",
      password: "密码", login_button: "登录", or_device: "或输入设备令牌", device_token: "设备令牌",
      mode_scan: "扫码", mode_idcard: "身份证 / 助查", camera: "摄像头", photo: "上传图片",
      scan_placeholder: "请扫码（扫码枪或摄像头）", id_placeholder: "身份证号", name_placeholder: "姓名",
      assisted: "老幼助查（代查）", lookup: "查询", ready: "请扫码",
      green: "绿码 通行", yellow: "黄码 请核查", red: "红码 禁止通行", error: "无法核验",
      card: "有效健康卡（无颜色）",
      checking: "核验中…", issuer: "签发方", kind: "类型", phone: "手机码", offline: "离线码",
      valid_left: "剩余有效", checked_at: "核验时间", checks: "检查项", unchecked: "未能检查",
      since: "自", trust_age: "信任列表", online: "在线", offline_state: "离线",
      revocation_age: "作废数据", home: "归属地", assisted_mark: "代查", cached: "缓存",
      days: "天", hours: "小时", minutes: "分钟", seconds: "秒",
      passed: "通过", failed: "失败", not_checked: "未检查", stale: "过期数据",
      format: "格式", claims: "内容", trust_list: "信任列表", signature: "签名", validity: "有效期",
      revocation: "作废", login_failed: "登录失败",
    },
    en: {
      title: "Health code checkpoint", logout: "Log out", login: "Staff login", username: "Username",
      password: "Password", login_button: "Log in", or_device: "or enter a device token",
      device_token: "Device token", mode_scan: "Scan", mode_idcard: "ID card / assisted", photo: "Photo",
      camera: "Camera", scan_placeholder: "Scan a code (scanner or camera)",
      id_placeholder: "ID number", name_placeholder: "Name", assisted: "Assisted look-up",
      lookup: "Look up", ready: "Ready to scan",
      green: "GREEN – pass", yellow: "YELLOW – check", red: "RED – no entry", error: "Cannot verify",
      card: "Valid health card (no colour)",
      checking: "Checking…", issuer: "Issuer", kind: "Kind", phone: "phone code",
      offline: "printed code", valid_left: "valid for", checked_at: "checked at", checks: "checks",
      unchecked: "not checked", since: "since", trust_age: "trust list", online: "online",
      offline_state: "OFFLINE", revocation_age: "revocation data", home: "home issuer",
      assisted_mark: "assisted", cached: "cached", days: "d", hours: "h", minutes: "min",
      seconds: "s", passed: "passed", failed: "failed", not_checked: "not checked",
      stale: "stale", format: "format", claims: "claims", trust_list: "trust list", signature: "signature",
      validity: "validity", revocation: "revocation", login_failed: "Login failed",
    },
  };

  const $ = (id) => document.getElementById(id);
  let lang = localStorage.getItem(LANG_KEY) || "zh";
  let mode = "scan";
  let lastAnswer = null;
  let cameraStream = null;
  let busy = false;

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
    if (lastAnswer) { showAnswer(lastAnswer); }
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

  function line(text) {
    const div = document.createElement("div");
    div.textContent = text;
    return div;
  }

  function showAnswer(answer) {
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
      if (answer.hint && lang === "en") { details.append(line(answer.hint)); }
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
      details.append(line(t("home") + ": " + answer.home_issuer +
        (answer.assisted ? " · " + t("assisted_mark") : "") + (answer.cached ? " · " + t("cached") : "")));
    }
    if (answer.checks) {
      const parts = Object.entries(answer.checks).map(([k, v]) => t(k) + " " + t(v));
      details.append(line(t("checks") + ": " + parts.join(" · ")));
    }
    (answer.unchecked || []).forEach((item) => {
      details.append(line("⚠ " + t("unchecked") + ": " + (item.text || {})[lang] +
        (item.since ? " (" + t("since") + " " + timeText(item.since) + ")" : "")));
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
    if (response.status === 401) { logout(); }
    if (!response.ok) { data.display = "error"; }
    return data;
  }

  function focusScanner() {
    if (mode === "scan" && !$("main").hidden) { $("scan-input").focus(); }
  }

  async function submitScan(text) {
    if (!text || busy) { return; }
    busy = true;
    $("result").dataset.display = "checking";
    $("result-title").textContent = t("checking");
    try {
      showAnswer(await call("POST", "/v1/scan", { text }));
    } finally {
      busy = false;
      focusScanner();
    }
  }

  async function refreshStatus() {
    if (!token()) { return; }
    const status = await call("GET", "/v1/status");
    if (status.display === "error") { return; }
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
    try {
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) {
      showAnswer({ display: "error", error: "camera", error_text: { zh: "无法打开摄像头", en: "Camera unavailable" } });
      return;
    }
    const video = $("camera-video");
    video.srcObject = cameraStream;
    await video.play();
    $("camera").hidden = false;
    let lastText = "";
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
        if (code && code.data && code.data !== lastText) { lastText = code.data; submitScan(code.data); }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  function showLogin() { $("login").hidden = false; $("main").hidden = true; $("logout").hidden = true; $("username").focus(); }
  function showMain() { $("login").hidden = true; $("main").hidden = false; $("logout").hidden = false; setMode(mode); refreshStatus(); }
  function logout() { sessionStorage.removeItem(TOKEN_KEY); showLogin(); }

  $("login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const deviceToken = $("device-token").value.trim();
    if (deviceToken) { sessionStorage.setItem(TOKEN_KEY, deviceToken); showMain(); return; }
    const response = await fetch("/v1/auth/login", {
      method: "POST", headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ username: $("username").value, password: $("password").value }),
    });
    const data = await response.json().catch(() => ({}));
    if (!response.ok) { $("login-error").textContent = t("login_failed") + ": " + ((data.text || {})[lang] || ""); return; }
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
    $("result").dataset.display = "checking";
    $("result-title").textContent = t("checking");
    const answer = await call("POST", "/v1/scan/image", file, file.type || "application/octet-stream");
    showAnswer(answer.results && answer.results.length ? answer.results[0] : answer);
    focusScanner();
  });

  $("id-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const assisted = $("assisted").checked;
    const body = { id_number: $("id-number").value.trim(), name: $("id-name").value.trim() || null };
    $("result").dataset.display = "checking";
    $("result-title").textContent = t("checking");
    showAnswer(await call("POST", assisted ? "/v1/assisted" : "/v1/id-card", body));
    $("id-number").value = "";
    $("id-name").value = "";
    $("id-number").focus();
  });

  document.querySelectorAll(".mode").forEach((b) => b.addEventListener("click", () => setMode(b.dataset.mode)));
  $("camera-toggle").addEventListener("click", toggleCamera);
  $("lang-toggle").addEventListener("click", () => {
    lang = lang === "zh" ? "en" : "zh";
    localStorage.setItem(LANG_KEY, lang);
    applyLanguage();
    focusScanner();
  });
  $("logout").addEventListener("click", logout);
  // Keep the scanner field focused: a hardware scanner types wherever focus is.
  document.addEventListener("click", (event) => {
    if (mode === "scan" && !event.target.closest("input, button, select, label")) { focusScanner(); }
  });
  $("scan-input").addEventListener("blur", () => setTimeout(() => {
    const active = document.activeElement;
    if (mode === "scan" && (!active || active === document.body)) { focusScanner(); }
  }, 0));
  setInterval(refreshStatus, 15000);

  applyLanguage();
  if (token()) { showMain(); } else { showLogin(); }
}());
