// weibostream history view, on the helpers of common.js: counts per rule
// over a range, search over the stored posts, CSV export, alerts that
// fired. Post text, names and rule
// ids are untrusted: they go into the page ONLY as text (textContent,
// createTextNode) or attribute values, never parsed as HTML; in the CSV,
// cells that a spreadsheet would read as a formula are neutralized.
"use strict";

(() => {
  const { CHART, el, svgEl, niceMax, legendEntry, postItem } = window.weibostream;
  const { W, H, LEFT, RIGHT, TOP, BOTTOM } = CHART;
  const PAGE = 100;

  const state = { posts: [], cursor: null, counts: null, loading: 0 };
  const color = window.weibostream.colors();
  const $ = (id) => document.getElementById(id);

  function when(iso) {
    const date = new Date(iso);
    return isNaN(date) ? "" : date.toLocaleString([], { hour12: false });
  }

  function filters() {
    const to = new Date();
    const from = new Date(to.getTime() - Number($("range").value) * 1000);
    const params = { from: from.toISOString(), to: to.toISOString() };
    for (const key of ["rule", "author", "label", "q"]) {
      const value = $(key).value.trim();
      if (value) params[key] = value;
    }
    return params;
  }

  async function getJson(path, params) {
    const url = path + "?" + new URLSearchParams(params).toString();
    const response = await fetch(url, { headers: { accept: "application/json" } });
    const body = await response.json();
    if (!response.ok) throw new Error(body.error || response.statusText);
    return body;
  }

  // ---- counts chart ----

  function drawCounts(answer) {
    const svg = $("chart-counts");
    const legend = $("legend-counts");
    svg.replaceChildren();
    legend.replaceChildren();
    const from = new Date(answer.from).getTime();
    const to = new Date(answer.to).getTime();
    const series = new Map();
    let max = 0;
    for (const c of answer.counts) {
      if (!series.has(c.rule)) series.set(c.rule, []);
      series.get(c.rule).push([new Date(c.bucket).getTime(), c.matches]);
      max = Math.max(max, c.matches);
    }
    svg.setAttribute("data-points", String(answer.counts.length));
    if (series.size === 0) {
      svg.appendChild(svgEl("text", { x: W / 2, y: H / 2, "text-anchor": "middle", class: "empty" }, "no matches in this range"));
      return;
    }
    const top = niceMax(max);
    const x = (t) => LEFT + (W - LEFT - RIGHT) * (t - from) / Math.max(1, to - from);
    const y = (v) => H - BOTTOM - (H - TOP - BOTTOM) * v / top;
    svg.appendChild(svgEl("line", { x1: LEFT, y1: H - BOTTOM, x2: W - RIGHT, y2: H - BOTTOM, class: "axis" }));
    svg.appendChild(svgEl("line", { x1: LEFT, y1: TOP, x2: LEFT, y2: H - BOTTOM, class: "axis" }));
    svg.appendChild(svgEl("text", { x: LEFT - 4, y: TOP + 8, "text-anchor": "end" }, top));
    svg.appendChild(svgEl("text", { x: LEFT - 4, y: H - BOTTOM, "text-anchor": "end" }, 0));
    svg.appendChild(svgEl("text", { x: LEFT, y: H - 6 }, when(answer.from)));
    svg.appendChild(svgEl("text", { x: W - RIGHT, y: H - 6, "text-anchor": "end" }, when(answer.to)));
    for (const [rule, points] of series) {
      const path = points.map(([t, v], i) => (i ? "L" : "M") + x(t).toFixed(1) + " " + y(v).toFixed(1)).join(" ");
      const line = svgEl("path", { d: path, class: "series", stroke: color(rule) });
      line.setAttribute("data-rule", rule);
      svg.appendChild(line);
      for (const [t, v] of points) {
        svg.appendChild(svgEl("circle", { cx: x(t).toFixed(1), cy: y(v).toFixed(1), r: 2, fill: color(rule) }));
      }
      legend.appendChild(legendEntry(rule, color(rule)));
    }
  }

  // ---- posts ----

  function showPosts(page, append) {
    if (!append) {
      state.posts = [];
      $("results").replaceChildren();
    }
    for (const post of page.posts) {
      state.posts.push(post);
      $("results").appendChild(postItem(post, when(post.batch_time)));
    }
    state.cursor = page.next_cursor || null;
    $("more").hidden = !state.cursor;
    $("result-count").textContent = state.posts.length + (state.cursor ? "+" : "");
  }

  // ---- alerts ----

  function showAlerts(answer) {
    const list = $("alerts");
    list.replaceChildren();
    if (answer.alerts.length === 0) list.appendChild(el("li", "muted", "none in this range"));
    for (const alert of answer.alerts) {
      const item = el("li", "post alert");
      const meta = el("div", "meta");
      meta.appendChild(el("span", "rule", alert.rule));
      meta.appendChild(el("span", "kind", alert.kind));
      meta.appendChild(el("span", "time", when(alert.window_start)));
      item.appendChild(meta);
      const baseline = typeof alert.baseline === "number" ? ", baseline " + alert.baseline.toFixed(1) : "";
      item.appendChild(el("div", "text", alert.matches + " matches in " + Math.round(alert.window_s / 60) + " min" + baseline));
      list.appendChild(item);
    }
  }

  // ---- CSV ----

  // A cell a spreadsheet would run as a formula (=, +, -, @, and tab or
  // carriage return before one) gets a leading apostrophe; every cell is quoted.
  function csvCell(value) {
    let text = value === null || value === undefined ? "" : String(value);
    if (/^[=+\-@\t\r]/.test(text)) text = "'" + text;
    return '"' + text.replace(/"/g, '""') + '"';
  }

  function csvText(posts) {
    const header = ["batch_time", "id", "author", "author_id", "rules", "label", "text", "url"];
    const rows = posts.map((p) => [p.batch_time, p.id, p.author, p.author_id, (p.rules || []).join(" "), p.label, p.text, p.url]);
    return [header, ...rows].map((row) => row.map(csvCell).join(",")).join("\r\n") + "\r\n";
  }

  function exportCsv() {
    const blob = new Blob(["\ufeff" + csvText(state.posts)], { type: "text/csv;charset=utf-8" });
    const link = el("a");
    link.href = URL.createObjectURL(blob);
    link.download = "weibostream-posts.csv";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 10000);
  }

  // ---- loading ----

  function showError(error) {
    $("error").hidden = !error;
    $("error").textContent = error ? String(error.message || error) : "";
  }

  async function load() {
    state.loading += 1;
    showError(null);
    const params = filters();
    $("bucket-name").textContent = $("bucket").value;
    try {
      const countParams = { bucket: $("bucket").value, from: params.from, to: params.to };
      if (params.rule) countParams.rule = params.rule;
      const alertParams = { from: new Date(new Date(params.from).getTime() - 7 * 86400e3).toISOString(), to: params.to };
      if (params.rule) alertParams.rule = params.rule;
      const [counts, page, alerts] = await Promise.all([
        getJson("/api/counts", countParams),
        getJson("/api/posts", Object.assign({ limit: PAGE }, params)),
        getJson("/api/alerts", alertParams),
      ]);
      drawCounts(counts);
      showPosts(page, false);
      showAlerts(alerts);
    } catch (error) {
      showError(error);
    } finally {
      state.loading -= 1;
      document.body.setAttribute("data-loaded", String(Date.now()));
    }
  }

  async function more() {
    if (!state.cursor) return;
    try {
      showPosts(await getJson("/api/posts", Object.assign({ limit: PAGE, cursor: state.cursor }, filters())), true);
    } catch (error) {
      showError(error);
    }
  }

  // For tests and the curious: the CSV the export button would save.
  window.weibostreamHistory = { csvText: () => csvText(state.posts), csvCell, load };

  document.addEventListener("DOMContentLoaded", () => {
    $("controls").addEventListener("submit", (event) => { event.preventDefault(); load(); });
    for (const id of ["range", "bucket"]) $(id).addEventListener("change", load);
    $("more").addEventListener("click", more);
    $("csv").addEventListener("click", exportCsv);
    load();
  });
})();
