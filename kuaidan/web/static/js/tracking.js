/* Order page: follow the parcel live.
 *
 * The page carries data-live-url (the order's server-sent event stream) and data-mark (what
 * it shows). Each "tracking" event brings the order's mark and the changing parts as the
 * server renders them (status badge, parcel panel, timeline); they replace the ones on the
 * page when the mark differs. Without JavaScript (or EventSource) the page is complete as
 * served, and a reload shows the latest. The browser reconnects by itself when a stream ends.
 */
(function () {
  "use strict";

  var root = document.querySelector("[data-live-url]");
  if (!root || !window.EventSource) {
    return;
  }

  function swap(name, html) {
    var current = root.querySelector('[data-live="' + name + '"]');
    if (!current || typeof html !== "string") {
      return;
    }
    var holder = document.createElement("div");
    holder.innerHTML = html;
    var fresh = holder.firstElementChild;
    if (fresh) {
      current.replaceWith(fresh);
    }
  }

  var source = new EventSource(root.dataset.liveUrl);

  source.addEventListener("tracking", function (event) {
    var data = JSON.parse(event.data);
    if (data.mark === root.dataset.mark) {
      return;
    }
    root.dataset.mark = data.mark;
    root.dataset.status = data.order_status;
    swap("badge", data.badge);
    swap("tracking", data.panel);
    swap("timeline", data.timeline);
  });

  source.addEventListener("gone", function () {
    source.close();
  });

  window.addEventListener("pagehide", function () {
    source.close();
  });
})();
