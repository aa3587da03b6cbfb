// What the server asks of the page, without eval (portal/components/mailbox.py). The server sends
// rx.set_value("portal-mailbox", message); Reflex's client sets that element's `value` and this
// script has replaced the setter of that one element: it parses the JSON message and acts on it.
// The element keeps nothing (its value reads ""), and nothing here reaches Reflex state.
//   {"post": url}                  a form POST, a full page load (sign-out)
//   {"go": url, "binding": value}  a full page load (location.replace), after storing the value the
//                                  login ticket in the URL is bound to, for a minute
//   {"reveal": {id: value}}        secrets shown once (portal/state/shown_once.py)
//   {"conceal": [id, ...]}         empties them again
// URLs must be http(s) (never javascript: or data:).
// Below that, files chosen while an upload is on its way wait their turn (see "Uploads").
(function () {
  "use strict";
  var MAILBOX = "portal-mailbox";

  function httpUrl(value) {
    if (typeof value !== "string" || value === "") return null;
    var url;
    try { url = new URL(value, window.location.href); } catch (e) { return null; }
    return url.protocol === "http:" || url.protocol === "https:" ? url.href : null;
  }

  function post(value) {
    var url = httpUrl(value);
    if (!url) { console.error("portal-actions: refused to post to", value); return; }
    var form = document.createElement("form");
    form.method = "post";
    form.action = url;
    document.body.appendChild(form);
    form.submit();
  }

  function go(value, binding, cookie) {
    var url = httpUrl(value);
    if (!url) { console.error("portal-actions: refused to go to", value); return; }
    if (binding !== undefined && binding !== "") {
      if (typeof binding !== "string" || !/^[A-Za-z0-9_.~-]+$/.test(binding) || !cookie) {
        console.error("portal-actions: refused a binding"); return;
      }
      document.cookie = cookie + "=" + binding + "; path=/; max-age=60; samesite=strict" +
        (window.location.protocol === "https:" ? "; secure" : "");
    }
    window.location.replace(url);
  }

  // Secrets shown once: each value goes into the element with that id (an image's src, otherwise
  // its text), and the panel around it shows. The elements may not exist yet (the same update may
  // be what renders them), and React may mount them afresh (a websocket reconnect re-hydrates the
  // page), so the values stay in this closure while the page shows the same path, and an observer
  // fills any empty slot again. A reload or another page forgets them.
  var shown = {path: "", values: {}, observer: null};

  function fill() {
    if (shown.path !== window.location.pathname) { shown.values = {}; return; }
    for (var id in shown.values) {
      if (!Object.prototype.hasOwnProperty.call(shown.values, id)) continue;
      var value = shown.values[id];
      var el = document.getElementById(id);
      if (!el) continue;
      if (el.tagName === "IMG") { if (el.getAttribute("src") !== value) el.src = value; }
      else if (el.textContent !== value) el.textContent = value;
      var panel = el.closest("[data-shown-once]");
      if (panel && panel.style.display !== "block") panel.style.display = "block";
    }
  }

  function reveal(values) {
    if (!values || typeof values !== "object" || Array.isArray(values)) return;
    if (shown.path !== window.location.pathname) { shown.path = window.location.pathname; shown.values = {}; }
    for (var id in values) {
      if (Object.prototype.hasOwnProperty.call(values, id) && typeof values[id] === "string") {
        shown.values[id] = values[id];
      }
    }
    if (!shown.observer) {
      shown.observer = new MutationObserver(fill);
      shown.observer.observe(document.body, {childList: true, subtree: true});
    }
    fill();
  }

  function conceal(ids) {
    if (!Array.isArray(ids)) return;
    ids.forEach(function (id) {
      if (typeof id !== "string") return;
      delete shown.values[id];
      var el = document.getElementById(id);
      if (!el) return;
      if (el.tagName === "IMG") el.removeAttribute("src"); else el.textContent = "";
      var panel = el.closest("[data-shown-once]");
      if (panel) panel.style.display = "none";
    });
  }

  function receive(box, text) {
    if (typeof text !== "string" || text === "") return;  // React may set "" on mount
    var message;
    try { message = JSON.parse(text); } catch (e) { return; }
    if (!message || typeof message !== "object") return;
    if ("post" in message) post(message.post);
    else if ("go" in message) go(message.go, message.binding, box.getAttribute("data-binding-cookie"));
    else if ("reveal" in message) reveal(message.reveal);
    else if ("conceal" in message) conceal(message.conceal);
  }

  // The element is rendered by React, and mounted afresh on each page and after a reconnect:
  // each new one gets the setter as soon as it is in the document.
  var ready = new WeakSet();
  function install() {
    var box = document.getElementById(MAILBOX);
    if (!box || ready.has(box)) return;
    ready.add(box);
    Object.defineProperty(box, "value", {
      configurable: true,
      get: function () { return ""; },
      set: function (text) { receive(box, text); },
    });
  }
  new MutationObserver(install).observe(document.documentElement, {childList: true, subtree: true});
  install();

  // Uploads. Reflex's client sends one upload per zone at a time and drops, silently, a file chosen
  // or dropped while the previous one is still on its way (its upload.js: "Upload already in
  // progress"). So while any upload is on its way <html> carries data-uploading (portal.css shows
  // "Uploading…" in each upload area, portal.components.common.upload_area), and a choice made in
  // an upload area meanwhile is held back and handed to the zone, as chosen, once it is free.
  var uploads = {active: 0, waiting: false, queue: [], replaying: null};

  function isUpload(url) {
    try { return /\/_upload\/?$/.test(new URL(String(url), window.location.href).pathname); }
    catch (e) { return false; }
  }

  function showBusy() {
    var busy = uploads.active > 0 || uploads.waiting || uploads.queue.length > 0;
    if (busy) document.documentElement.setAttribute("data-uploading", "");
    else document.documentElement.removeAttribute("data-uploading");
  }

  function sendNext() {
    if (uploads.active > 0 || uploads.waiting || uploads.queue.length === 0) { showBusy(); return; }
    var item = uploads.queue.shift();
    if (!item.input.isConnected) { sendNext(); return; }
    var files = new DataTransfer();
    item.files.forEach(function (file) { files.items.add(file); });
    item.input.files = files.files;
    uploads.replaying = item.input;
    try { item.input.dispatchEvent(new Event("change", {bubbles: true})); }
    finally { uploads.replaying = null; }
    // The zone may refuse the choice (type, size, count) and send nothing: then the next one goes.
    uploads.waiting = true;
    var since = Date.now();
    (function started() {
      if (uploads.active > 0) { uploads.waiting = false; return; }  // its end sends the next
      if (Date.now() - since > 1000) { uploads.waiting = false; sendNext(); return; }
      setTimeout(started, 50);
    })();
    showBusy();
  }

  var xhrOpen = XMLHttpRequest.prototype.open, xhrSend = XMLHttpRequest.prototype.send;
  XMLHttpRequest.prototype.open = function (method, url) {
    this.__portalUpload = String(method).toUpperCase() === "POST" && isUpload(url);
    return xhrOpen.apply(this, arguments);
  };
  XMLHttpRequest.prototype.send = function () {
    if (this.__portalUpload) {
      uploads.active += 1;
      showBusy();
      // Reflex marks its zone free a few promise steps after the request ends: a task later it is.
      this.addEventListener("loadend", function () {
        setTimeout(function () { uploads.active -= 1; sendNext(); }, 0);
      });
    }
    return xhrSend.apply(this, arguments);
  };

  function areaInput(target) {
    var area = target && target.closest ? target.closest("[data-upload-zone]") : null;
    return area ? area.querySelector("input[type=file]") : null;
  }
  function hold(input, list) {
    var files = Array.prototype.slice.call(list || []);
    if (files.length) uploads.queue.push({input: input, files: files});
    showBusy();
  }
  window.addEventListener("change", function (event) {
    var input = event.target;
    if (!(uploads.active > 0 || uploads.waiting) || input === uploads.replaying) return;
    if (!input || input.type !== "file" || areaInput(input) !== input) return;
    event.stopImmediatePropagation();
    hold(input, input.files);
  }, true);
  window.addEventListener("drop", function (event) {
    if (!(uploads.active > 0 || uploads.waiting)) return;
    var input = areaInput(event.target);
    if (!input) return;
    event.preventDefault();
    event.stopImmediatePropagation();
    hold(input, event.dataTransfer && event.dataTransfer.files);
  }, true);
})();
