// The camera: frames decoded with the vendored jsQR, each new code handed to the page.
"use strict";
(function () {
  // A code the camera keeps seeing is the same person still in front of it: it is sent again
  // only after it has been out of view this long.
  const CAMERA_REPEAT_MS = 1500;
  const $ = (id) => document.getElementById(id);
  let cameraStream = null;

  // page: { onCode(text) -> whether it was taken, focus(), onError() }
  async function toggle(page) {
    if (cameraStream) {
      cameraStream.getTracks().forEach((track) => track.stop());
      cameraStream = null;
      $("camera").hidden = true;
      page.focus();
      return;
    }
    page.focus();
    try {
      cameraStream = await navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } });
    } catch (err) {
      page.onError();
      page.focus();
      return;
    }
    const video = $("camera-video");
    video.srcObject = cameraStream;
    await video.play();
    $("camera").hidden = false;
    page.focus();
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
          } else if (page.onCode(code.data)) {
            lastText = code.data; // only once taken: a code seen while busy is tried again
            lastSeen = now;
          }
        }
      }
      requestAnimationFrame(tick);
    };
    requestAnimationFrame(tick);
  }

  window.HCCamera = { toggle };
}());
