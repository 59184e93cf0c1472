// The reader's script (loaded on every page by _ext/reader.py): click a figure to enlarge it.
(function () {
  "use strict";
  function open(img) {
    const box = document.createElement("div");
    box.className = "sam-zoom";
    box.setAttribute("role", "dialog");
    box.setAttribute("aria-modal", "true");
    box.setAttribute("aria-label", "Enlarged figure: " + (img.getAttribute("alt") || ""));
    const big = document.createElement("img");
    big.src = img.currentSrc || img.src;
    big.alt = img.getAttribute("alt") || "";
    const close = document.createElement("button");
    close.className = "sam-zoom__close";
    close.setAttribute("aria-label", "Close the enlarged figure");
    close.textContent = "\u00d7";
    box.append(big, close);
    const shut = () => { box.remove(); document.removeEventListener("keydown", onKey); img.focus(); };
    const onKey = (e) => { if (e.key === "Escape") shut(); };
    box.addEventListener("click", shut);
    document.addEventListener("keydown", onKey);
    document.body.appendChild(box);
    close.focus();
  }
  function init() {
    document.querySelectorAll("article img").forEach((img) => {
      const link = img.closest("a");
      if ((link && !link.classList.contains("image-reference")) || img.classList.contains("sam-zoomable")) return;
      img.classList.add("sam-zoomable");
      img.tabIndex = 0;
      img.setAttribute("role", "button");
      img.title = "Click to enlarge";
      img.addEventListener("click", (e) => { e.preventDefault(); open(img); });
      img.addEventListener("keydown", (e) => {
        if (e.key === "Enter" || e.key === " ") { e.preventDefault(); open(img); }
      });
    });
  }
  // An inline formula wider than its column gets its own scroll box (display formulas have one
  // in reader.css); MathJax cannot break inline math, and the page must not scroll sideways.
  function markWideMath() {
    document.querySelectorAll("mjx-container:not([display='true'])").forEach((m) => {
      const col = m.closest("p, li, dd, td, th, div") || document.body;
      m.classList.remove("sam-wide-math");
      const r = m.getBoundingClientRect(), c = col.getBoundingClientRect();
      if (r.width > c.width || r.right > c.right + 1) m.classList.add("sam-wide-math");
    });
  }
  function afterMath() {
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      MathJax.startup.promise.then(markWideMath);
    } else {
      setTimeout(afterMath, 100);
    }
  }
  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", init);
  else init();
  afterMath();
  window.addEventListener("resize", markWideMath);
})();
