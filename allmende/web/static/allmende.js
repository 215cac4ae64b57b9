/* Allmende – progressive enhancement only: every page works without this file.
   1. Focus the error summary of a form that came back with errors (or the guide preview).
   2. Search and list filters update the results in place (no reload button needed); the URL follows,
      and the counts beside the filter values are refreshed.
   3. Search as you type: suggestions from /api/v1/search/suggest in an ARIA 1.2 combobox.
   4. "Zum Vergleich hinzufügen" updates the comparison tray without leaving the page. */
(function () {
  "use strict";

  var live = document.getElementById("live-region");

  function announce(text) {
    if (!live) { return; }
    live.textContent = "";
    window.setTimeout(function () { live.textContent = text; }, 60);
  }

  var summary = document.querySelector("[data-error-summary]");
  var preview = document.querySelector("[data-preview]");
  if (summary) { summary.focus(); } else if (preview) { preview.focus(); }

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
        doc.querySelectorAll("[data-count]").forEach(function (count) {
          var mine = count.id ? document.getElementById(count.id) : null;
          if (mine) { mine.replaceWith(document.importNode(count, true)); }
        });
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

  /* 3. Suggestions while typing */
  function decode(text) {
    var area = document.createElement("textarea");
    area.innerHTML = text;
    return area.value;
  }

  /* The engine's snippet is escaped text with <mark>: rebuild it from text nodes, never as HTML. */
  function fillMarked(element, snippet) {
    var marked = false;
    String(snippet).split(/(<mark>|<\/mark>)/).forEach(function (part) {
      if (part === "<mark>") { marked = true; return; }
      if (part === "</mark>") { marked = false; return; }
      if (!part) { return; }
      var text = document.createTextNode(decode(part.replace(/<[^>]*>/g, "")));
      if (marked) {
        var mark = document.createElement("mark");
        mark.appendChild(text);
        element.appendChild(mark);
      } else {
        element.appendChild(text);
      }
    });
  }

  function enhanceSuggestions(input) {
    var wrap = input.parentNode;
    var list = document.createElement("ul");
    var types = {};
    try { types = JSON.parse(input.getAttribute("data-suggest-types") || "{}"); } catch (ignore) { types = {}; }
    list.id = input.id + "-vorschlaege";
    list.className = "suggestions";
    list.setAttribute("role", "listbox");
    list.setAttribute("aria-label", input.getAttribute("data-suggest-label") || "");
    list.hidden = true;
    wrap.appendChild(list);
    input.setAttribute("role", "combobox");
    input.setAttribute("aria-autocomplete", "list");
    input.setAttribute("aria-expanded", "false");
    input.setAttribute("aria-controls", list.id);
    input.setAttribute("autocomplete", "off");

    var active = -1;
    var timer = null;
    var asked = 0;

    var options = function () { return list.querySelectorAll("[role=option]"); };

    var close = function () {
      list.hidden = true;
      input.setAttribute("aria-expanded", "false");
      input.removeAttribute("aria-activedescendant");
      active = -1;
    };

    var highlight = function (index) {
      var all = options();
      if (!all.length) { return; }
      active = (index + all.length) % all.length;
      all.forEach(function (option, i) { option.setAttribute("aria-selected", i === active ? "true" : "false"); });
      input.setAttribute("aria-activedescendant", all[active].id);
      all[active].scrollIntoView({ block: "nearest" });
    };

    var choose = function (option) {
      input.value = option.getAttribute("data-value");
      close();
      if (input.form) {
        if (input.form.requestSubmit) { input.form.requestSubmit(); } else { input.form.submit(); }
      }
    };

    var show = function (items) {
      list.textContent = "";
      active = -1;
      input.removeAttribute("aria-activedescendant");
      items.forEach(function (item, i) {
        var option = document.createElement("li");
        option.id = list.id + "-" + i;
        option.setAttribute("role", "option");
        option.setAttribute("aria-selected", "false");
        option.setAttribute("data-value", item.title || "");
        var title = document.createElement("span");
        fillMarked(title, item.highlight || item.title || "");
        option.appendChild(title);
        if (types[item.type]) {
          var kind = document.createElement("span");
          kind.className = "suggestion-type";
          kind.textContent = types[item.type];
          option.appendChild(kind);
        }
        option.addEventListener("mousedown", function (event) { event.preventDefault(); });
        option.addEventListener("click", function () { choose(option); });
        list.appendChild(option);
      });
      if (items.length) {
        list.hidden = false;
        input.setAttribute("aria-expanded", "true");
        var many = input.getAttribute("data-suggest-many") || "";
        announce(items.length === 1 ? input.getAttribute("data-suggest-one") : many.replace("{n}", items.length));
      } else {
        close();
      }
    };

    var ask = function () {
      var text = input.value.trim();
      if (text.length < 2) { close(); return; }
      var ticket = ++asked;
      fetch("/api/v1/search/suggest?limit=6&q=" + encodeURIComponent(text.slice(0, 200)), {
        headers: { "Accept": "application/json" }
      }).then(function (response) {
        return response.ok ? response.json() : { items: [] };
      }).then(function (data) {
        if (ticket === asked && document.activeElement === input) { show(data.items || []); }
      }).catch(function () { close(); });
    };

    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(ask, 150);
    });
    input.addEventListener("keydown", function (event) {
      var open = !list.hidden;
      if (event.key === "ArrowDown") {
        event.preventDefault();
        if (open) { highlight(active + 1); } else { ask(); }
      } else if (event.key === "ArrowUp" && open) {
        event.preventDefault();
        highlight(active - 1);
      } else if (event.key === "Enter" && open && active >= 0) {
        event.preventDefault();
        choose(options()[active]);
      } else if (event.key === "Escape" && open) {
        event.preventDefault();
        close();
      }
    });
    input.addEventListener("blur", function () { window.setTimeout(close, 120); });
  }

  document.querySelectorAll("input[data-suggest]").forEach(enhanceSuggestions);

  /* 4. Comparison tray */
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
