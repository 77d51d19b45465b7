// Inline math cannot break across lines (MathJax 3 has no line breaking).  A formula wider than
// its paragraph (on a phone) gets the class book-wide-math, which book.css turns into a box
// that scrolls sideways, instead of widening the page.  Only those: a scroll box around every
// formula would clip the overhang of italic letters and show stray scroll bars.
(function () {
  "use strict";
  function mark() {
    document.querySelectorAll('.bd-article mjx-container:not([display="true"])').forEach((m) => {
      m.classList.remove("book-wide-math");
      const block = m.parentElement && m.parentElement.closest("p, li, dd, td, th, div");
      if (block && m.getBoundingClientRect().width > block.clientWidth) m.classList.add("book-wide-math");
    });
  }
  function start() {
    const mj = window.MathJax;
    if (mj && mj.startup && mj.startup.promise) mj.startup.promise.then(mark);
    else mark();
    let pending = null;
    window.addEventListener("resize", () => {
      clearTimeout(pending);
      pending = setTimeout(mark, 150);
    });
  }
  window.addEventListener("load", start);
})();
