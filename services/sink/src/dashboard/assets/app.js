// weibostream live dashboard, on the helpers of common.js. Post text, names,
// rule ids and terms are untrusted: they are put into the page ONLY as text
// (textContent, createTextNode) or attribute values (setAttribute), never
// parsed as HTML.
"use strict";

(() => {
  const { PALETTE, CHART, el, svgEl, niceMax, legendEntry, postItem } = window.weibostream;
  const { W, H, LEFT, RIGHT, TOP, BOTTOM } = CHART;
  const MAX_POSTS = 100;
  const CHART_BATCHES = 60;

  const state = { batches: [], postsOutput: 0, batchesOutput: 0, startedAt: null };
  const color = window.weibostream.colors();

  function time(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleTimeString([], { hour12: false });
  }

  function compact(value) {
    if (value >= 1e6) return (value / 1e6).toFixed(1) + "M";
    if (value >= 1e3) return (value / 1e3).toFixed(value >= 1e4 ? 0 : 1) + "k";
    return String(Number(value.toFixed(value < 10 ? 2 : 1)));
  }

  // ---- posts ----

  function addPost(post, fresh) {
    const list = document.getElementById("posts");
    list.insertBefore(postItem(post, time(post.created_at), fresh ? "post fresh" : "post"), list.firstChild);
    while (list.children.length > MAX_POSTS) list.removeChild(list.lastChild);
  }

  // ---- charts ----

  function frame(svg, maxY, labels) {
    const plotH = H - TOP - BOTTOM;
    for (let i = 0; i <= 4; i++) {
      const y = TOP + plotH - (plotH * i) / 4;
      svg.appendChild(svgEl("line", { class: "axis", x1: LEFT, x2: W - RIGHT, y1: y, y2: y }));
      svg.appendChild(svgEl("text", { x: LEFT - 6, y: y + 4, "text-anchor": "end" }, compact((maxY * i) / 4)));
    }
    if (labels.length > 0) {
      svg.appendChild(svgEl("text", { x: LEFT, y: H - 6 }, time(labels[0])));
      svg.appendChild(svgEl("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end" }, time(labels[labels.length - 1])));
    }
  }

  function empty(svg, message) {
    svg.appendChild(svgEl("text", { class: "empty", x: W / 2, y: H / 2, "text-anchor": "middle" }, message));
    svg.setAttribute("data-points", "0");
  }

  function legend(id, series) {
    const box = document.getElementById(id);
    box.replaceChildren();
    for (const s of series) box.appendChild(legendEntry(s.name, s.color));
  }

  // series: [{name, color, values: [number|null], dashed}]
  function lineChart(id, labels, series, emptyMessage) {
    const svg = document.getElementById(id);
    svg.replaceChildren();
    const values = series.flatMap((s) => s.values.filter((v) => typeof v === "number"));
    legend("legend-" + id.replace("chart-", ""), series);
    if (values.length === 0) return empty(svg, emptyMessage);
    const maxY = niceMax(Math.max(...values));
    frame(svg, maxY, labels);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const x = (i) => LEFT + (labels.length === 1 ? plotW / 2 : (plotW * i) / (labels.length - 1));
    const y = (v) => TOP + plotH - (plotH * v) / maxY;
    let points = 0;
    for (const s of series) {
      let d = "", pen = "M";
      s.values.forEach((v, i) => {
        if (typeof v !== "number") { pen = "M"; return; }
        d += pen + x(i).toFixed(1) + " " + y(v).toFixed(1) + " ";
        pen = "L";
        points++;
      });
      if (!d) continue;
      const attrs = { class: s.dashed ? "series dashed" : "series", d: d.trim(), stroke: s.color };
      svg.appendChild(svgEl("path", attrs));
      if (labels.length === 1) {
        svg.appendChild(svgEl("circle", { cx: x(0), cy: y(s.values[0] || 0), r: 3, fill: s.color }));
      }
    }
    svg.setAttribute("data-points", String(points));
  }

  function barChart(id, labels, series, emptyMessage) {
    const svg = document.getElementById(id);
    svg.replaceChildren();
    legend("legend-" + id.replace("chart-", ""), series);
    const totals = labels.map((_, i) => series.reduce((sum, s) => sum + (s.values[i] || 0), 0));
    if (labels.length === 0 || series.length === 0) return empty(svg, emptyMessage);
    const maxY = niceMax(Math.max(...totals, 1));
    frame(svg, maxY, labels);
    const plotW = W - LEFT - RIGHT, plotH = H - TOP - BOTTOM;
    const step = plotW / labels.length, width = Math.max(1, step * 0.8);
    let bars = 0;
    labels.forEach((label, i) => {
      let base = 0;
      for (const s of series) {
        const v = s.values[i] || 0;
        if (v <= 0) continue;
        const h = (plotH * v) / maxY;
        const rect = svgEl("rect", {
          class: "bar", x: (LEFT + step * i + (step - width) / 2).toFixed(1),
          y: (TOP + plotH - base - h).toFixed(1), width: width.toFixed(1), height: h.toFixed(1), fill: s.color,
        });
        rect.appendChild(svgEl("title", {}, s.name + ": " + v + " at " + time(label)));
        svg.appendChild(rect);
        base += h;
        bars++;
      }
    });
    svg.setAttribute("data-points", String(bars));
  }

  function names(batches, pick) {
    const set = new Set();
    for (const b of batches) for (const n of pick(b)) set.add(n);
    return [...set].sort();
  }

  function replicaValue(batch, replica, field) {
    const r = batch.replicas.find((x) => x.replica === replica);
    return r && typeof r[field] === "number" ? r[field] : null;
  }

  function drawCharts() {
    const batches = state.batches.slice(-CHART_BATCHES);
    const labels = batches.map((b) => b.batch_time);
    const rules = names(batches, (b) => Object.keys(b.matched_per_rule));
    barChart("chart-matches", labels, rules.map((rule) => ({
      name: rule, color: color("rule:" + rule), values: batches.map((b) => b.matched_per_rule[rule] || 0),
    })), "waiting for batches…");
    lineChart("chart-rate", labels, [{
      name: "posts/s", color: PALETTE[0], values: batches.map((b) => b.posts_per_s),
    }], "waiting for batches…");
    const replicas = names(batches, (b) => b.replicas.map((r) => r.replica));
    const processing = replicas.map((replica) => ({
      name: replica, color: color("replica:" + replica),
      values: batches.map((b) => replicaValue(b, replica, "processing_ms")),
    }));
    processing.push({ name: "interval", color: "#8b96a5", dashed: true, values: batches.map((b) => b.interval_ms) });
    lineChart("chart-processing", labels, processing, "waiting for batches…");
    lineChart("chart-lag", labels, replicas.map((replica) => ({
      name: replica, color: color("replica:" + replica),
      values: batches.map((b) => replicaValue(b, replica, "lag")),
    })).filter((s) => s.values.some((v) => v !== null)), "no lag reported by the filters yet");
  }

  // ---- summaries ----

  function drawLastBatch() {
    const batch = state.batches[state.batches.length - 1];
    const line = document.getElementById("last-batch");
    const terms = document.getElementById("terms");
    if (!batch) return;
    const covered = new Set(batch.replicas.flatMap((r) => r.partitions)).size;
    const slowest = Math.max(0, ...batch.replicas.map((r) => r.processing_ms));
    let text = time(batch.batch_time) + " — " + batch.posts_in + " posts in (" + compact(batch.posts_per_s) +
      "/s), " + batch.matched + " matched · " + batch.replicas.length + " replicas, " + covered + "/" +
      batch.partition_count + " partitions · slowest " + Math.round(slowest) + " ms of " + batch.interval_ms + " ms";
    if (batch.completion === "grace") text += " · partitions " + batch.missing_partitions.join(", ") + " late";
    if (batch.dead_lettered > 0) text += " · " + batch.dead_lettered + " dead-lettered";
    line.textContent = text;
    line.className = slowest > batch.interval_ms ? "label" : "";
    terms.replaceChildren();
    if (batch.top_terms.length === 0) terms.appendChild(el("li", "muted", "none reported"));
    for (const t of batch.top_terms) terms.appendChild(el("li", null, t.term + " (" + t.score.toFixed(1) + ")"));
  }

  function drawTotals() {
    const since = state.startedAt ? " · since " + time(state.startedAt) : "";
    document.getElementById("totals").textContent =
      state.postsOutput + " posts output · " + state.batchesOutput + " batches" + since;
  }

  function addBatch(batch) {
    state.batches.push(batch);
    if (state.batches.length > CHART_BATCHES * 2) state.batches.splice(0, state.batches.length - CHART_BATCHES * 2);
    state.batchesOutput++;
    state.postsOutput += batch.matched;
    drawCharts();
    drawLastBatch();
    drawTotals();
  }

  function reset(snapshot) {
    state.batches = snapshot.batches.slice();
    state.postsOutput = snapshot.posts_output;
    state.batchesOutput = snapshot.batches_output;
    state.startedAt = snapshot.started_at;
    document.getElementById("posts").replaceChildren();
    for (const post of snapshot.posts) addPost(post, false);
    drawCharts();
    drawLastBatch();
    drawTotals();
  }

  // ---- live updates ----

  function setConnection(stateName) {
    const node = document.getElementById("connection");
    node.setAttribute("data-state", stateName);
    node.textContent = { open: "live", connecting: "reconnecting", closed: "disconnected" }[stateName];
  }

  function connect() {
    const source = new EventSource("/events");
    source.addEventListener("open", () => setConnection("open"));
    source.addEventListener("snapshot", (e) => reset(JSON.parse(e.data)));
    source.addEventListener("post", (e) => addPost(JSON.parse(e.data), true));
    source.addEventListener("batch", (e) => addBatch(JSON.parse(e.data)));
    source.addEventListener("error", () => {
      if (source.readyState === EventSource.CLOSED) {
        setConnection("closed");
        setTimeout(connect, 5000);
      } else {
        setConnection("connecting");
      }
    });
  }

  document.addEventListener("DOMContentLoaded", () => {
    drawCharts();
    connect();
  });
})();
