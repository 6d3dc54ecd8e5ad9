// The counter's camera scanner: fills the code field from a QR code and submits the form.
// Uses the browser's BarcodeDetector where there is one; without it (or without a camera)
// the button stays hidden and typing the code works as always.
(function () {
  "use strict";
  var button = document.getElementById("scan");
  var video = document.getElementById("scanner");
  var status = document.getElementById("scan-status");
  var form = document.getElementById("code-form");
  if (!button || !video || !form || !("BarcodeDetector" in window) ||
      !navigator.mediaDevices || !navigator.mediaDevices.getUserMedia) {
    return;
  }
  var field = form.querySelector("input[name=code], input[name=card]");
  button.hidden = false;
  var stream = null;

  function stop() {
    if (stream) {
      stream.getTracks().forEach(function (track) { track.stop(); });
      stream = null;
    }
    video.hidden = true;
  }

  function found(text) {
    stop();
    field.value = text.trim();
    status.textContent = "Code read: " + field.value;
    if (field.name === "code") {
      form.submit();
    } else {
      field.focus();
    }
  }

  button.addEventListener("click", function () {
    var detector = new window.BarcodeDetector({ formats: ["qr_code"] });
    navigator.mediaDevices.getUserMedia({ video: { facingMode: "environment" } })
      .then(function (media) {
        stream = media;
        video.srcObject = media;
        video.hidden = false;
        status.textContent = "Point the camera at the QR code.";
        return video.play();
      })
      .then(function tick() {
        if (!stream) { return; }
        detector.detect(video).then(function (codes) {
          if (codes.length) { found(codes[0].rawValue); } else { window.requestAnimationFrame(tick); }
        }).catch(function () { window.requestAnimationFrame(tick); });
      })
      .catch(function () {
        stop();
        status.textContent = "The camera is not available: type the code instead.";
      });
  });
})();
