// Discovery: page helpers shared by every page, no framework. Without JavaScript every page still
// works: maths reads as its LaTeX source and collapsible panels stay open.
(function () {
  "use strict";
  // Panels marked data-collapse-narrow start closed on a phone, so results and actions come first.
  if (window.matchMedia("(max-width: 900px)").matches) {
    document.querySelectorAll("details[data-collapse-narrow]").forEach(function (d) { d.open = false; });
  }
  // Times to the second in the viewer's own time zone (the page says UTC without JavaScript).
  document.querySelectorAll("time[data-local]").forEach(function (el) {
    var when = new Date(el.getAttribute("datetime"));
    if (isNaN(when)) return;
    el.textContent = when.toLocaleString(undefined, {
      year: "numeric", month: "short", day: "numeric", hour: "2-digit", minute: "2-digit", second: "2-digit",
      timeZoneName: "short",
    });
    el.title = el.getAttribute("datetime");
  });
  // Maths in titles and abstracts, with KaTeX from our own static files (scripts/venv.sh installs it).
  if (typeof window.renderMathInElement === "function") {
    document.querySelectorAll(".math").forEach(function (el) {
      window.renderMathInElement(el, {
        delimiters: [
          { left: "$$", right: "$$", display: true },
          { left: "\\[", right: "\\]", display: true },
          { left: "$", right: "$", display: false },
          { left: "\\(", right: "\\)", display: false },
        ],
        throwOnError: false,
      });
      el.classList.add("math-rendered");
    });
  }
})();
