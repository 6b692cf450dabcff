// The practice UI's few behaviours: buttons that call the Nomad API (same-origin fetch,
// relative URLs), a second click to confirm destructive ones, retrying a live fragment
// after a network error, and keeping a followed log scrolled to its end.
(function () {
  "use strict";

  function flash(message) {
    var box = document.querySelector(".flash");
    if (!box) return;
    box.textContent = message;
    box.hidden = !message;
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-post]");
    if (!button || button.disabled) return;
    event.preventDefault();
    var confirmText = button.getAttribute("data-confirm");
    if (confirmText && !button.hasAttribute("data-armed")) {
      button.setAttribute("data-armed", button.textContent);
      button.textContent = confirmText;
      return;
    }
    button.disabled = true;
    flash("");
    var body = button.getAttribute("data-body");
    var headers = body ? { "Content-Type": "application/json" } : {};
    // Behind Jupyter's server proxy, Jupyter checks its XSRF cookie on writes.
    var xsrf = document.cookie.match(/(?:^|;\s*)_xsrf=([^;]*)/);
    if (xsrf) headers["X-XSRFToken"] = decodeURIComponent(xsrf[1]);
    fetch(button.getAttribute("data-post"), {
      method: "POST",
      headers: headers,
      body: body || null,
      credentials: "same-origin",
    })
      .then(function (response) {
        if (response.ok) return;
        return response.text().then(function (text) {
          flash("The API answered " + response.status + ": " + text);
        });
      })
      .catch(function (error) {
        flash("The request failed: " + error);
      })
      .finally(function () {
        if (button.isConnected) {
          button.disabled = false;
          if (button.hasAttribute("data-armed")) {
            button.textContent = button.getAttribute("data-armed");
            button.removeAttribute("data-armed");
          }
        }
      });
  });

  // A live fragment whose blocking query failed (agent restarting, proxy timeout) asks again.
  function retryLater(event) {
    var element = event.detail && event.detail.elt;
    if (!element || !element.hasAttribute("hx-get")) return;
    var xhr = event.detail.xhr;
    if (xhr && xhr.status === 404) {
      // What this page shows is gone (a purged job, a collected allocation): say so, stop.
      flash(xhr.responseText + ": it no longer exists. The lists in the menu show what does.");
      return;
    }
    setTimeout(function () {
      if (element.isConnected) htmx.trigger(element, "retry");
    }, 1000);
  }
  document.addEventListener("htmx:responseError", retryLater);
  document.addEventListener("htmx:sendError", retryLater);
  document.addEventListener("htmx:timeout", retryLater);

  // A browser holds at most six connections to one host, and each live part holds one:
  // a tab in the background lets go of its own, and asks again when it is shown.
  var LIVE = "#live, pre.log .follow";
  document.addEventListener("htmx:beforeRequest", function (event) {
    if (document.hidden && event.detail.elt.matches(LIVE)) event.preventDefault();
  });
  document.addEventListener("visibilitychange", function () {
    document.querySelectorAll(LIVE).forEach(function (element) {
      htmx.trigger(element, document.hidden ? "htmx:abort" : "retry");
    });
  });

  document.addEventListener("htmx:afterSwap", function (event) {
    var log = event.target.closest ? event.target.closest("pre.log") : null;
    log = log || document.querySelector("pre.log");
    if (log && log.scrollHeight - log.scrollTop - log.clientHeight < 80) {
      log.scrollTop = log.scrollHeight;
    }
  });
})();
