// Sorting and filtering for the stackgrade report. Reads only the DOM (cell text, data-* attributes) and writes
// only textContent, attributes and row order: nothing from the report is ever parsed as HTML or code.
(function () {
  "use strict";
  document.documentElement.classList.add("js");

  function sortKey(row, column) {
    var cell = row.cells[column];
    var key = cell.getAttribute("data-sort");
    return key !== null ? key : cell.textContent.trim().toLowerCase();
  }

  function compare(a, b) {
    var x = Number(a), y = Number(b);
    if (a !== "" && b !== "" && !isNaN(x) && !isNaN(y)) {
      return x - y;
    }
    return a < b ? -1 : a > b ? 1 : 0;
  }

  // Stable: equal keys keep the page's own order (severity, stack, resource) in either direction.
  function sortTable(table, header) {
    var column = header.cellIndex;
    var ascending = header.getAttribute("aria-sort") !== "ascending";
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (th) {
      th.removeAttribute("aria-sort");
    });
    header.setAttribute("aria-sort", ascending ? "ascending" : "descending");
    var body = table.tBodies[0];
    var keyed = Array.prototype.map.call(body.rows, function (row) {
      return {row: row, key: sortKey(row, column), index: Number(row.getAttribute("data-index"))};
    });
    keyed.sort(function (a, b) {
      var order = compare(a.key, b.key);
      return (ascending ? order : -order) || a.index - b.index;
    });
    var fragment = document.createDocumentFragment();
    keyed.forEach(function (item) { fragment.appendChild(item.row); });
    body.appendChild(fragment);
  }

  // Whitespace text between rows makes every row move re-examine its neighbours (seconds for 5,000 rows).
  function dropBlankText(body) {
    Array.prototype.filter.call(body.childNodes, function (node) {
      return node.nodeType === Node.TEXT_NODE && !node.data.trim();
    }).forEach(function (node) { body.removeChild(node); });
  }

  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    dropBlankText(table.tBodies[0]);
    // The whole header cell sorts; its button (which a click inside bubbles from) gives keyboard access.
    Array.prototype.forEach.call(table.tHead.rows[0].cells, function (header) {
      header.addEventListener("click", function () { sortTable(table, header); });
    });
  });

  // Long fixes show their first lines until clicked (without the script they show whole).
  // All measured before any is marked: interleaving reads and writes would lay the page out once per row.
  var cells = Array.prototype.slice.call(document.querySelectorAll("td.fix"));
  cells.filter(function (cell) {
    return cell.firstElementChild.scrollHeight > cell.firstElementChild.clientHeight + 1;
  }).forEach(function (cell) {
    cell.firstElementChild.classList.add("clipped");
    cell.title = "click to show the whole fix";
    cell.addEventListener("click", function () { cell.classList.toggle("open"); });
  });

  var form = document.getElementById("filters");
  if (!form) {
    return;
  }
  var table = document.getElementById(form.getAttribute("data-table"));
  var rows = Array.prototype.slice.call(table.tBodies[0].rows);
  // Computed once: the filter runs on every keystroke over up to thousands of rows.
  var facts = rows.map(function (row) {
    return {
      text: row.textContent.replace(/\s+/g, " ").toLowerCase(),
      engines: Array.prototype.map.call(row.querySelectorAll("[data-engine]"), function (element) {
        return element.getAttribute("data-engine");
      })
    };
  });
  var text = document.getElementById("filter-text");
  var severity = document.getElementById("filter-severity");
  var category = document.getElementById("filter-category");
  var engine = document.getElementById("filter-engine");
  var newOnly = document.getElementById("filter-new");
  var status = document.getElementById("filter-status");
  var empty = document.getElementById("findings-empty");

  function apply() {
    var terms = text.value.toLowerCase().split(/\s+/).filter(Boolean);
    var shown = 0;
    rows.forEach(function (row, i) {
      var fact = facts[i];
      var visible = terms.every(function (term) { return fact.text.indexOf(term) !== -1; }) &&
        (!severity.value || row.getAttribute("data-severity") === severity.value) &&
        (!category.value || row.getAttribute("data-category") === category.value) &&
        (!engine.value || fact.engines.indexOf(engine.value) !== -1) &&
        (!newOnly || !newOnly.checked || row.getAttribute("data-new") === "1");
      row.hidden = !visible;
      shown += visible ? 1 : 0;
    });
    status.textContent = shown.toLocaleString("en") + " of " + rows.length.toLocaleString("en") + " shown";
    empty.hidden = shown !== 0;
  }

  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (event) { event.preventDefault(); });
})();
