// The graph explorer: pointing at a node (or focusing its link) dims everything but its neighbours.
// The graph is drawn by the server, so without this script it is the same picture without the focus.
(function () {
  "use strict";
  var svg = document.querySelector(".explorer-graph");
  if (!svg) return;
  var edges = Array.prototype.slice.call(svg.querySelectorAll(".edge"));
  var nodes = {};
  svg.querySelectorAll(".node").forEach(function (n) { nodes[n.dataset.id] = n; });
  function focus(id) {
    svg.classList.add("focus");
    nodes[id].classList.add("near");
    edges.forEach(function (e) {
      var other = e.dataset.source === id ? e.dataset.target : e.dataset.target === id ? e.dataset.source : null;
      if (other === null) return;
      e.classList.add("near");
      if (nodes[other]) nodes[other].classList.add("near");
    });
  }
  function clear() {
    svg.classList.remove("focus");
    svg.querySelectorAll(".near").forEach(function (el) { el.classList.remove("near"); });
  }
  Object.keys(nodes).forEach(function (id) {
    var node = nodes[id];
    node.addEventListener("mouseenter", function () { focus(id); });
    node.addEventListener("mouseleave", clear);
    node.addEventListener("focusin", function () { focus(id); });
    node.addEventListener("focusout", clear);
  });
})();
