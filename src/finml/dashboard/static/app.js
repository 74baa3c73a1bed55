/* FinML static dashboard: renders window.FINML_SNAPSHOT (snapshot.js) with plotly.js.
   No network: everything it needs sits next to index.html. */
(function () {
  "use strict";

  // 20 distinct colours: a chart's series each get their own (outcome colours first).
  var PALETTE = ["#2f6fde", "#e8590c", "#12a150", "#9b51e0", "#d92d20", "#0ea5b7",
                 "#b7791f", "#475467", "#db2777", "#65a30d", "#1e3a8a", "#f59e0b",
                 "#14532d", "#c084fc", "#7f1d1d", "#67e8f9", "#78350f", "#a3a3a3",
                 "#f9a8d4", "#bef264"];
  // Step lines that may coincide (one per symbol): each its own dash and width, widest first.
  var DASHES = ["solid", "dash", "dot", "dashdot", "longdash", "longdashdot"];
  var DAY_MS = 86400000;
  var SEVERITY = { HIGH: "bad", CRITICAL: "bad", FAILED: "bad", REJECT: "bad",
                   MEDIUM: "warn", WARNING: "warn", TRIGGER: "warn", INCONCLUSIVE: "warn",
                   NONE: "ok", SUCCESS: "ok", PROMOTE: "ok", DELIVERED: "ok", INFO: "info" };
  // Series named after an outcome keep the colour of its badge everywhere.
  var OUTCOME_COLOURS = { SUCCESS: "#12a150", PROMOTE: "#12a150", NONE: "#12a150",
                          SKIP: "#98a2b3", FAILED: "#d92d20", TIMEDOUT: "#d92d20",
                          UPSTREAM_FAILED: "#f04438", REJECT: "#d92d20", HIGH: "#d92d20",
                          CRITICAL: "#912018", MEDIUM: "#f79009", WARNING: "#f79009",
                          TRIGGER: "#f79009", EXCLUDED: "#98a2b3" };
  var BADGE_COLUMNS = ["severity", "state", "decision", "status", "regime", "next_regime",
                       "drift_severity", "retrain_decision"];
  // Events marked on a chart (promotions, rollbacks, retraining triggers): line colours.
  var EVENT_COLOURS = { promotion: "#12a150", manual_promotion: "#9b51e0",
                        rollback: "#d92d20", retrain: "#f79009" };
  var REGIME_BADGE = { Normal: "ok", Stress: "warn", Crisis: "bad" };

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = text;
    return node;
  }

  var ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}/;

  function fmt(value) {
    if (value === null || value === undefined) return "—";
    if (typeof value === "number") {
      if (Number.isInteger(value)) return value.toLocaleString("en-US");
      var abs = Math.abs(value);
      return abs !== 0 && (abs < 0.001 || abs >= 1e6) ? value.toExponential(3)
        : value.toLocaleString("en-US", { maximumFractionDigits: 4 });
    }
    if (typeof value === "boolean") return value ? "yes" : "no";
    var text = String(value);
    if (ISO.test(text)) return text.replace("T", " ").slice(0, 19).replace(/:00$/, "");
    return text;
  }

  function renderKpis(kpis) {
    var grid = el("div", "kpis");
    kpis.forEach(function (k) {
      var card = el("div", "kpi " + (k.status || "info") + (k.detail && k.detail.length ? " has-detail" : ""));
      card.appendChild(el("div", "label", k.label));
      var value = el("div", "value", fmt(k.value));
      if (k.unit) value.appendChild(el("span", "unit", k.unit));
      card.appendChild(value);
      if (k.detail && k.detail.length) {
        var why = el("ul", "detail");
        k.detail.forEach(function (line) { why.appendChild(el("li", null, line)); });
        card.appendChild(why);
      }
      grid.appendChild(card);
    });
    return grid;
  }

  function baseLayout(chart) {
    return {
      margin: { l: 56, r: 16, t: 8, b: 48 },
      font: { family: "system-ui, DejaVu Sans, sans-serif", size: 12, color: "#1d2433" },
      paper_bgcolor: "#ffffff", plot_bgcolor: "#ffffff",
      colorway: PALETTE,
      // above the plot: below it, the legend covered rotated date ticks and the x title
      legend: { orientation: "h", x: 0, y: 1.02, yanchor: "bottom" },
      xaxis: { title: { text: chart.x_title || "" }, gridcolor: "#eef0f3", automargin: true },
      yaxis: { title: { text: chart.y_title || "" }, gridcolor: "#eef0f3", zeroline: false,
               automargin: true },
      hovermode: "closest",
    };
  }

  // One colour per series: an outcome keeps its badge colour, the others take the next
  // palette colour no other series of the chart uses.
  function colours(series) {
    var used = {};
    var fixed = series.map(function (s) {
      var c = OUTCOME_COLOURS[String(s.name).toUpperCase()];
      if (c) used[c] = true;
      return c;
    });
    var free = PALETTE.filter(function (c) { return !used[c]; });
    var next = 0;
    return fixed.map(function (c) { return c || free[next++ % free.length]; });
  }

  function traces(chart) {
    if (chart.kind === "heatmap") {
      var range = chart.z_range || [0, null];
      var diverging = range[0] !== null && range[0] < 0;
      var scale = diverging ? [[0, "#b42318"], [0.5, "#f9fafb"], [1, "#1d4ed8"]]
        : [[0, "#f5f8ff"], [0.5, "#7fa6ef"], [1, "#1d4ed8"]];
      var heat = { type: "heatmap", z: chart.z, x: chart.x_labels, y: chart.y_labels,
                   colorscale: scale, zmin: range[0], texttemplate: "%{z:.2f}", hoverongaps: false,
                   colorbar: { thickness: 12 } };
      if (range[1] !== null) heat.zmax = range[1];
      return [heat];
    }
    var palette = colours(chart.series);
    var many = chart.series.length;
    return chart.series.map(function (s, i) {
      var colour = palette[i];
      var extra = s.text ? { text: s.text, hovertemplate: "%{x}: %{y}<br>%{text}<extra>" + s.name + "</extra>" } : {};
      if (chart.kind === "bar" || chart.kind === "stacked_bar") {
        var bar = { type: "bar", name: s.name, x: s.x, y: s.y, marker: { color: colour } };
        if (chart.horizontal) bar = { type: "bar", name: s.name, x: s.y, y: s.x, orientation: "h",
                                      marker: { color: colour }, text: s.text, textposition: "auto" };
        if (chart.x_axis === "day" && !chart.horizontal) bar.width = 0.8 * DAY_MS;
        return Object.assign(bar, chart.horizontal ? {} : extra);
      }
      var trace = { type: "scatter", mode: s.x.length > 60 ? "lines" : "lines+markers",
                    name: s.name, x: s.x, y: s.y, marker: { size: 5, color: colour },
                    connectgaps: false, line: { color: colour, width: 2 } };
      if (chart.kind === "step") {
        trace.line = { shape: "hv", color: colour, dash: DASHES[i % DASHES.length],
                       width: 1.5 + 2 * (many - 1 - i) };
      }
      return Object.assign(trace, extra);
    });
  }

  // Axes from the chart's spec: day-ticked date axis, categories, fixed or log value axis.
  function shapeAxes(chart, layout) {
    var value = chart.horizontal ? layout.xaxis : layout.yaxis;
    if (chart.horizontal) {
      layout.xaxis.title.text = chart.y_title || "";
      layout.yaxis.title.text = chart.x_title || "";
      layout.yaxis.autorange = "reversed";
      layout.yaxis.type = "category";
      layout.margin.l = 150;
    }
    if (chart.value_scale === "log") value.type = "log";
    if (chart.y_range) { value.range = chart.y_range.slice(); value.autorange = false; }
    if (chart.x_range && !chart.horizontal) {
      layout.xaxis.range = chart.x_range.slice();
      layout.xaxis.autorange = false;
    }
    if (chart.x_axis === "category") layout.xaxis.type = "category";
    if (chart.x_axis === "day") dayAxis(chart, layout.xaxis);
  }

  function naive(ms) { return new Date(ms).toISOString().slice(0, 19).replace("T", " "); }

  function dayAxis(chart, axis) {
    var times = [];
    function add(x) {
      if (x !== null) times.push(Date.parse(String(x).length === 10 ? x + "T00:00:00Z" : x));
    }
    chart.series.forEach(function (s) { s.x.forEach(add); });
    (chart.events || []).forEach(function (e) { add(e.x); });  // marked events stay in view
    if (!times.length) return;
    var lo = Math.min.apply(null, times), hi = Math.max.apply(null, times);
    var days = Math.round((hi - lo) / DAY_MS) + 1;
    axis.type = "date";
    axis.tickformat = "%Y-%m-%d";
    axis.dtick = DAY_MS * Math.max(1, Math.ceil(days / 14));
    // plotly reads dates as naive: the snapshot's are UTC, so the range is written the same way
    axis.range = [naive(lo - DAY_MS / 2), naive(hi + DAY_MS / 2)];
    axis.autorange = false;
  }

  function fewTimes(series) {
    var seen = {};
    var times = series.every(function (s) {
      return s.x.every(function (x) { seen[x] = true; return typeof x === "string" && ISO.test(x); });
    });
    return times && Object.keys(seen).length < 3;
  }

  function renderChart(chart, holder) {
    var layout = baseLayout(chart);
    if (chart.kind === "stacked_bar") layout.barmode = "stack";
    if (chart.kind === "bar") layout.barmode = "group";
    if (chart.kind === "heatmap") {
      layout.yaxis.autorange = "reversed";
      layout.margin.l = 96;
      layout.legend = undefined;
    }
    if (chart.kind === "step" && chart.y_labels) {
      layout.yaxis.tickvals = chart.y_labels.map(function (_, i) { return i; });
      layout.yaxis.ticktext = chart.y_labels;
      layout.yaxis.range = [-0.3, chart.y_labels.length - 0.7];
    }
    shapeAxes(chart, layout);
    if (chart.kind !== "heatmap" && (chart.x_axis || "auto") === "auto" && fewTimes(chart.series)) {
      // one or two time points: a date axis would zoom to milliseconds; label them instead
      layout.xaxis.type = "category";
      chart.series.forEach(function (s) { s.x = s.x.map(fmt); });
    }
    if (chart.events && chart.events.length) markEvents(chart, layout);
    var single = chart.kind !== "heatmap" && chart.series.length === 1;
    layout.showlegend = !single;
    if (chart.horizontal) holder.style.height = Math.max(300, 24 * chart.series[0].x.length + 70) + "px";
    Plotly.newPlot(holder, traces(chart), layout,
                   { displayModeBar: false, responsive: true });
  }

  // Each event: a dashed vertical line across the plot and its label at the top.
  function markEvents(chart, layout) {
    var categories = layout.xaxis.type === "category";
    layout.shapes = [];
    layout.annotations = [];
    chart.events.forEach(function (e) {
      var x = categories ? fmt(e.x) : e.x;
      var colour = EVENT_COLOURS[e.kind] || "#475467";
      layout.shapes.push({ type: "line", xref: "x", yref: "paper", x0: x, x1: x, y0: 0, y1: 1,
                           line: { color: colour, width: 1.5, dash: "dash" } });
      layout.annotations.push({ x: x, xref: "x", y: 1, yref: "paper", text: e.label,
                                showarrow: false, textangle: -90, xanchor: "right",
                                yanchor: "top", font: { size: 10, color: colour } });
    });
  }

  function badgeClass(column, value) {
    if (column === "regime" || column === "next_regime") return REGIME_BADGE[value] || "info";
    return SEVERITY[String(value).toUpperCase()] || "info";
  }

  function renderTable(block) {
    var card = el("div", "table-card" + (block.filter ? " filterable" : ""));
    card.id = block.id;
    var heading = el("h3", null, block.title + " (" + block.rows.length + ")");
    card.appendChild(heading);
    var wrap = el("div", "table-wrap");
    var table = el("table");
    var head = el("tr");
    block.columns.forEach(function (c) { head.appendChild(el("th", null, c)); });
    var thead = el("thead");
    thead.appendChild(head);
    table.appendChild(thead);
    var body = el("tbody");
    var dateAt = block.filter && block.filter.date ? block.columns.indexOf(block.filter.date) : -1;
    var symbolAt = block.filter && block.filter.symbol ? block.columns.indexOf(block.filter.symbol) : -1;
    block.rows.forEach(function (row) {
      var tr = el("tr");
      if (dateAt >= 0) tr.setAttribute("data-date", row[dateAt] === null ? "" : String(row[dateAt]));
      if (symbolAt >= 0) tr.setAttribute("data-symbol", row[symbolAt] === null ? "" : String(row[symbolAt]));
      row.forEach(function (cell, i) {
        var column = block.columns[i];
        var td = el("td", typeof cell === "number" ? "num" : null);
        if (typeof cell === "string" && cell.length > 60) td.className = "wrap";
        if (BADGE_COLUMNS.indexOf(column) >= 0 && cell !== null) {
          td.appendChild(el("span", "badge " + badgeClass(column, cell), fmt(cell)));
        } else {
          td.textContent = fmt(cell);
        }
        tr.appendChild(td);
      });
      body.appendChild(tr);
    });
    table.appendChild(body);
    wrap.appendChild(table);
    card.appendChild(wrap);
    if (block.filter) FILTERED_TABLES.push({ block: block, body: body, heading: heading });
    return card;
  }

  function renderSources(sources) {
    var box = el("div", "sources");
    sources.forEach(function (s) {
      var label = s.name + (s.exists && s.rows !== null ? " · " + fmt(s.rows) + (s.rows === 1 ? " row" : " rows") : "")
        + (s.exists && s.version !== null ? " · v" + s.version : "");
      var chip = el("span", "source" + (s.exists ? "" : " missing"), label);
      chip.title = (s.exists ? "Delta table / registry read for this section" : "not found")
        + (s.table ? "\n" + s.table + (s.comment ? ": " + s.comment : "") : "")
        + (s.keys && s.keys.length ? "\nkeys: " + s.keys.join(", ") : "")
        + (s.rules && s.rules.length ? "\nrules: " + s.rules.join(", ") : "");
      box.appendChild(chip);
    });
    return box;
  }

  function renderEmpty(section) {
    var box = el("div", "empty-state");
    box.setAttribute("data-empty", section.id);
    box.appendChild(el("div", "title", "Nothing to show yet"));
    box.appendChild(el("div", null, section.empty_reason));
    if (section.hint) {
      var hint = el("div", null, "Populate it with ");
      hint.style.marginTop = "8px";
      hint.appendChild(el("code", null, section.hint));
      box.appendChild(hint);
    }
    return box;
  }

  function renderSection(section) {
    var card = el("section", "section");
    card.id = section.id;
    card.setAttribute("data-status", section.status);
    var head = el("div", "section-head");
    head.appendChild(el("h2", null, section.title));
    card.appendChild(head);
    if (section.sources.length) card.appendChild(renderSources(section.sources));
    if (section.covers && section.covers.length) {
      var covers = el("ul", "covers");
      section.covers.forEach(function (line) { covers.appendChild(el("li", null, line)); });
      card.appendChild(covers);
    }
    if (section.status === "empty") {
      card.appendChild(renderEmpty(section));
      return { node: card, charts: [] };
    }
    if (section.kpis.length) card.appendChild(renderKpis(section.kpis));
    var pending = [];
    if (section.charts.length) {
      var grid = el("div", "charts");
      section.charts.forEach(function (chart) {
        var holder = el("div", "chart-card");
        holder.appendChild(el("h3", null, chart.title));
        var plot = el("div", "chart");
        plot.id = chart.id;
        plot.setAttribute("data-kind", chart.kind);
        holder.appendChild(plot);
        grid.appendChild(holder);
        pending.push([chart, plot]);
        if (chart.filter) {
          holder.className += " filterable";
          FILTERED_CHARTS.push({ chart: JSON.parse(JSON.stringify(chart)), plot: plot });
        }
      });
      card.appendChild(grid);
    }
    section.tables.forEach(function (block) { card.appendChild(renderTable(block)); });
    if (section.notes.length) {
      var notes = el("div", "notes");
      notes.textContent = section.notes.join(" ");
      card.appendChild(notes);
    }
    return { node: card, charts: pending };
  }

  // ---- client-side filters: a date range (UTC days) and a symbol -----------------------
  // Tables and charts whose spec has a ``filter`` follow them; rows or points without a
  // date are hidden while a date range is set.
  var FILTER = { from: "", to: "", symbol: "" };
  var FILTERED_TABLES = [];
  var FILTERED_CHARTS = [];

  function keepDate(value) {
    if (!FILTER.from && !FILTER.to) return true;
    if (value === null || value === undefined || value === "") return false;
    var day = String(value).slice(0, 10);
    return (!FILTER.from || day >= FILTER.from) && (!FILTER.to || day <= FILTER.to);
  }

  function keepSymbol(value) { return !FILTER.symbol || value === FILTER.symbol; }

  function filterTable(entry) {
    var shown = 0, all = entry.body.children;
    for (var i = 0; i < all.length; i++) {
      var tr = all[i];
      var keep = (!tr.hasAttribute("data-date") || keepDate(tr.getAttribute("data-date")))
        && (!tr.hasAttribute("data-symbol") || keepSymbol(tr.getAttribute("data-symbol")));
      tr.style.display = keep ? "" : "none";
      if (keep) shown++;
    }
    var block = entry.block;
    entry.heading.textContent = block.title + " (" + (shown === all.length ? all.length
      : shown + " of " + all.length) + ")";
  }

  function filterChart(entry) {
    var chart = JSON.parse(JSON.stringify(entry.chart));
    var spec = chart.filter;
    if (spec.series_symbols && FILTER.symbol) {
      chart.series = chart.series.filter(function (s) { return s.name === FILTER.symbol; });
    }
    if (spec.x_dates) {
      chart.series.forEach(function (s) {
        var keep = s.x.map(keepDate);
        ["x", "y", "text"].forEach(function (key) {
          if (s[key]) s[key] = s[key].filter(function (_, i) { return keep[i]; });
        });
      });
    }
    if (!chart.series.length) chart.series = [{ name: "no data", x: [], y: [] }];
    renderChart(chart, entry.plot);
  }

  function applyFilters() {
    FILTERED_TABLES.forEach(filterTable);
    FILTERED_CHARTS.forEach(filterChart);
    document.body.setAttribute("data-filtered", [FILTER.from, FILTER.to, FILTER.symbol].join("|"));
  }

  function filterSymbols() {
    var seen = {};
    FILTERED_TABLES.forEach(function (e) {
      var at = e.block.filter.symbol ? e.block.columns.indexOf(e.block.filter.symbol) : -1;
      if (at >= 0) e.block.rows.forEach(function (r) { if (r[at] !== null) seen[r[at]] = true; });
    });
    FILTERED_CHARTS.forEach(function (e) {
      if (e.chart.filter.series_symbols) e.chart.series.forEach(function (s) { seen[s.name] = true; });
    });
    return Object.keys(seen).sort();
  }

  function renderFilters(root) {
    if (!FILTERED_TABLES.length && !FILTERED_CHARTS.length) return;
    var bar = el("div", "filters");
    bar.id = "filters";
    bar.appendChild(el("span", "filters-title", "Filters"));
    function input(id, label, node) {
      var wrap = el("label", null, label + " ");
      node.id = id;
      wrap.appendChild(node);
      bar.appendChild(wrap);
      return node;
    }
    var from = input("filter-from", "from", el("input")), to = input("filter-to", "to", el("input"));
    from.type = to.type = "date";
    var symbol = input("filter-symbol", "symbol", el("select"));
    symbol.appendChild(el("option", null, "all symbols")).value = "";
    filterSymbols().forEach(function (s) { symbol.appendChild(el("option", null, s)).value = s; });
    var reset = el("button", null, "reset");
    reset.type = "button";
    reset.id = "filter-reset";
    bar.appendChild(reset);
    bar.appendChild(el("span", "filters-note", "apply to the " + FILTERED_TABLES.length
      + " tables and " + FILTERED_CHARTS.length + " charts marked \u201cfiltered\u201d (dates in UTC)"));
    function update() {
      FILTER = { from: from.value, to: to.value, symbol: symbol.value };
      applyFilters();
    }
    [from, to, symbol].forEach(function (node) {
      node.addEventListener("change", update);
      node.addEventListener("input", update);
    });
    reset.addEventListener("click", function () { from.value = to.value = symbol.value = ""; update(); });
    root.insertBefore(bar, root.firstChild);
  }

  function renderNav(snapshot) {
    var nav = document.getElementById("nav");
    snapshot.sections.forEach(function (s) {
      var link = el("a");
      link.href = "#" + s.id;
      link.appendChild(el("span", "dot" + (s.status === "empty" ? " empty" : "")));
      link.appendChild(el("span", null, s.title));
      nav.appendChild(link);
    });
    var meta = document.getElementById("meta");
    [snapshot.project + " · " + snapshot.env,
     snapshot.catalog + "." + snapshot.schema,
     "generated " + fmt(snapshot.generated_at) + " UTC",
     "schema v" + snapshot.schema_version + (snapshot.git_sha ? " · " + snapshot.git_sha.slice(0, 8) : "")]
      .forEach(function (line) { meta.appendChild(el("div", null, line)); });
  }

  function main() {
    var root = document.getElementById("main");
    root.textContent = "";
    var snapshot = window.FINML_SNAPSHOT;
    if (!snapshot || !snapshot.sections) {
      root.appendChild(el("div", "banner",
        "No snapshot found: run `finml dashboard export` to write snapshot.js next to index.html."));
      return;
    }
    if (typeof Plotly === "undefined") {
      root.appendChild(el("div", "banner", "vendor/plotly.min.js is missing: re-run the export."));
      return;
    }
    renderNav(snapshot);
    var charts = [];
    snapshot.sections.forEach(function (section) {
      var out = renderSection(section);
      root.appendChild(out.node);
      charts = charts.concat(out.charts);
    });
    charts.forEach(function (pair) { renderChart(pair[0], pair[1]); });
    renderFilters(root);
    document.body.setAttribute("data-rendered", String(charts.length));
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", main);
  else main();
})();
