// newsmonitor dashboard: small progressive additions to plain server-rendered pages.
// Without this file every page still works (forms, server-side sort and filter, reload by hand).
(function () {
  "use strict";

  function filterTable(id) {
    var table = document.getElementById(id);
    if (!table) { return; }
    var text = document.querySelector('[data-filter="' + id + '"]');
    var state = document.querySelector('[data-filter-state="' + id + '"]');
    var words = text ? text.value.toLowerCase() : "";
    var wanted = state ? state.value : "";
    table.querySelectorAll("tbody tr[data-state]").forEach(function (row) {
      var show = (!words || row.textContent.toLowerCase().indexOf(words) !== -1) &&
                 (!wanted || row.getAttribute("data-state") === wanted);
      row.hidden = !show;
    });
  }

  function cellValue(row, index) {
    var cell = row.children[index];
    if (!cell) { return ""; }
    var value = cell.getAttribute("data-value");
    return value !== null ? parseFloat(value) : cell.textContent.trim().toLowerCase();
  }

  function sortBy(link) {
    var table = link.closest("table");
    var index = parseInt(link.getAttribute("data-sort"), 10);
    var body = table.tBodies[0];
    var desc = table.getAttribute("data-sorted") === String(index) && table.getAttribute("data-desc") !== "1";
    var rows = Array.prototype.slice.call(body.rows);
    rows.sort(function (a, b) {
      var x = cellValue(a, index), y = cellValue(b, index);
      var order = x < y ? -1 : x > y ? 1 : 0;
      return desc ? -order : order;
    });
    rows.forEach(function (row) { body.appendChild(row); });
    table.setAttribute("data-sorted", String(index));
    table.setAttribute("data-desc", desc ? "1" : "0");
  }

  function enhance(root) {
    root.querySelectorAll("[data-filter]").forEach(function (input) {
      var id = input.getAttribute("data-filter");
      input.addEventListener("input", function () { filterTable(id); });
      filterTable(id);
    });
    root.querySelectorAll("[data-filter-state]").forEach(function (select) {
      select.addEventListener("change", function () { filterTable(select.getAttribute("data-filter-state")); });
    });
    root.querySelectorAll("a[data-sort]").forEach(function (link) {
      link.addEventListener("click", function (event) { event.preventDefault(); sortBy(link); });
    });
  }

  function busy(live) {
    var active = document.activeElement;
    return active && live.contains(active) && /^(INPUT|TEXTAREA|SELECT)$/.test(active.tagName);
  }

  function refresh(live) {
    if (document.hidden || busy(live) || live.querySelector("#try-form")) { return; }
    fetch(window.location.href, { credentials: "same-origin", headers: { "Accept": "text/html" } })
      .then(function (response) { return response.ok ? response.text() : null; })
      .then(function (text) {
        if (text === null || busy(live)) { return; }
        var fresh = new DOMParser().parseFromString(text, "text/html").getElementById("live");
        if (!fresh) { return; }
        var kept = {};
        live.querySelectorAll("[data-filter], [data-filter-state]").forEach(function (el) { kept[el.name] = el.value; });
        live.replaceChildren.apply(live, Array.prototype.slice.call(fresh.childNodes).map(function (n) {
          return document.importNode(n, true);
        }));
        live.querySelectorAll("[data-filter], [data-filter-state]").forEach(function (el) {
          if (kept[el.name] !== undefined) { el.value = kept[el.name]; }
        });
        enhance(live);
      })
      .catch(function () { /* the next round tries again */ });
  }

  document.addEventListener("DOMContentLoaded", function () {
    var live = document.getElementById("live");
    enhance(document);
    var seconds = live ? parseInt(live.getAttribute("data-refresh"), 10) : 0;
    if (live && seconds > 0) {
      window.setInterval(function () { refresh(live); }, seconds * 1000);
    }
  });
})();
