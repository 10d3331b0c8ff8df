// Helpers shared by the live dashboard (app.js) and the history view
// (history.js), loaded before either. Post text, names, rule ids and terms
// are untrusted: these helpers put them into the page ONLY as text
// (textContent, createTextNode) or attribute values (setAttribute), never
// parsed as HTML.
"use strict";

window.weibostream = (() => {
  const SVG = "http://www.w3.org/2000/svg";
  const PALETTE = ["#4fb3ff", "#ffb454", "#5ad17a", "#ff6b6b", "#c792ea", "#2ec4b6",
    "#f78c6c", "#c3e88d", "#89ddff", "#f07178"];
  // The charts' viewBox (600×220) and the margins around the plot.
  const CHART = Object.freeze({ W: 600, H: 220, LEFT: 48, RIGHT: 10, TOP: 10, BOTTOM: 24 });

  function el(tag, cls, text) {
    const node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text !== undefined && text !== null) node.textContent = String(text);
    return node;
  }

  function svgEl(tag, attrs, text) {
    const node = document.createElementNS(SVG, tag);
    for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
    if (text !== undefined) node.appendChild(document.createTextNode(String(text)));
    return node;
  }

  // A function giving each name its own palette color, the same every time.
  function colors() {
    const assigned = new Map();
    return (name) => {
      if (!assigned.has(name)) assigned.set(name, PALETTE[assigned.size % PALETTE.length]);
      return assigned.get(name);
    };
  }

  // The round number (1, 2 or 5 times a power of ten) at or above `value`.
  function niceMax(value) {
    if (!(value > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(value)));
    const m = value / power;
    return (m <= 1 ? 1 : m <= 2 ? 2 : m <= 5 ? 5 : 10) * power;
  }

  // One legend entry: a color swatch and the name.
  function legendEntry(name, color) {
    const entry = el("span");
    const swatch = el("span", "swatch");
    swatch.style.background = color;
    entry.appendChild(swatch);
    entry.appendChild(document.createTextNode(name));
    return entry;
  }

  // A matched post as a list item: author, `when` (already formatted),
  // rules, label, a link only for http(s) URLs, and the text.
  function postItem(post, when, cls) {
    const item = el("li", cls || "post");
    item.setAttribute("data-id", post.id);
    const meta = el("div", "meta");
    meta.appendChild(el("span", "author", "@" + post.author + (post.verified ? " ✓" : "")));
    meta.appendChild(el("span", "time", when));
    for (const rule of post.rules || []) meta.appendChild(el("span", "rule", rule));
    if (post.label) {
      const p = typeof post.probability === "number" ? " " + post.probability.toFixed(2) : "";
      meta.appendChild(el("span", "label", post.label + p));
    }
    if (typeof post.url === "string" && /^https?:\/\//i.test(post.url)) {
      const link = el("a", null, "open");
      link.setAttribute("href", post.url);
      link.setAttribute("rel", "noopener noreferrer nofollow");
      link.setAttribute("target", "_blank");
      meta.appendChild(link);
    }
    item.appendChild(meta);
    item.appendChild(el("div", "text", post.text));
    return item;
  }

  return Object.freeze({ SVG, PALETTE, CHART, el, svgEl, colors, niceMax, legendEntry, postItem });
})();
