/* aftershock report: the interactive parts. Every user string goes into the page with textContent
   (never innerHTML), into the graph canvas as a label, or into plotly escaped by plotText(). */
(function () {
  "use strict";
  var data = JSON.parse(document.getElementById("aftershock-data").textContent);
  var DOWN = "#d62728", DEGRADED = "#f0a202";
  var KIND_COLOURS = {
    service: "#dbe7ff", "function": "#dbe7ff", job: "#dbe7ff", endpoint: "#dbe7ff",
    datastore: "#e9dcff", cache: "#e9dcff", queue: "#f3e0ff",
    dns_record: "#d4f4ef", load_balancer: "#dff3e4", cdn: "#dff3e4", network: "#dff3e4",
    saas: "#fde8d3", external: "#fde8d3",
    provider_service: "#e5e7eb", provider: "#d1d5db", region: "#cbd2dc", zone: "#d6dbe3",
    group: "#ffffff", team: "#fff9db"
  };

  function el(tag, text, cls) {
    var e = document.createElement(tag);
    if (text !== undefined && text !== null) e.textContent = String(text);
    if (cls) e.className = cls;
    return e;
  }
  function money(v) {
    if (typeof v !== "number" || !isFinite(v)) return "-";
    return "$" + Math.round(v).toLocaleString("en-US");
  }
  function short(v) {
    if (v >= 1e6) return "$" + (v / 1e6).toFixed(v >= 1e7 ? 0 : 1) + "M";
    if (v >= 1e3) return "$" + (v / 1e3).toFixed(0) + "k";
    return "$" + Math.round(v);
  }
  // Plotly renders a few HTML-like tags in its text; escape so names are only ever text.
  function plotText(s) {
    return String(s).replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;");
  }
  function timeText(seconds) {
    var s = Math.round(seconds), sign = s < 0 ? "-" : "+";
    s = Math.abs(s);
    var h = Math.floor(s / 3600), m = Math.floor((s % 3600) / 60), r = s % 60;
    return "T" + sign + (h ? h + " h " + String(m).padStart(2, "0") + " min" : m + " min " + String(r).padStart(2, "0") + " s");
  }

  // ---- simulated / recorded windows ------------------------------------------------------------
  var sims = data.results.filter(function (r) { return (r.kind === "simulation" || r.kind === "replay") && r.data.windows; });
  var sim = sims.length ? sims[0].data : null;
  function toSeconds(v, origin) {
    if (typeof v === "number") return v;
    var t = Date.parse(v);
    return isNaN(t) ? null : (t - origin) / 1000;
  }
  var timeOrigin = 0, usesDates = false;
  function collectWindows(windows) {
    var out = [];
    if (!windows) return out;
    Object.keys(windows).forEach(function (name) {
      (windows[name] || []).forEach(function (w) {
        var s = toSeconds(w.start, timeOrigin), e = toSeconds(w.end, timeOrigin);
        if (s === null) return;
        if (e === null) e = s;
        out.push({ name: name, state: w.state === "degraded" ? "degraded" : "down", start: s, end: e,
                   from: w.start_time || null, to: w.end_time || null, open: !!w.open });
      });
    });
    return out;
  }
  if (sim) {
    var firstValue = null;
    Object.keys(sim.windows).some(function (k) { var w = (sim.windows[k] || [])[0]; if (w) { firstValue = w.start; return true; } return false; });
    if (typeof firstValue === "string" && !isNaN(Date.parse(firstValue))) { usesDates = true; }
    if (usesDates) {
      var starts = [];
      [sim.windows, sim.recorded || {}].forEach(function (ws) { Object.keys(ws).forEach(function (k) { (ws[k] || []).forEach(function (w) { var t = Date.parse(w.start); if (!isNaN(t)) starts.push(t); }); }); });
      timeOrigin = Math.min.apply(null, starts);
    }
  }
  var simulated = sim ? collectWindows(sim.windows) : [];
  var clockListeners = [], currentClock = null;  // the Gantt follows the graph's clock
  var recorded = sim && sim.recorded ? collectWindows(sim.recorded) : [];

  function statesAt(windows, t) {
    var states = {};
    windows.forEach(function (w) {
      if (w.start <= t && t < w.end) {
        if (w.state === "down" || !states[w.name]) states[w.name] = w.state;
      }
    });
    return states;
  }

  // ---- the graph -------------------------------------------------------------------------------
  var g = data.graph;
  if (g && document.getElementById("cy")) { initGraph(); }

  function initGraph() {
    var nodes = g.nodes, byName = {};
    nodes.forEach(function (n) { byName[n.name] = n; });
    var spofOfSomeTarget = {};
    nodes.forEach(function (n) { if (n.target && n.spofs) n.spofs.forEach(function (i) { spofOfSomeTarget[i] = true; }); });
    var elements = nodes.map(function (n) {
      var label = n.name + (n.target && n.revenue_per_hour ? "\n" + short(n.revenue_per_hour) + "/h" : "");
      var classes = ["k-" + n.kind];
      if (n.target) classes.push("target");
      if (spofOfSomeTarget[n.id]) classes.push("spof");
      var lines = label.split("\n"), longest = Math.max.apply(null, lines.map(function (l) { return l.length; }));
      var size = { w: Math.max(36, 6.4 * longest + 16), h: 14 * lines.length + 12 };
      return { group: "nodes", data: { id: "n" + n.id, idx: n.id, label: label, w: size.w, h: size.h, colour: KIND_COLOURS[n.kind] || "#eef0f4" }, classes: classes.join(" ") };
    });
    g.edges.forEach(function (e, k) {
      elements.push({ group: "edges", data: { id: "e" + k, source: "n" + e[0], target: "n" + e[1] }, classes: e[2] });
    });
    if (typeof cytoscapeDagre !== "undefined") cytoscape.use(cytoscapeDagre);
    // A large model is shown in focus: the components around the business targets, then around
    // whatever is clicked or searched. Every component stays in the graph, hidden or not.
    var FOCUS_LIMIT = 250, CORE_LIMIT = 80;
    var focusMode = nodes.length > 150;
    var layoutFor = function (count) {
      return count <= 400 && typeof cytoscapeDagre !== "undefined"
        ? { name: "dagre", rankDir: "TB", nodeSep: 18, rankSep: 46, edgeSep: 8, fit: true, padding: 20 }
        : { name: "breadthfirst", directed: true, spacingFactor: 0.9, fit: true };
    };
    var layout = focusMode ? { name: "null" } : layoutFor(nodes.length);
    var cy = cytoscape({
      container: document.getElementById("cy"),
      elements: elements,
      layout: layout,
      minZoom: 0.05, maxZoom: 4,
      style: [
        { selector: "node", style: {
          "shape": "round-rectangle", "label": "data(label)", "text-wrap": "wrap", "text-valign": "center",
          "text-halign": "center", "font-size": 11, "width": "data(w)", "height": "data(h)",
          "background-color": "data(colour)", "border-width": 1, "border-color": "#8a94a6", "color": "#1d2330" } },
        { selector: "node.k-dns_record", style: { "shape": "tag" } },
        { selector: "node.k-region, node.k-zone, node.k-provider", style: { "shape": "rectangle", "font-weight": "bold" } },
        { selector: "node.k-datastore, node.k-cache", style: { "shape": "barrel" } },
        { selector: "node.k-group", style: { "shape": "ellipse", "border-style": "dashed" } },
        { selector: "node.spof", style: { "border-color": "#d62728", "border-style": "dashed", "border-width": 2 } },
        { selector: "node.target", style: { "border-width": 3, "border-color": "#111827", "border-style": "solid", "font-weight": "bold" } },
        { selector: "edge", style: { "width": 1.4, "line-color": "#98a2b3", "target-arrow-color": "#98a2b3",
          "target-arrow-shape": "triangle", "curve-style": "bezier", "arrow-scale": 0.8 } },
        { selector: "edge.uses", style: { "line-style": "dashed" } },
        { selector: "edge.resolves", style: { "line-style": "dashed", "line-dash-pattern": [2, 3], "line-color": "#0e9384", "target-arrow-color": "#0e9384", "target-arrow-shape": "diamond" } },
        { selector: "edge.member", style: { "line-style": "dotted", "line-color": "#2e90fa", "target-arrow-color": "#2e90fa" } },
        { selector: "node.st-down", style: { "background-color": DOWN, "color": "#fff" } },
        { selector: "node.st-degraded", style: { "background-color": DEGRADED } },
        { selector: ".faded", style: { "opacity": 0.22 } },
        { selector: "node.picked", style: { "border-width": 5, "border-color": "#2f5fd0", "border-style": "double" } },
        { selector: "edge.hot", style: { "line-color": DOWN, "target-arrow-color": DOWN, "width": 2.4 } },
        { selector: ".hidden", style: { "display": "none" } }
      ]
    });
    window.aftershockGraph = cy;  // for the browser test and the curious
    var datalist = document.getElementById("names");
    nodes.forEach(function (n) { var o = document.createElement("option"); o.value = n.name; datalist.appendChild(o); });

    var picked = null, clockSeconds = null;
    var focusNote = document.getElementById("focus-note");

    function showOnly(ids) {
      var keep = {};
      ids.forEach(function (i) { keep[i] = true; });
      cy.batch(function () {
        cy.nodes().forEach(function (n) {
          if (keep[n.data("idx")]) n.removeClass("hidden"); else n.addClass("hidden");
        });
      });
      var shown = cy.nodes().not(".hidden");
      var visible = shown.union(shown.edgesWith(shown));
      visible.layout(layoutFor(shown.length)).run();
      if (focusNote) {
        focusNote.textContent = "Large model: showing " + visible.nodes().length + " of " + nodes.length +
          " components. Click or search a component to show what its failure takes down and its single points of failure.";
      }
    }

    function coreSet() {
      var ids = [], seen = {};
      function add(i) { if (!seen[i] && ids.length < CORE_LIMIT) { seen[i] = true; ids.push(i); } }
      simulated.forEach(function (w) { if (byName[w.name]) add(byName[w.name].id); });
      nodes.filter(function (n) { return n.target; })
        .sort(function (a, b) { return b.revenue_per_hour - a.revenue_per_hour; })
        .forEach(function (n) { add(n.id); (n.spofs || []).forEach(add); });
      return ids;
    }

    function neighbourhood(i) {
      var n = nodes[i], ids = [i];
      if (n.blast) ids = ids.concat(n.blast.down, n.blast.degraded);
      ids = ids.concat(n.spofs || []);
      cy.getElementById("n" + i).connectedEdges().forEach(function (e) {
        ids.push(e.source().data("idx"), e.target().data("idx"));
      });
      return ids.slice(0, FOCUS_LIMIT);
    }
    if (focusMode) {
      showOnly(coreSet());
      var showAll = document.getElementById("show-all");
      if (showAll) {
        showAll.hidden = false;
        showAll.addEventListener("click", function () { showOnly(nodes.map(function (n) { return n.id; })); });
      }
    }
    var colourBy = document.getElementById("colour-by");

    function paintStates() {
      cy.nodes().removeClass("st-down st-degraded");
      if (!simulated.length || (colourBy && colourBy.value !== "state") || clockSeconds === null) return;
      var states = statesAt(simulated, clockSeconds);
      Object.keys(states).forEach(function (name) {
        var n = byName[name];
        if (n) cy.getElementById("n" + n.id).addClass(states[name] === "down" ? "st-down" : "st-degraded");
      });
    }

    function clearPick() {
      picked = null;
      cy.elements().removeClass("faded picked hot st-down st-degraded");
      paintStates();
      var panel = document.getElementById("panel");
      panel.replaceChildren(el("p", "Click a component.", "note"));
    }

    function nameList(ids, limit) {
      var ul = el("ul");
      ids.slice(0, limit || 60).forEach(function (i) {
        var li = el("li"), b = el("button", nodes[i].name);
        b.type = "button";
        b.addEventListener("click", function () { pick(i, true); });
        li.appendChild(b); ul.appendChild(li);
      });
      if (ids.length > (limit || 60)) ul.appendChild(el("li", "… " + (ids.length - (limit || 60)) + " more"));
      return ul;
    }

    // Paint a blast radius `b` ({down, degraded, revenue_per_hour_at_risk}, node indices) of the
    // failed nodes `failed` on the graph, and describe it in `panel` under `title`.
    function showBlast(b, failed, title, panel) {
      panel.appendChild(el("h4", title));
      var big = el("div", money(b.revenue_per_hour_at_risk) + " per hour at risk", "big");
      big.setAttribute("data-field", "blast-revenue");
      panel.appendChild(big);
      var cnt = el("div", b.down.length + " down (" + (failed.length > 1 ? "themselves" : "itself") + " included), " + b.degraded.length + " degraded");
      cnt.setAttribute("data-field", "blast-count");
      cnt.setAttribute("data-down", String(b.down.length));
      cnt.setAttribute("data-degraded", String(b.degraded.length));
      panel.appendChild(cnt);
      var hitTargets = b.down.filter(function (j) { return nodes[j].target; });
      if (hitTargets.length) {
        var tdiv = el("div", "Business targets down: " + hitTargets.map(function (j) { return nodes[j].name; }).join(", "));
        tdiv.setAttribute("data-field", "targets-down");
        tdiv.style.fontWeight = "600";
        panel.appendChild(tdiv);
      }
      var others = b.down.filter(function (j) { return failed.indexOf(j) < 0; });
      if (others.length) { panel.appendChild(el("div", "Takes down:")); panel.appendChild(nameList(others)); }
      if (b.degraded.length) { panel.appendChild(el("div", "Degrades:")); panel.appendChild(nameList(b.degraded)); }
      var inBlast = {};
      b.down.forEach(function (j) { inBlast[j] = "down"; });
      b.degraded.forEach(function (j) { inBlast[j] = "degraded"; });
      cy.nodes().forEach(function (node) {
        var s = inBlast[node.data("idx")];
        if (s === "down") node.addClass("st-down");
        else if (s === "degraded") node.addClass("st-degraded");
        else node.addClass("faded");
      });
      cy.edges().forEach(function (e) {
        var s = inBlast[e.source().data("idx")], t = inBlast[e.target().data("idx")];
        if (s && t) e.addClass("hot"); else e.addClass("faded");
      });
    }

    function pick(i, centre) {
      var n = nodes[i];
      picked = i;
      if (focusMode) showOnly(neighbourhood(i));
      cy.elements().removeClass("faded picked hot st-down st-degraded");
      var panel = document.getElementById("panel");
      panel.replaceChildren();
      panel.appendChild(el("h3", n.name));
      panel.appendChild(el("div", n.kind + (n.region ? " · " + n.region : "") + (n.provider ? " · " + n.provider : ""), "kind"));
      if (n.description) panel.appendChild(el("p", n.description));
      var facts = el("table");
      function fact(k, v) { var tr = el("tr"); tr.appendChild(el("th", k)); tr.appendChild(el("td", v)); facts.appendChild(tr); }
      fact("revenue per hour", money(n.revenue_per_hour));
      if (n.cost_per_hour) fact("cost per hour down", money(n.cost_per_hour));
      if (n.degraded_loss) fact("share lost when degraded", Math.round(n.degraded_loss * 100) + "%");
      fact("can fail by itself", n.can_fail ? (typeof n.unavailability === "number" ? "yes, unavailability " + n.unavailability.toPrecision(3) : "yes (no failure data)") : "no");
      Object.keys(n.tags || {}).forEach(function (k) { fact("tag " + k, n.tags[k]); });
      panel.appendChild(facts);
      if (n.blast) showBlast(n.blast, [i], "If it fails alone", panel);
      if (n.spofs) {
        var h = el("h4", "Its single points of failure (" + n.spofs.length + ")");
        h.setAttribute("data-field", "spof-count");
        panel.appendChild(h);
        panel.appendChild(n.spofs.length ? nameList(n.spofs) : el("p", "none: no one failure takes it down"));
      }
      var node = cy.getElementById("n" + i);
      node.addClass("picked").removeClass("faded");
      if (centre) cy.animate({ center: { eles: node }, duration: 250 });
    }

    cy.on("tap", "node", function (evt) { pick(evt.target.data("idx"), false); });
    cy.on("tap", function (evt) { if (evt.target === cy) clearPick(); });
    document.getElementById("fit").addEventListener("click", function () { cy.fit(undefined, 20); });
    document.getElementById("clear").addEventListener("click", clearPick);
    var search = document.getElementById("search");
    function runSearch() {
      var q = search.value.trim().toLowerCase();
      if (!q) return;
      var exact = byName[search.value.trim()];
      var hit = exact || nodes.find(function (n) { return n.name.toLowerCase().indexOf(q) >= 0; });
      if (hit) pick(hit.id, true);
    }
    search.addEventListener("change", runSearch);
    search.addEventListener("keydown", function (e) { if (e.key === "Enter") runSearch(); });

    // A `blast` report opens on the failure it was asked about.
    var blasts = data.results.filter(function (r) { return r.kind === "blast" && r.data.failed; });
    if (blasts.length) {
      var br = blasts[0].data, failedIds = br.failed.filter(function (f) { return byName[f]; }).map(function (f) { return byName[f].id; });
      if (failedIds.length === 1) pick(failedIds[0], true);
      else if (failedIds.length > 1) {
        var ids = function (names) { return (names || []).filter(function (f) { return byName[f]; }).map(function (f) { return byName[f].id; }); };
        if (focusMode) showOnly(ids(br.down).concat(ids(br.degraded)));
        cy.elements().removeClass("faded picked hot st-down st-degraded");
        var bpanel = document.getElementById("panel");
        bpanel.replaceChildren();
        bpanel.appendChild(el("h3", br.failed.join(", ")));
        showBlast({ down: ids(br.down), degraded: ids(br.degraded), revenue_per_hour_at_risk: br.revenue_per_hour_at_risk },
                  failedIds, "If they fail together", bpanel);
        failedIds.forEach(function (f) { cy.getElementById("n" + f).addClass("picked").removeClass("faded"); });
        picked = failedIds[0];
      }
    }

    // The clock: node colours follow the simulated windows.
    var slider = document.getElementById("clock-slider");
    if (slider && simulated.length) {
      var t0 = Math.min.apply(null, simulated.map(function (w) { return w.start; }));
      var t1 = Math.max.apply(null, simulated.map(function (w) { return w.end; }));
      var span = Math.max(t1 - t0, 1);
      var clock = document.getElementById("clock");
      var setClock = function (pos) {
        clockSeconds = t0 + span * pos / 1000;
        var states = statesAt(simulated, clockSeconds), down = 0, deg = 0;
        Object.keys(states).forEach(function (k) { if (states[k] === "down") down++; else deg++; });
        clock.textContent = (usesDates ? new Date(timeOrigin + clockSeconds * 1000).toISOString().replace(".000Z", "Z") : timeText(clockSeconds)) + ": " + down + " down, " + deg + " degraded";
        if (picked === null) paintStates();
        currentClock = clockSeconds;
        clockListeners.forEach(function (f) { f(clockSeconds); });
      };
      // Start at the worst moment: the most components down.
      var best = 0, bestDown = -1;
      for (var p = 0; p <= 1000; p += 5) {
        var st = statesAt(simulated, t0 + span * p / 1000), d = 0;
        Object.keys(st).forEach(function (k) { if (st[k] === "down") d++; });
        if (d > bestDown) { bestDown = d; best = p; }
      }
      slider.value = String(best);
      setClock(best);
      slider.addEventListener("input", function () { setClock(Number(slider.value)); });
      if (colourBy) colourBy.addEventListener("change", function () { if (picked === null) paintStates(); });
      var timer = null, play = document.getElementById("play");
      play.addEventListener("click", function () {
        if (timer) { clearInterval(timer); timer = null; play.textContent = "▶ play"; return; }
        if (Number(slider.value) >= 1000) slider.value = "0";
        play.textContent = "❚❚ pause";
        timer = setInterval(function () {
          var v = Math.min(1000, Number(slider.value) + 4);
          slider.value = String(v); setClock(v);
          if (v >= 1000) { clearInterval(timer); timer = null; play.textContent = "▶ play"; }
        }, 40);
      });
    }
  }

  // ---- cascade timeline (Gantt) and time series ---------------------------------------------------
  var plotConfig = { displaylogo: false, responsive: true, showLink: false, showSendToCloud: false,
                     modeBarButtonsToRemove: ["sendDataToCloud", "lasso2d", "select2d"] };

  if (sim && document.getElementById("gantt") && typeof Plotly !== "undefined") {
    var all = simulated.concat(recorded);
    var firstStart = {};
    all.forEach(function (w) { if (!(w.name in firstStart) || w.start < firstStart[w.name]) firstStart[w.name] = w.start; });
    var order = Object.keys(firstStart).sort(function (a, b) { return firstStart[a] - firstStart[b] || (a < b ? -1 : 1); });
    var minutes = !usesDates;
    function bars(windows, state, source) {
      var ws = windows.filter(function (w) { return w.state === state; });
      var x = ws.map(function (w) { return usesDates ? (w.end - w.start) * 1000 : (w.end - w.start) / 60; });
      var base = ws.map(function (w) { return usesDates ? new Date(timeOrigin + w.start * 1000).toISOString() : w.start / 60; });
      return {
        type: "bar", orientation: "h", name: source + " " + state,
        y: ws.map(function (w) { return plotText(w.name); }), x: x, base: base,
        marker: { color: state === "down" ? DOWN : DEGRADED, opacity: source === "recorded" ? 0.7 : 0.95,
                  pattern: source === "recorded" ? { shape: "/", bgcolor: state === "down" ? DOWN : DEGRADED, fgcolor: "#1d2330", fgopacity: 0.6, size: 6, solidity: 0.3 } : undefined,
                  line: { color: source === "recorded" ? "#1d2330" : "rgba(0,0,0,0)", width: source === "recorded" ? 1 : 0 } },
        offsetgroup: recorded.length ? source : undefined,
        hovertext: ws.map(function (w) { return plotText(w.name) + ": " + state + " (" + source + ") " + (w.from ? plotText(w.from) + " to " + plotText(w.to) : timeText(w.start) + " to " + timeText(w.end)) + (w.open ? " (still open at the end)" : ""); }),
        hoverinfo: "text"
      };
    }
    var traces = [bars(simulated, "down", "simulated"), bars(simulated, "degraded", "simulated")];
    if (recorded.length) traces.push(bars(recorded, "down", "recorded"), bars(recorded, "degraded", "recorded"));
    traces = traces.filter(function (t) { return t.x.length; });
    Plotly.newPlot("gantt", traces, {
      barmode: "overlay", height: Math.max(260, 26 * order.length + 90),
      margin: { l: 170, r: 20, t: 30, b: 50 },
      xaxis: minutes ? { title: { text: "minutes since the start" }, zeroline: false } : { type: "date" },
      yaxis: { categoryorder: "array", categoryarray: order.map(plotText), autorange: "reversed" },
      legend: { orientation: "h", y: 1.08 }
    }, plotConfig);
    var markClock = function (seconds) {
      var x = usesDates ? new Date(timeOrigin + seconds * 1000).toISOString() : seconds / 60;
      Plotly.relayout("gantt", { shapes: [{ type: "line", x0: x, x1: x, yref: "paper", y0: 0, y1: 1,
                                             line: { color: "#2f5fd0", width: 2, dash: "dot" } }] });
    };
    clockListeners.push(markClock);
    if (currentClock !== null) markClock(currentClock);

    var series = sim.series, MAX_LINES = 10, constant = [];
    var seriesBox = document.getElementById("series");
    if (series && typeof series === "object" && seriesBox) {
      var timeKey = ["t_s", "time_s", "t", "time"].find(function (k) { return Array.isArray(series[k]); });
      var tx = timeKey ? series[timeKey].map(function (v) { return typeof v === "number" ? v / 60 : v; }) : null;
      Object.keys(series).forEach(function (key) {
        if (key === timeKey) return;
        var value = series[key], lines = [];
        if (Array.isArray(value)) lines.push({ name: key, y: value });
        else if (value && typeof value === "object") {
          // Impaired components first (in order of first failure), at most MAX_LINES per plot.
          var names = Object.keys(value).filter(function (n) { return Array.isArray(value[n]); });
          names.sort(function (a, b) {
            var fa = a in firstStart ? firstStart[a] : Infinity, fb = b in firstStart ? firstStart[b] : Infinity;
            return fa - fb || (a < b ? -1 : 1);
          });
          names.slice(0, MAX_LINES).forEach(function (n) { lines.push({ name: n, y: value[n] }); });
        }
        if (!lines.length) return;
        var flat = lines.every(function (l) { return l.y.every(function (v) { return v === l.y[0]; }); });
        if (flat) { constant.push(key); return; }
        var div = el("div", null, "chart");
        seriesBox.appendChild(div);
        Plotly.newPlot(div, lines.map(function (l) {
          return { type: "scatter", mode: "lines", name: plotText(l.name), x: tx || l.y.map(function (_, i) { return i; }), y: l.y };
        }), { title: { text: plotText(key) }, height: 280, margin: { l: 60, r: 20, t: 40, b: 40 },
              xaxis: { title: { text: tx ? "minutes since the start" : "step" } } }, plotConfig);
      });
      if (constant.length) seriesBox.appendChild(el("p", "Constant over the whole run, not plotted: " + constant.join(", ") + ".", "note"));
    }
  }

  // ---- loss distributions ------------------------------------------------------------------------
  var risks = data.results.filter(function (r) { return r.kind === "risk"; });
  document.querySelectorAll(".loss-chart").forEach(function (div) {
    var risk = risks[Number(div.getAttribute("data-index"))];
    if (!risk || typeof Plotly === "undefined") return;
    var hist = [], exceed = [], logHistogram = false;
    var targets = risk.data.targets || {};
    Object.keys(targets).forEach(function (name) {
      var loss = targets[name] && targets[name].loss;
      if (!loss || typeof loss !== "object") return;
      if (loss.histogram && Array.isArray(loss.histogram.counts) && Array.isArray(loss.histogram.edges)) {
        var edges = loss.histogram.edges;
        hist.push({ type: "bar", name: plotText(name), x: edges.slice(0, -1).map(function (e, i) { return (e + edges[i + 1]) / 2; }), y: loss.histogram.counts, opacity: 0.7 });
      }
      if (loss.exceedance && Array.isArray(loss.exceedance.loss)) {
        exceed.push({ type: "scatter", mode: "lines", name: plotText(name), x: loss.exceedance.loss, y: loss.exceedance.probability });
      } else if (Array.isArray(loss.samples)) {
        var xs = loss.samples.slice().sort(function (a, b) { return a - b; });
        exceed.push({ type: "scatter", mode: "lines", name: plotText(name), x: xs, y: xs.map(function (_, i) { return 1 - i / xs.length; }) });
      } else {
        var qs = [["p50", 0.5], ["p90", 0.9], ["p95", 0.95], ["p99", 0.99]].filter(function (q) { return typeof loss[q[0]] === "number"; });
        if (qs.length) exceed.push({ type: "scatter", mode: "lines+markers", name: plotText(name) + " (from its quantiles)",
          x: qs.map(function (q) { return loss[q[0]]; }), y: qs.map(function (q) { return 1 - q[1]; }) });
      }
    });
    // Whole-model results: a log-binned histogram and the exceedance curve of the total loss.
    var total = risk.data.loss_histogram;
    if (total && Array.isArray(total.counts) && Array.isArray(total.edges)) {
      var e = total.edges;
      hist.push({ type: "bar", name: "all targets", x: e.slice(0, -1).map(function (v, i) { return Math.sqrt(Math.max(v, 1e-9) * e[i + 1]); }),
                  width: e.slice(0, -1).map(function (v, i) { return e[i + 1] - v; }), y: total.counts, marker: { color: "#2f5fd0" } });
      logHistogram = true;
    }
    if (Array.isArray(risk.data.loss_exceedance) && risk.data.loss_exceedance.length) {
      exceed.push({ type: "scatter", mode: "lines", name: "all targets", line: { color: "#2f5fd0", width: 3 },
                    x: risk.data.loss_exceedance.map(function (p) { return p.value; }),
                    y: risk.data.loss_exceedance.map(function (p) { return p.probability; }) });
    }
    var layout = { height: 320, margin: { l: 70, r: 20, t: 40, b: 50 }, barmode: "overlay", xaxis: { title: { text: "loss ($)" } } };
    if (hist.length) {
      var h = el("div", null, "chart"); div.appendChild(h);
      var zero = total && typeof total.zero === "number" ? " (" + total.zero + " years without loss not shown)" : "";
      Plotly.newPlot(h, hist, Object.assign({}, layout, { title: { text: "Annual loss: simulated years per bin" + zero },
        xaxis: { title: { text: "loss in a year ($)" }, type: logHistogram ? "log" : "linear" }, yaxis: { title: { text: "years" } } }), plotConfig);
    }
    if (exceed.length) {
      var x = el("div", null, "chart"); div.appendChild(x);
      Plotly.newPlot(x, exceed, Object.assign({}, layout, { title: { text: "Loss exceedance: the chance a year's loss is larger than x" },
        xaxis: { title: { text: "loss in a year ($)" }, type: "log" },
        yaxis: { title: { text: "probability of exceeding" }, type: "log" } }), plotConfig);
    }
  });
})();
