/* Research graph explorer: a small force layout drawn in SVG, no dependencies, no external requests.
 *
 * Reads /api/researchers/{id}/graph (same origin) and draws papers, topics, institutions and
 * collaborators around the researcher. Drag a node to move it, hover to see its neighbours, click
 * to open it, tick the legend to show or hide a kind. Without JavaScript, or if anything fails,
 * the server-rendered lists under the graph stay visible. Labels go in via textContent only.
 */
(function () {
  "use strict";

  var SVG = "http://www.w3.org/2000/svg";
  var RADIUS = { researcher: 7, work: 6, topic: 8, institution: 8 };
  var LINK = { coauthor: 170, authored: 110, about: 90, affiliated: 150 };

  function el(name, attrs, parent) {
    var node = document.createElementNS(SVG, name);
    for (var key in attrs) node.setAttribute(key, attrs[key]);
    if (parent) parent.appendChild(node);
    return node;
  }

  function shorten(text, n) {
    return text.length > n ? text.slice(0, n - 1) + "\u2026" : text;
  }

  function href(node) {
    var id = encodeURIComponent(node.id);
    if (node.type === "researcher") return "/researchers/" + id;
    if (node.type === "work") return "/works/" + id;
    if (node.type === "topic") return "/topics/" + id;
    if (node.type === "institution") return "/search?kind=people&q=" + encodeURIComponent(node.label);
    return null;
  }

  function layout(nodes, edges, width, height, center) {
    var byId = {};
    nodes.forEach(function (n, i) {
      var angle = (i / nodes.length) * Math.PI * 2;
      var ring = n.type === "work" ? 0.22 : n.type === "researcher" ? 0.38 : 0.3;
      n.x = width / 2 + Math.cos(angle) * width * ring;
      n.y = height / 2 + Math.sin(angle) * height * ring;
      n.vx = 0; n.vy = 0;
      byId[n.id] = n;
    });
    var links = edges
      .filter(function (e) { return byId[e.source] && byId[e.target]; })
      .map(function (e) { return { s: byId[e.source], t: byId[e.target], kind: e.kind }; });
    var c = byId[center];
    if (c) { c.x = width / 2; c.y = height / 2; c.fixed = true; }

    function tick(alpha) {
      var i, j, a, b, dx, dy, d2, d, f;
      for (i = 0; i < nodes.length; i++) {
        a = nodes[i];
        for (j = i + 1; j < nodes.length; j++) {
          b = nodes[j];
          dx = b.x - a.x; dy = b.y - a.y;
          d2 = dx * dx + dy * dy || 0.01;
          if (d2 > 160000) continue;
          f = (Math.min(3000 / d2, 30)) * alpha;
          d = Math.sqrt(d2);
          a.vx -= (dx / d) * f; a.vy -= (dy / d) * f;
          b.vx += (dx / d) * f; b.vy += (dy / d) * f;
        }
      }
      links.forEach(function (l) {
        dx = l.t.x - l.s.x; dy = l.t.y - l.s.y;
        d = Math.sqrt(dx * dx + dy * dy) || 0.01;
        f = ((d - (LINK[l.kind] || 90)) / d) * 0.04 * alpha;
        l.s.vx += dx * f; l.s.vy += dy * f;
        l.t.vx -= dx * f; l.t.vy -= dy * f;
      });
      nodes.forEach(function (n) {
        n.vx += (width / 2 - n.x) * 0.002 * alpha;
        n.vy += (height / 2 - n.y) * 0.003 * alpha;
        if (n.fixed || n.dragging) { n.vx = 0; n.vy = 0; return; }
        n.vx *= 0.6; n.vy *= 0.6;
        n.x = Math.max(16, Math.min(width - 150, n.x + n.vx));
        n.y = Math.max(16, Math.min(height - 16, n.y + n.vy));
      });
    }
    for (var k = 0; k < 320; k++) tick(1 - k / 400);
    return { links: links, tick: tick };
  }

  function draw(root, data) {
    var canvas = root.querySelector(".graph-canvas");
    var width = Math.max(canvas.clientWidth || 640, 320);
    var height = 440;
    var center = root.getAttribute("data-center");
    var nodes = data.nodes.map(function (n) { return { id: n.id, type: n.type, label: n.label || n.id }; });
    var sim = layout(nodes, data.edges, width, height, center);

    var svg = el("svg", { viewBox: "0 0 " + width + " " + height, role: "img" });
    el("title", {}, svg).textContent = "Research graph";
    var edgeLayer = el("g", {}, svg);
    var nodeLayer = el("g", {}, svg);
    var neighbours = {};
    sim.links.forEach(function (l) {
      l.el = el("line", { class: "edge " + l.kind }, edgeLayer);
      (neighbours[l.s.id] = neighbours[l.s.id] || {})[l.t.id] = true;
      (neighbours[l.t.id] = neighbours[l.t.id] || {})[l.s.id] = true;
    });
    nodes.forEach(function (n) {
      var g = el("g", { class: "node " + n.type + (n.id === center ? " center" : ""), tabindex: "0" }, nodeLayer);
      el("circle", { r: n.id === center ? 11 : RADIUS[n.type] || 6 }, g);
      el("title", {}, g).textContent = n.type + ": " + n.label;
      n.text = el("text", { x: 10, y: 4 }, g);
      n.text.textContent = shorten(n.label, n.type === "work" ? 24 : 28);
      n.el = g;
      g.addEventListener("mouseenter", function () { focus(n); });
      g.addEventListener("mouseleave", function () { focus(null); });
      g.addEventListener("focus", function () { focus(n); });
      g.addEventListener("blur", function () { focus(null); });
      g.addEventListener("keydown", function (ev) {
        if (ev.key === "Enter" && href(n)) window.location.href = href(n);
      });
      g.addEventListener("pointerdown", function (ev) { startDrag(ev, n); });
    });

    function place() {
      sim.links.forEach(function (l) {
        l.el.setAttribute("x1", l.s.x.toFixed(1)); l.el.setAttribute("y1", l.s.y.toFixed(1));
        l.el.setAttribute("x2", l.t.x.toFixed(1)); l.el.setAttribute("y2", l.t.y.toFixed(1));
      });
      nodes.forEach(function (n) { n.el.setAttribute("transform", "translate(" + n.x.toFixed(1) + "," + n.y.toFixed(1) + ")"); });
    }

    // Every node has a label; where two would overlap, the less central one hides (its title and
    // the hover focus still name it). Order: the researcher, people, topics, institutions, works.
    var PRIORITY = { researcher: 1, topic: 2, institution: 3, work: 4 };
    function declutter() {
      var placed = [];
      nodes.slice().sort(function (a, b) {
        return (a.id === center ? 0 : PRIORITY[a.type] || 5) - (b.id === center ? 0 : PRIORITY[b.type] || 5);
      }).forEach(function (n) {
        n.text.style.visibility = "";
        if (n.el.style.display === "none") return;
        var b = n.text.getBBox();
        var box = { l: n.x + b.x, t: n.y + b.y, r: n.x + b.x + b.width, b: n.y + b.y + b.height };
        var clash = placed.some(function (p) { return box.l < p.r && p.l < box.r && box.t < p.b && p.t < box.b; });
        if (clash) n.text.style.visibility = "hidden"; else placed.push(box);
      });
    }

    function focus(n) {
      if (n) n.text.style.visibility = "";
      else declutter();
      nodes.forEach(function (m) {
        var near = !n || m === n || (neighbours[n.id] && neighbours[n.id][m.id]);
        m.el.classList.toggle("dim", !near);
      });
      sim.links.forEach(function (l) {
        l.el.classList.toggle("dim", !!n && l.s !== n && l.t !== n);
      });
    }

    var frames = 0;
    function animate() {
      if (frames <= 0) { declutter(); return; }
      frames--;
      sim.tick(0.5);
      place();
      window.requestAnimationFrame(animate);
    }
    function kick(n) { var idle = frames <= 0; frames = Math.max(frames, n); if (idle) window.requestAnimationFrame(animate); }

    function point(ev) {
      var box = svg.getBoundingClientRect();
      return { x: ((ev.clientX - box.left) / box.width) * width, y: ((ev.clientY - box.top) / box.height) * height };
    }
    function startDrag(ev, n) {
      var start = point(ev), moved = false;
      n.dragging = true;
      function move(e) {
        var p = point(e);
        if (Math.abs(p.x - start.x) + Math.abs(p.y - start.y) > 3) moved = true;
        n.x = p.x; n.y = p.y;
        kick(30);
      }
      function up() {
        n.dragging = false;
        window.removeEventListener("pointermove", move);
        window.removeEventListener("pointerup", up);
        if (!moved && href(n)) window.location.href = href(n);
      }
      window.addEventListener("pointermove", move);
      window.addEventListener("pointerup", up);
      ev.preventDefault();
    }

    root.querySelectorAll(".graph-legend input").forEach(function (box) {
      var kind = box.getAttribute("data-type");
      if (!nodes.some(function (n) { return n.type === kind && n.id !== center; })) box.parentNode.hidden = true;
      box.addEventListener("change", function () {
        var type = box.getAttribute("data-type");
        nodes.forEach(function (n) {
          if (n.type === type && n.id !== center) n.el.style.display = box.checked ? "" : "none";
        });
        sim.links.forEach(function (l) {
          var hidden = [l.s, l.t].some(function (n) { return n.el.style.display === "none"; });
          l.el.style.display = hidden ? "none" : "";
        });
        declutter();
      });
    });

    place();
    canvas.appendChild(svg);
    declutter();
    root.querySelector(".graph-legend").hidden = false;
    root.classList.add("ready");
  }

  function start(root) {
    var status = root.querySelector(".graph-status");
    status.hidden = false;
    fetch(root.getAttribute("data-graph-src"), { headers: { Accept: "application/json" }, credentials: "same-origin" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        status.hidden = true;
        if (!data.nodes || data.nodes.length < 2) {
          status.textContent = "Nothing around this researcher to draw yet.";
          status.hidden = false;
          return;
        }
        draw(root, data);
      })
      .catch(function () {
        status.textContent = "The graph could not be loaded; the lists below show the same neighbourhood.";
        status.hidden = false;
      });
  }

  document.querySelectorAll(".graph[data-graph-src]").forEach(start);
})();
