/* Allmende – progressive enhancement only: every page works without this file.
   1. Focus the error summary of a form that came back with errors.
   2. Catalog filters update the results in place (no reload button needed); the URL follows.
   3. "Zum Vergleich hinzufügen" updates the comparison tray without leaving the page. */
(function () {
  "use strict";

  var live = document.getElementById("live-region");

  function announce(text) {
    if (!live) { return; }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 60);
  }

  var summary = document.querySelector("[data-error-summary]");
  if (summary) { summary.focus(); }

  var supported = window.fetch && window.FormData && window.URLSearchParams && window.DOMParser && window.history;
  if (!supported) { return; }

  /* 2. Filters */
  var filterForm = document.querySelector("[data-filter-form]");
  if (filterForm) {
    var timer = null;
    var pending = null;

    var urlFor = function () {
      var params = new URLSearchParams();
      new FormData(filterForm).forEach(function (value, key) {
        if (value !== "") { params.append(key, value); }
      });
      var query = params.toString();
      return filterForm.getAttribute("action") + (query ? "?" + query : "");
    };

    var load = function (url) {
      var request = pending = fetch(url, { headers: { "Accept": "text/html" }, credentials: "same-origin" });
      request.then(function (response) { return response.text(); }).then(function (html) {
        if (request !== pending) { return; }
        var doc = new DOMParser().parseFromString(html, "text/html");
        var fresh = doc.querySelector("[data-results]");
        var current = document.querySelector("[data-results]");
        if (!fresh || !current) { window.location.assign(url); return; }
        current.replaceWith(document.importNode(fresh, true));
        document.title = doc.title;
        window.history.pushState({ allmendeFilters: true }, "", url);
        var heading = document.querySelector("[data-results] h2");
        announce(heading ? heading.textContent : "");
      }).catch(function () { window.location.assign(url); });
    };

    var schedule = function (delay) {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () { load(urlFor()); }, delay);
    };

    filterForm.addEventListener("change", function (event) {
      if (event.target && event.target.name === "q") { return; }
      schedule(120);
    });
    filterForm.addEventListener("input", function (event) {
      if (event.target && event.target.name === "q") { schedule(450); }
    });
    window.addEventListener("popstate", function () { window.location.reload(); });
  }

  /* 3. Comparison tray */
  if (window.location.pathname !== "/vergleich") {
    document.addEventListener("submit", function (event) {
      var form = event.target;
      if (!form || !form.matches || !form.matches("[data-compare-form]")) { return; }
      event.preventDefault();
      fetch(form.getAttribute("action"), {
        method: "POST",
        body: new FormData(form),
        headers: { "Accept": "application/json" },
        credentials: "same-origin"
      }).then(function (response) {
        return response.json();
      }).then(function (data) {
        document.querySelectorAll("[data-compare-tray]").forEach(function (link) {
          link.textContent = data.label;
          link.setAttribute("href", data.url);
        });
        if (data.ok) {
          var action = form.querySelector("input[name=aktion]");
          var label = form.querySelector("[data-label]");
          var adding = action.value === "add";
          action.value = adding ? "remove" : "add";
          if (label) { label.textContent = adding ? form.dataset.labelRemove : form.dataset.labelAdd; }
        }
        announce(data.message);
      }).catch(function () { form.submit(); });
    });
  }
}());
