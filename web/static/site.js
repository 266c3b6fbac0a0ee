// Discovery: page helpers shared by every page, no framework. Without JavaScript every page still
// works: maths reads as its LaTeX source and collapsible panels stay open.
(function () {
  "use strict";
  // Panels marked data-collapse-narrow start closed on a phone, so results and actions come first.
  if (window.matchMedia("(max-width: 900px)").matches) {
    document.querySelectorAll("details[data-collapse-narrow]").forEach(function (d) { d.open = false; });
  }
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
