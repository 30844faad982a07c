(function () {
  "use strict";
  var table = document.getElementById("modules");
  if (!table) { return; }
  var tbody = table.tBodies[0];
  var rows = Array.prototype.slice.call(tbody.rows);
  var heads = Array.prototype.slice.call(table.tHead.rows[0].cells);
  var filterBox = document.getElementById("filter");
  var laneBox = document.getElementById("lane");
  var problemsBox = document.getElementById("problems");
  var state = { key: "name", desc: false, filter: "", lane: "", problems: false };

  function typeOf(key) {
    for (var i = 0; i < heads.length; i++) {
      if (heads[i].getAttribute("data-key") === key) { return heads[i].getAttribute("data-type"); }
    }
    return null;
  }

  function compare(a, b) {
    var type = typeOf(state.key);
    var x = a.getAttribute("data-sort-" + state.key), y = b.getAttribute("data-sort-" + state.key);
    // unknown ("") is not zero: it goes last whichever the direction
    if (x === "" && y !== "") { return 1; }
    if (y === "" && x !== "") { return -1; }
    var order = 0;
    if (x !== "" && y !== "") {
      if (type === "number") { order = parseFloat(x) - parseFloat(y); }
      else { order = x < y ? -1 : x > y ? 1 : 0; }
      if (state.desc) { order = -order; }
    }
    if (order !== 0) { return order; }
    var p = a.getAttribute("data-sort-name"), q = b.getAttribute("data-sort-name");
    return p < q ? -1 : p > q ? 1 : 0;
  }

  function apply() {
    if (!typeOf(state.key)) { state.key = "name"; state.desc = false; }
    var sorted = rows.slice().sort(compare);
    var needle = state.filter.toLowerCase();
    var shown = 0;
    sorted.forEach(function (row) {
      var visible = (!needle || row.getAttribute("data-text").indexOf(needle) !== -1)
        && (!state.lane || row.getAttribute("data-lane") === state.lane)
        && (!state.problems || row.getAttribute("data-problem") === "1");
      row.hidden = !visible;
      if (visible) { shown++; }
      tbody.appendChild(row);
    });
    heads.forEach(function (th) {
      var on = th.getAttribute("data-key") === state.key;
      th.setAttribute("aria-sort", on ? (state.desc ? "descending" : "ascending") : "none");
    });
    document.getElementById("shown").textContent = String(shown);
    table.setAttribute("data-sorted", (state.desc ? "-" : "") + state.key);
  }

  function writeHash() {
    var parts = [];
    if (state.key !== "name" || state.desc) { parts.push("sort=" + (state.desc ? "-" : "") + state.key); }
    if (state.filter) { parts.push("filter=" + encodeURIComponent(state.filter)); }
    if (state.lane) { parts.push("lane=" + encodeURIComponent(state.lane)); }
    if (state.problems) { parts.push("problems=1"); }
    history.replaceState(null, "", parts.length ? "#" + parts.join("&") : location.pathname + location.search);
  }

  function readHash() {
    var hash = location.hash.replace(/^#/, "");
    if (hash.indexOf("=") === -1) {  // a plain anchor: open that module's panel
      var panel = hash && document.getElementById(decodeURIComponent(hash));
      if (panel && panel.tagName === "DETAILS") { panel.open = true; panel.scrollIntoView(); }
      return;
    }
    hash.split("&").forEach(function (pair) {
      var at = pair.indexOf("="), name = pair.slice(0, at), value = decodeURIComponent(pair.slice(at + 1));
      if (name === "sort") { state.desc = value.charAt(0) === "-"; state.key = value.replace(/^[-+]/, ""); }
      else if (name === "filter") { state.filter = value; }
      else if (name === "lane") { state.lane = value; }
      else if (name === "problems") { state.problems = value === "1" || value === "true"; }
    });
    filterBox.value = state.filter;
    laneBox.value = state.lane;
    problemsBox.checked = state.problems;
  }

  heads.forEach(function (th) {
    th.querySelector("button").addEventListener("click", function () {
      var key = th.getAttribute("data-key");
      if (state.key === key) { state.desc = !state.desc; }
      else { state.key = key; state.desc = th.getAttribute("data-type") === "number"; }
      apply(); writeHash();
    });
  });
  filterBox.addEventListener("input", function () { state.filter = filterBox.value; apply(); writeHash(); });
  laneBox.addEventListener("change", function () { state.lane = laneBox.value; apply(); writeHash(); });
  problemsBox.addEventListener("change", function () { state.problems = problemsBox.checked; apply(); writeHash(); });
  window.addEventListener("hashchange", function () { readHash(); apply(); });
  readHash();
  apply();
})();
