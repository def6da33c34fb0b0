/* InfoLit student pages: countdown that re-syncs with the server, focus after a swap,
   time spent on an item, and a clear message when the network is gone. No inline scripts:
   the pages run under a strict Content-Security-Policy. */
(function () {
  "use strict";

  var SYNC_EVERY_MS = 30000;
  var timer = null;      // interval id of the countdown
  var deadline = 0;      // Date.now() value at which the server's time runs out
  var lastSync = 0;
  var shownAt = Date.now();

  function pad(n) { return (n < 10 ? "0" : "") + n; }

  function format(seconds) {
    seconds = Math.max(0, Math.round(seconds));
    var h = Math.floor(seconds / 3600), m = Math.floor((seconds % 3600) / 60), s = seconds % 60;
    return h ? h + ":" + pad(m) + ":" + pad(s) : pad(m) + ":" + pad(s);
  }

  function netMessage(text) {
    var box = document.getElementById("net-status");
    if (box) { box.textContent = text; }
  }

  function sync(el) {
    lastSync = Date.now();
    var url = el.getAttribute("data-sync");
    if (!url || !window.fetch) { return; }
    fetch(url, { credentials: "same-origin", headers: { "Accept": "application/json" } })
      .then(function (r) { return r.ok ? r.json() : null; })
      .then(function (data) {
        if (!data) { return; }
        if (data.status !== "in_progress") { window.location.assign("/test"); return; }
        if (typeof data.remaining_seconds === "number") {
          deadline = Date.now() + data.remaining_seconds * 1000;
        }
        netMessage("");
      })
      .catch(function () { /* offline: keep counting from the last known deadline */ });
  }

  function tick() {
    var el = document.querySelector("[data-remaining]");
    if (!el) { stop(); return; }
    var left = (deadline - Date.now()) / 1000;
    var value = el.querySelector(".timer-value");
    if (value) { value.textContent = format(left); }
    el.classList.toggle("low", left <= 300 && left > 0);
    el.classList.toggle("out", left <= 0);
    if (left <= 0) {
      stop();
      if (value) { value.textContent = "时间到"; }
      // the server ends the sitting; show its finish page
      window.setTimeout(function () { window.location.assign("/test"); }, 1500);
      return;
    }
    if (Date.now() - lastSync > SYNC_EVERY_MS) { sync(el); }
  }

  function stop() {
    if (timer) { window.clearInterval(timer); timer = null; }
  }

  function startTimer() {
    stop();
    var el = document.querySelector("[data-remaining]");
    if (!el) { return; }
    var remaining = parseInt(el.getAttribute("data-remaining"), 10);
    if (isNaN(remaining)) { return; }
    deadline = Date.now() + remaining * 1000;
    lastSync = Date.now();
    tick();
    timer = window.setInterval(tick, 1000);
  }

  function focusMain() {
    var target = document.querySelector("#main [data-focus]");
    if (target) { target.focus({ preventScroll: false }); }
    window.scrollTo(0, 0);
  }

  function pageShown() {
    shownAt = Date.now();
    startTimer();
  }

  document.addEventListener("DOMContentLoaded", pageShown);
  window.addEventListener("pageshow", function (e) { if (e.persisted) { window.location.reload(); } });

  document.addEventListener("htmx:configRequest", function (e) {
    var form = e.detail.elt;
    if (form && form.hasAttribute && form.hasAttribute("data-item")) {
      e.detail.parameters["elapsed_ms"] = String(Date.now() - shownAt);
    }
  });
  document.addEventListener("htmx:beforeRequest", function () { netMessage(""); });
  document.addEventListener("htmx:afterSwap", function (e) {
    if (e.detail.target && e.detail.target.id === "main") {
      pageShown();
      focusMain();
    }
  });
  // hotspot: clicking an outlined part of the scene ticks its checkbox (the checkboxes below are
  // the keyboard's and the script-free way to answer)
  document.addEventListener("click", function (e) {
    var region = e.target && e.target.closest ? e.target.closest(".hotspot-region") : null;
    if (!region) { return; }
    var form = region.closest("form");
    var key = region.getAttribute("data-region");
    var boxes = form ? form.querySelectorAll("input[name=answer]") : [];
    for (var i = 0; i < boxes.length; i++) {
      if (boxes[i].value === key) { boxes[i].click(); boxes[i].focus(); }
    }
  });
  // search_sim: an opened result is recorded with the answer (a hidden "opened" field)
  document.addEventListener("toggle", function (e) {
    var box = e.target;
    if (!box || !box.open || !box.hasAttribute || !box.hasAttribute("data-result")) { return; }
    var form = box.closest("form");
    if (!form) { return; }
    var input = document.createElement("input");
    input.type = "hidden"; input.name = "opened"; input.value = box.getAttribute("data-result");
    form.appendChild(input);
  }, true);
  document.addEventListener("htmx:sendError", function () {
    netMessage("网络连接中断，这道题的答案还没有提交。请检查网络后再点一次“提交答案”，已提交的答案不会丢失。");
  });
  document.addEventListener("htmx:timeout", function () {
    netMessage("网络太慢，请求超时。请再点一次“提交答案”。");
  });
  document.addEventListener("htmx:responseError", function () {
    netMessage("服务器暂时没有响应，请稍等片刻后再点一次“提交答案”。已提交的答案不会丢失。");
  });
})();
