// "Start a time bank": suggest the web address from the scheme's name, check
// it as the person types (GET /start/address), and pick the browser's time
// zone. Without JavaScript the form works the same; the server checks again.
(function () {
  "use strict";
  var form = document.getElementById("start-form");
  if (!form) { return; }
  var name = document.getElementById("name");
  var slug = document.getElementById("slug");
  var status = document.getElementById("slug-status");
  var zone = document.getElementById("timezone");
  var url = form.dataset.checkUrl;
  var typedByHand = slug.value !== "";
  var timer = null;
  var asked = 0;

  function ask(params, done) {
    var mine = ++asked;
    fetch(url + "?" + new URLSearchParams(params).toString(), {
      credentials: "same-origin", headers: {"Accept": "application/json"}
    })
      .then(function (response) { return response.json(); })
      .then(function (body) { if (mine === asked) { done(body); } })
      .catch(function () { status.textContent = ""; });
  }

  function show(body) {
    status.classList.toggle("error", !body.available);
    status.textContent = body.available
      ? "“" + body.slug + "” is free."
      : (body.message || "Choose another address.");
  }

  function later(fn) {
    window.clearTimeout(timer);
    timer = window.setTimeout(fn, 300);
  }

  name.addEventListener("input", function () {
    if (typedByHand) { return; }
    later(function () {
      if (!name.value.trim()) { slug.value = ""; status.textContent = ""; return; }
      ask({name: name.value}, function (body) {
        if (typedByHand) { return; }
        slug.value = body.slug;
        if (body.slug) { show(body); } else { status.textContent = ""; }
      });
    });
  });

  slug.addEventListener("input", function () {
    typedByHand = slug.value !== "";
    later(function () {
      if (!slug.value.trim()) { status.textContent = ""; return; }
      ask({slug: slug.value.trim().toLowerCase()}, show);
    });
  });

  if (zone && zone.dataset.guess) {
    var guess = "";
    try { guess = Intl.DateTimeFormat().resolvedOptions().timeZone || ""; } catch (e) { guess = ""; }
    for (var i = 0; i < zone.options.length; i++) {
      if (zone.options[i].value === guess) { zone.value = guess; break; }
    }
  }
}());
