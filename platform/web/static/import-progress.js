// Follows a member import: polls the import API until it is done, updating the
// progress bar and the summary (announced politely to screen readers).
(function () {
  "use strict";
  var box = document.getElementById("import");
  if (!box) { return; }
  var words = { pending: "Waiting to start…", running: "Working…", done: "Finished.",
                failed: "Stopped: it did not finish. Upload the file again." };
  function set(field, value) {
    var el = box.querySelector('[data-field="' + field + '"]');
    if (el) { el.textContent = value; }
  }
  function showErrors(errors) {
    var holder = document.getElementById("import-errors");
    if (!holder || !errors.length) { return; }
    var rows = errors.map(function (e) {
      var tr = document.createElement("tr");
      [e.row, e.field, e.message].forEach(function (v) {
        var td = document.createElement("td"); td.textContent = v; tr.appendChild(td);
      });
      return tr;
    });
    var table = document.createElement("table");
    table.innerHTML = '<thead><tr><th scope="col">Row</th><th scope="col">Column</th><th scope="col">Problem</th></tr></thead>';
    var body = document.createElement("tbody");
    rows.forEach(function (tr) { body.appendChild(tr); });
    table.appendChild(body);
    holder.replaceChildren(table);
  }
  function poll() {
    fetch(box.dataset.url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : Promise.reject(r.status); })
      .then(function (data) {
        var bar = document.getElementById("import-progress");
        bar.max = data.total || 1;
        bar.value = data.done;
        set("done", data.done); set("total", data.total); set("invited", data.invited);
        set("skipped", data.skipped); set("errors", data.errors.length);
        set("status", words[data.status] || data.status);
        box.dataset.status = data.status;
        showErrors(data.errors);
        if (data.status === "pending" || data.status === "running") { setTimeout(poll, 1000); }
      })
      .catch(function () { setTimeout(poll, 3000); });
  }
  if (box.dataset.status === "pending" || box.dataset.status === "running") { setTimeout(poll, 500); }
})();
