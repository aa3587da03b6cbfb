// Focus that is not lost (issue 17, WCAG 2.4.3). When what had the keyboard focus leaves the page
// (a dialog, the chat or the assistant closes, a form is replaced by its result), the browser drops
// the focus on <body> and a keyboard or screen-reader user starts again from the top. This puts it
// back on the newest element that had it and is still there (the button that opened the dialog).
// It never moves a focus the person placed: only a focus lost with its element is given back.
(function () {
  "use strict";
  var recent = [];
  document.addEventListener("focusin", function (e) {
    var el = e.target;
    if (!(el instanceof HTMLElement)) return;
    recent = recent.filter(function (x) { return x !== el && x.isConnected; });
    recent.push(el);
    if (recent.length > 25) recent.shift();
  }, true);
  function lost() {
    var active = document.activeElement;
    if (active && active !== document.body && active.isConnected) return false;
    var last = recent[recent.length - 1];
    return !!last && !last.isConnected;
  }
  function giveBack() {
    if (!lost()) return;
    for (var i = recent.length - 1; i >= 0; i--) {
      var el = recent[i];
      if (el.isConnected && el.getClientRects().length > 0 && !el.closest("[inert],[aria-hidden='true']")) {
        el.focus({ preventScroll: false });
        return;
      }
    }
  }
  function start() {
    new MutationObserver(function () {
      // After the framework's own focus handling of the same change (Radix returns focus itself
      // when a dialog has a trigger).
      if (lost()) setTimeout(giveBack, 0);
    }).observe(document.body, { childList: true, subtree: true });
  }
  if (document.body) start(); else document.addEventListener("DOMContentLoaded", start);
})();
