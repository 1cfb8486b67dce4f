// The public scheduling page without this file works in full: every choice is a link or a
// form. With it, a first visit shows times in the browser's own time zone, and the booking
// form cannot be sent twice by a double click. No framework, nothing inline (the page's
// Content-Security-Policy allows scripts of this origin only).
(function () {
  "use strict";
  var root = document.documentElement;

  // The server asks for this (data-detect-zone) only when the address names no zone.
  function detectZone() {
    if (root.getAttribute("data-detect-zone") !== "1") return false;
    var zone = "";
    try {
      zone = Intl.DateTimeFormat().resolvedOptions().timeZone || "";
    } catch (ignored) {
      return false;
    }
    var select = document.getElementById("tz");
    if (!zone || !select || zone === root.getAttribute("data-zone")) return false;
    var known = Array.prototype.some.call(select.options, function (option) {
      return option.value === zone;
    });
    if (!known) return false;
    var url = new URL(window.location.href);
    url.searchParams.set("tz", zone);
    window.location.replace(url.toString());
    return true;
  }

  function sendOnce() {
    var form = document.getElementById("booking-form");
    var button = document.getElementById("book");
    if (!form || !button) return;
    form.addEventListener("submit", function () {
      button.disabled = true;
      button.setAttribute("aria-busy", "true");
    });
    // Back from the confirmation, the page may come from the cache with the button off.
    window.addEventListener("pageshow", function () {
      button.disabled = false;
      button.removeAttribute("aria-busy");
    });
  }

  if (!detectZone()) sendOnce();
})();
