// Offline search summaries (see book/_ext/book_offline.py).  Sphinx would fetch each hit's
// page to cut a summary from it: a browser refuses that on file://, and the cut text holds raw
// TeX.  Summaries come instead from window.BOOK_SEARCH_TEXTS (search-texts.js), plain text
// written at build time without the math.
(function () {
  "use strict";
  const WIDTH = 240;

  function terms() {
    const query = new URLSearchParams(window.location.search).get("q") || "";
    return query.toLowerCase().split(/\s+/).filter((t) => t.length > 0);
  }

  function summary(text, words) {
    const lower = text.toLowerCase();
    let at = -1;
    for (const word of words) {
      const i = lower.indexOf(word);
      if (i >= 0 && (at < 0 || i < at)) at = i;
    }
    const start = Math.max(0, at - WIDTH / 2);
    const cut = text.substring(start, start + WIDTH);
    const p = document.createElement("p");
    p.className = "context";
    // Highlight the terms with text nodes only: page text is never parsed as HTML here.
    const pattern = new RegExp("(" + words.map((w) => w.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")).join("|") + ")", "gi");
    const pieces = ((start > 0 ? "…" : "") + cut + (start + WIDTH < text.length ? "…" : "")).split(pattern);
    pieces.forEach((piece, i) => {
      if (i % 2 === 1) {
        const mark = document.createElement("span");
        mark.className = "highlighted";
        mark.textContent = piece;
        p.appendChild(mark);
      } else {
        p.appendChild(document.createTextNode(piece));
      }
    });
    return p;
  }

  function annotate(item, words) {
    if (item.dataset.bookSummary) return;
    item.dataset.bookSummary = "1";
    const link = item.querySelector("a");
    if (!link) return;
    const suffix = (window.DOCUMENTATION_OPTIONS || {}).LINK_SUFFIX || ".html";
    let doc = (link.getAttribute("href") || "").split("#")[0];
    if (doc.endsWith(suffix)) doc = doc.substring(0, doc.length - suffix.length);
    const text = (window.BOOK_SEARCH_TEXTS || {})[doc];
    if (text) item.appendChild(summary(text, words));
  }

  function start() {
    const words = terms();
    const results = document.getElementById("search-results");
    if (!results || !words.length) return;
    const scan = () => results.querySelectorAll("li").forEach((li) => annotate(li, words));
    new MutationObserver(scan).observe(results, { childList: true, subtree: true });
    scan();
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
