// forge board: live updates over server-sent events, and transcripts loaded on demand.
// No framework, no inline handlers (the CSP forbids them); data goes in as textContent only.
(function () {
  "use strict";

  var TEXT_LIMIT = 4000;
  var JSON_LIMIT = 2000;
  var body = document.body;
  if (!body.dataset.updates) body.dataset.updates = "0";

  // -- small DOM helpers ---------------------------------------------------------------

  function clip(text, limit) {
    text = text == null ? "" : String(text);
    if (text.length <= limit) return text;
    var half = Math.floor(limit / 2);
    return text.slice(0, half) + "\n[… " + (text.length - limit) + " characters not shown …]\n" + text.slice(-half);
  }

  function preview(value, limit) {
    if (typeof value === "string") return clip(value, limit);
    var text;
    try {
      text = JSON.stringify(value, null, 2);
    } catch (err) {
      text = String(value);
    }
    return clip(text, limit);
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text != null && text !== "") node.textContent = String(text);
    return node;
  }

  function pre(cls, text, limit) {
    return el("pre", cls, preview(text, limit || TEXT_LIMIT));
  }

  // -- transcripts ---------------------------------------------------------------------

  function contentBlock(block) {
    var box = el("div", "block " + (block.type || "unknown"));
    if (block.type === "text") {
      box.appendChild(pre("text", block.text));
    } else if (block.type === "tool_use") {
      box.appendChild(el("span", "tool-name", "→ " + (block.name || "tool")));
      box.appendChild(pre("input", block.input, JSON_LIMIT));
    } else if (block.type === "tool_result") {
      box.appendChild(el("span", "tool-name", "← result"));
      box.appendChild(pre("result", block.content, JSON_LIMIT));
    } else if (block.type === "thinking") {
      box.appendChild(pre("thinking", block.thinking || "", TEXT_LIMIT));
    } else {
      box.appendChild(pre("other", block, JSON_LIMIT));
    }
    return box;
  }

  function renderEvent(event) {
    var kind = String(event.event || "event");
    var item = el("li", "ev " + kind.replace(/[^a-z0-9_-]/gi, "-"));
    var head = el("div", "ev-head");
    head.appendChild(el("span", "ev-kind", kind));
    if (event.t != null) head.appendChild(el("span", "ev-time", "+" + Number(event.t).toFixed(1) + "s"));
    item.appendChild(head);
    if (kind === "start") {
      head.appendChild(el("span", "ev-role", [event.role, event.backend, event.model].filter(Boolean).join(" · ")));
      if (event.tools) item.appendChild(el("div", "tools", "tools: " + [].concat(event.tools).join(", ")));
      if (event.prompt) item.appendChild(pre("prompt", event.prompt));
    } else if (kind === "request") {
      head.appendChild(el("span", "", "turn " + event.turn + " · " + event.messages + " messages · " + event.bytes + " bytes"));
    } else if (kind === "response") {
      var bits = [];
      if (event.turn != null) bits.push("turn " + event.turn);
      if (event.stop_reason) bits.push(event.stop_reason);
      if (event.cost_usd != null) bits.push("$" + Number(event.cost_usd).toFixed(4));
      head.appendChild(el("span", "", bits.join(" · ")));
      (Array.isArray(event.content) ? event.content : []).forEach(function (block) {
        item.appendChild(contentBlock(block || {}));
      });
      if (event.stdout) item.appendChild(pre("stdout", event.stdout));
      if (event.stderr) item.appendChild(pre("stderr", event.stderr));
    } else if (kind === "tool") {
      if (event.is_error) item.classList.add("error");
      head.appendChild(el("span", "tool-name", event.name || "tool"));
      if (event.duration != null) head.appendChild(el("span", "", Number(event.duration).toFixed(2) + "s"));
      item.appendChild(pre("input", event.input, JSON_LIMIT));
      item.appendChild(pre("result", event.result));
    } else if (kind === "note") {
      item.appendChild(el("p", "note", event.note));
      if (event.error || event.errors) item.appendChild(pre("error", event.error || event.errors, JSON_LIMIT));
    } else if (kind === "end") {
      head.appendChild(el("span", "", [event.outcome, event.reason].filter(Boolean).join(": ")));
      if (event.usage) item.appendChild(pre("usage", event.usage, JSON_LIMIT));
    } else {
      item.appendChild(pre("raw", event, JSON_LIMIT));
    }
    return item;
  }

  function loadTranscript(details) {
    var url = details.dataset.url;
    var target = details.querySelector(".transcript-body");
    if (!url || !target) return;
    details.dataset.loaded = "loading";
    fetch(url, { headers: { Accept: "application/json" }, cache: "no-store" })
      .then(function (response) {
        if (!response.ok) throw new Error("HTTP " + response.status);
        return response.json();
      })
      .then(function (data) {
        var events = Array.isArray(data) ? data : (data && data.events) || [];
        var list = el("ol", "events");
        events.forEach(function (event) {
          list.appendChild(renderEvent(event || {}));
        });
        if (!events.length) list.appendChild(el("li", "empty", "No events yet."));
        target.replaceChildren(list);
        details.dataset.loaded = "1";
      })
      .catch(function (err) {
        target.replaceChildren(el("p", "error", "Could not load the transcript: " + err.message));
        delete details.dataset.loaded;
      });
  }

  // toggle does not bubble, but a capturing listener on the document still sees it.
  document.addEventListener(
    "toggle",
    function (event) {
      var details = event.target;
      if (details.matches && details.matches("details[data-session]") && details.open && !details.dataset.loaded) {
        loadTranscript(details);
      }
    },
    true
  );

  // -- live updates --------------------------------------------------------------------

  function swap(html) {
    var doc = new DOMParser().parseFromString(html, "text/html");
    var fresh = doc.getElementById("content") || doc.body;
    var content = document.getElementById("content");
    if (!fresh || !content) return;
    var open = {};
    content.querySelectorAll("details[data-session]").forEach(function (details) {
      if (details.open) open[details.dataset.session] = details.querySelector(".transcript-body");
    });
    content.innerHTML = fresh.innerHTML;
    content.querySelectorAll("details[data-session]").forEach(function (details) {
      var old = open[details.dataset.session];
      if (old === undefined) return;
      var target = details.querySelector(".transcript-body");
      if (old && target) target.replaceWith(old);
      // Marked loaded first so the toggle that `open` fires does not fetch twice.
      details.dataset.loaded = "1";
      details.open = true;
      loadTranscript(details);
    });
    if (doc.title) document.title = doc.title;
  }

  var busy = false;
  var again = false;

  function refresh() {
    if (busy) {
      again = true;
      return;
    }
    busy = true;
    fetch(location.pathname + location.search, { cache: "no-store" })
      .then(function (response) {
        if (!response.ok && response.status !== 404) throw new Error("HTTP " + response.status);
        return response.text();
      })
      .then(function (html) {
        swap(html);
        body.dataset.updates = String(Number(body.dataset.updates || "0") + 1);
      })
      .catch(function () {
        // The next state event tries again.
      })
      .then(function () {
        busy = false;
        if (again) {
          again = false;
          refresh();
        }
      });
  }

  if (body.dataset.live === "1" && typeof EventSource === "function") {
    // The first state event is the version this page was rendered at.
    var last = null;
    var source = new EventSource("/api/events");
    source.addEventListener("open", function () {
      body.dataset.sse = "open";
    });
    source.addEventListener("error", function () {
      body.dataset.sse = source.readyState === EventSource.CLOSED ? "closed" : "reconnecting";
    });
    source.addEventListener("state", function (event) {
      var version = String(JSON.parse(event.data).version);
      if (last === null) {
        last = version;
        return;
      }
      if (version === last) return;
      last = version;
      refresh();
    });
  }
})();
