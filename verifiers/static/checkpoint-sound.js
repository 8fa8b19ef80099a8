// How each verdict sounds and, on phones, vibrates: pass, check, refuse. The tones are made
// here with WebAudio (nothing is fetched); what was played is left on <body> for people and
// tests to see (data-sound, data-sound-count, data-vibrate).
"use strict";
(function () {
  const SOUND_OF = { green: "pass", yellow: "check", card: "check", unconfirmed: "check", tap: "check", red: "refuse", error: "refuse" };
  const TONES = {
    pass: { type: "sine", notes: [[880, 0, 0.1], [1320, 0.12, 0.12]] },
    check: { type: "triangle", notes: [[660, 0, 0.12], [660, 0.2, 0.12]] },
    refuse: { type: "square", notes: [[220, 0, 0.4]] },
  };
  const VIBRATION = { pass: [80], check: [120, 80, 120], refuse: [400, 120, 400, 120, 400] };
  let audio = null;
  let count = 0;

  function tone(kind) {
    try {
      audio = audio || new (window.AudioContext || window.webkitAudioContext)();
      if (audio.state === "suspended") { audio.resume(); }
      const { type, notes } = TONES[kind];
      const start = audio.currentTime + 0.01;
      notes.forEach(([frequency, offset, length]) => {
        const oscillator = audio.createOscillator();
        const gain = audio.createGain();
        oscillator.type = type;
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

  function play(display, muted) {
    const kind = SOUND_OF[display];
    if (!kind) { return; }
    const body = document.body;
    body.dataset.sound = muted ? "muted" : kind;
    count += 1;
    body.dataset.soundCount = String(count);
    const pattern = muted ? null : VIBRATION[kind];
    body.dataset.vibrate = pattern ? pattern.join(",") : "none";
    if (muted) { return; }
    tone(kind);
    if (navigator.vibrate) { try { navigator.vibrate(pattern); } catch (err) { /* none */ } }
  }

  window.HCSound = { play };
}());
