// Kefu chat widget. Served by the desk as /widget.js, bundled after the
// socket.io client (no CDN). Embed:
//   <script src="https://desk.example.com/widget.js"></script>
//   <script>KefuWidget.init({server: "https://bot.example.com"});</script>
//   <button onclick="KefuWidget.open()">联系客服</button>
// Mobile first (WeChat's in-app browser): full screen below 600 px.
// After a reload it shows the conversation so far, who is serving the
// customer and their ticket numbers, read from the desk that served this
// script (GET /api/widget/<session id>/history; docs/channels.md).
(function () {
  "use strict";
  // The desk's origin: where this script came from (the shop's page is elsewhere).
  var SCRIPT_ORIGIN = (function () {
    try { return new URL(document.currentScript.src).origin; } catch (e) { return location.origin; }
  })();
  var CSS = [
    ".kefu-launch{position:fixed;right:16px;bottom:16px;z-index:2147483000;border:0;border-radius:24px;",
    "padding:12px 18px;background:#1f6feb;color:#fff;font-size:16px;box-shadow:0 2px 8px #0003}",
    ".kefu-panel{position:fixed;right:16px;bottom:16px;z-index:2147483001;width:360px;height:540px;",
    "display:flex;flex-direction:column;background:#fff;border-radius:12px;box-shadow:0 4px 16px #0004;",
    "font-family:-apple-system,'PingFang SC','Microsoft YaHei',sans-serif;overflow:hidden}",
    ".kefu-panel[hidden]{display:none}",
    "@media (max-width:600px){.kefu-panel{right:0;bottom:0;width:100%;height:100%;border-radius:0}}",
    ".kefu-head{display:flex;align-items:center;gap:8px;padding:10px 12px;background:#1f6feb;color:#fff}",
    ".kefu-head .kefu-status{font-size:12px;opacity:.85}.kefu-head button{margin-left:auto;background:none;",
    "border:0;color:#fff;font-size:20px}",
    ".kefu-log{flex:1;overflow-y:auto;padding:10px;background:#f6f8fa;margin:0;list-style:none}",
    ".kefu-log li{max-width:80%;margin:6px 0;padding:8px 10px;border-radius:10px;background:#fff;",
    "white-space:pre-wrap;word-break:break-word;font-size:15px}",
    ".kefu-log li.kefu-me{margin-left:auto;background:#d2e8ff}",
    ".kefu-log li.kefu-note{max-width:100%;background:none;color:#666;font-size:12px;text-align:center}",
    ".kefu-log .kefu-who{display:block;font-size:12px;color:#1f6feb;margin-bottom:2px}",
    ".kefu-quick{display:flex;flex-wrap:wrap;gap:6px;padding:0 10px}",
    ".kefu-quick button{border:1px solid #1f6feb;color:#1f6feb;background:#fff;border-radius:14px;padding:4px 10px}",
    ".kefu-typing{padding:2px 12px;font-size:12px;color:#888;min-height:16px}",
    ".kefu-form{display:flex;gap:6px;padding:8px;border-top:1px solid #eee}",
    ".kefu-form .kefu-text{flex:1;font-size:16px;padding:8px;border:1px solid #ccc;border-radius:6px}",
    ".kefu-form button{padding:8px 14px;border:0;border-radius:6px;background:#1f6feb;color:#fff}",
    ".kefu-limit{padding:2px 12px;font-size:12px;color:#c62828}.kefu-limit:empty{display:none}",
    ".kefu-tickets{padding:4px 12px;font-size:12px;color:#555;background:#eef4ff}.kefu-tickets:empty{display:none}"
  ].join("");
  var DEFAULT_QUICK = ["咨询", "报修", "缴费", "投诉", "转人工"];
  var STORE_KEY = "kefu_session_id";
  // The server's limit on every channel (kefu/text/received.py MAX_TEXT_CHARS).
  // No maxLength on the input: it would cut pasted text without a word.
  var MAX_CHARS = 5000;
  // How long "正在输入…" may stay without news: the bot answers within
  // seconds or not at all (paused for an agent); an agent's page repeats its
  // signal every 3 s while typing.
  var BOT_WORKING_MS = 8000;
  var AGENT_TYPING_MS = 7000;
  var TICKET_NUMBER = /KF\d{6}/g;
  var STATUS = {bot: "在线", waiting: "排队中，请稍候"};

  function charCount(text) {
    return Array.from(text).length;  // code points, as the server counts them
  }

  function el(tag, cls, text) {
    var node = document.createElement(tag);
    if (cls) node.className = cls;
    if (text) node.textContent = text;
    return node;
  }

  function sessionId() {
    var id = null;
    try { id = localStorage.getItem(STORE_KEY); } catch (e) { /* private mode */ }
    if (!id || !/^web-[0-9a-z]{16,64}$/.test(id)) {
      // Unguessable: the id is the customer's whole identity on this channel.
      var bytes = new Uint8Array(16);
      (window.crypto || window.msCrypto).getRandomValues(bytes);
      id = "web-" + Array.prototype.map.call(bytes, function (b) { return ("0" + b.toString(16)).slice(-2); }).join("");
      try { localStorage.setItem(STORE_KEY, id); } catch (e) { /* kept for this page only */ }
    }
    return id;
  }

  function init(options) {
    options = options || {};
    var title = options.title || "在线客服";
    var style = el("style"); style.textContent = CSS; document.head.appendChild(style);

    var launch = el("button", "kefu-launch", title);
    var panel = el("section", "kefu-panel"); panel.hidden = true;
    panel.setAttribute("aria-label", title);
    var head = el("div", "kefu-head");
    var name = el("strong", null, title);
    var status = el("span", "kefu-status", "连接中…");
    var close = el("button", null, "×"); close.setAttribute("aria-label", "关闭");
    head.appendChild(name); head.appendChild(status); head.appendChild(close);
    var tickets = el("div", "kefu-tickets"); tickets.setAttribute("aria-live", "polite");
    var log = el("ol", "kefu-log");
    var quick = el("div", "kefu-quick");
    var typing = el("div", "kefu-typing");
    var form = el("form", "kefu-form");
    var input = el("input", "kefu-text"); input.placeholder = "请输入您的问题";
    var limit = el("div", "kefu-limit"); limit.setAttribute("role", "alert");
    var send = el("button", null, "发送"); send.type = "submit";
    form.appendChild(input); form.appendChild(send);
    panel.appendChild(head); panel.appendChild(tickets); panel.appendChild(log); panel.appendChild(quick);
    panel.appendChild(typing); panel.appendChild(limit); panel.appendChild(form);
    document.body.appendChild(launch); document.body.appendChild(panel);

    var id = sessionId();
    var desk = (options.desk || SCRIPT_ORIGIN).replace(/\/+$/, "");
    var state = "bot";         // bot | waiting | agent: who answers the customer
    var agent = null;          // the human who has taken over, if any
    var connected = null;      // null until the first connection
    var typingTimer = null;
    var restored = false;      // the history has been read (or could not be)
    var greeted = false;
    var early = [];            // socket events that came before the history
    var ticketNumbers = [];

    function add(kind, text, who) {
      var li = el("li", kind === "me" ? "kefu-me" : kind === "note" ? "kefu-note" : "kefu-bot");
      if (who) li.appendChild(el("span", "kefu-who", who));
      li.appendChild(document.createTextNode(text));
      log.appendChild(li);
      log.scrollTop = log.scrollHeight;
      if (kind === "bot") noteTickets(text);
    }

    // The numbers the customer was given, kept in view to quote back.
    function noteTickets(text) {
      (String(text).match(TICKET_NUMBER) || []).forEach(function (n) {
        if (ticketNumbers.indexOf(n) < 0) ticketNumbers.push(n);
      });
      tickets.textContent = ticketNumbers.length ? "您的工单号：" + ticketNumbers.join("、") : "";
    }

    function showStatus() {
      if (!connected) { status.textContent = connected === null ? "连接中…" : "连接中断，正在重连…"; return; }
      status.textContent = state === "agent" && agent ? "人工客服 " + agent + " 为您服务" : (STATUS[state] || STATUS.bot);
    }

    function setState(next, name) {
      state = next;
      agent = next === "agent" ? name || agent : null;
      showStatus();
    }

    function showQuick(replies) {
      quick.textContent = "";
      replies.forEach(function (r) {
        var b = el("button", null, r.title || r); b.type = "button";
        // "您是不是想问": the button sends the number and shows the question.
        b.addEventListener("click", function () { say(r.payload || r.title || r, r.title); });
        quick.appendChild(b);
      });
    }

    // Only while somebody is really at work: the bot on the customer's
    // message (until its answer), or an agent typing in the desk.
    function setTyping(on, who, ms) {
      clearTimeout(typingTimer);
      typing.textContent = on ? (who ? "客服 " + who + " 正在输入…" : "客服正在输入…") : "";
      if (on) typingTimer = setTimeout(function () { typing.textContent = ""; }, ms);
    }

    var socket = window.io(options.server || location.origin, {
      path: options.path || "/socket.io",
      // Lets a load balancer send this customer to the server that holds the
      // conversation (Kefu's scaled profile hashes on it).
      query: {kefu_sender: id},
      // Cross-origin embedding: websocket needs no CORS pre-flight.
      transports: ["websocket"],
      reconnection: true, reconnectionDelay: 1000, reconnectionDelayMax: 10000
    });

    socket.on("connect", function () {
      // The same session after a reconnect or a page reload (session persistence).
      socket.emit("session_request", {session_id: id});
    });
    socket.on("session_confirm", function () { connected = true; showStatus(); greet(); });
    socket.on("disconnect", function () { connected = false; showStatus(); });
    socket.on("connect_error", function () { connected = false; showStatus(); });

    function botUttered(data) {
      data = data || {};
      if (data.kefu_agent_joined) {
        setTyping(false);
        setState("agent", data.kefu_agent_joined);
        add("note", "人工客服 " + agent + " 已为您接入");
        return;
      }
      if (data.kefu_agent_left) {
        setTyping(false);
        add("note", "人工客服已结束服务，智能客服继续为您服务");
        setState("bot");
        return;
      }
      if (data.kefu_handoff) { setState("waiting"); return; }
      if (data.text) { setTyping(false); add("bot", data.text, agent ? "客服 " + agent : null); }
      if (data.quick_replies && data.quick_replies.length) showQuick(data.quick_replies);
    }

    // Texts after the history was read; the ones before wait for it.
    socket.on("bot_uttered", function (data) { if (restored) botUttered(data); else early.push(data); });
    socket.on("kefu_typing", function (data) {
      data = data || {};
      if (data.typing) setTyping(true, data.agent || agent, AGENT_TYPING_MS);
      else setTyping(false);
    });

    // The conversation so far, and who serves it, from the desk.
    function restore(body) {
      var typedMeanwhile = Array.prototype.slice.call(log.children);
      (body.messages || []).forEach(function (m) {
        if (m.from === "customer") add("me", m.text);
        else add("bot", m.text, m.from === "agent" && m.agent ? "客服 " + m.agent : null);
      });
      // What the customer sent before the history came stays the newest.
      typedMeanwhile.forEach(function (li) { log.appendChild(li); });
      (body.tickets || []).forEach(function (n) { noteTickets(n); });
      if (body.state === "agent" || body.state === "waiting") setState(body.state, body.agent);
      else showStatus();
    }

    function historyRead() {
      restored = true;
      early.splice(0).forEach(botUttered);
      greet();
    }

    fetch(desk + "/api/widget/" + encodeURIComponent(id) + "/history", {credentials: "omit", cache: "no-store"})
      .then(function (resp) { return resp.ok ? resp.json() : {}; })
      .then(restore)
      .catch(function () { /* no history: a fresh conversation */ })
      .then(historyRead);

    // One greeting, the bot's own (it is then in the history, for the agent
    // too): asked for once, when a customer with no conversation yet opens it.
    function greet() {
      // After session_confirm: the answer goes to the session's room, joined then.
      if (greeted || panel.hidden || !restored || !connected || log.children.length) return;
      greeted = true;
      socket.emit("user_uttered", {message: "/greet", session_id: id, customData: {kefu_opening: true}});
      setTyping(true, null, BOT_WORKING_MS);
    }

    // Empty when the text fits; otherwise tells the customer the limit.
    function checkLength(text) {
      var count = charCount(text);
      limit.textContent = count > MAX_CHARS
        ? "单条消息最多" + MAX_CHARS + "字，当前" + count + "字，请删减或分几条发送。" : "";
      return count <= MAX_CHARS;
    }

    function say(text, shown) {
      text = (text || "").trim();
      if (!text) return false;
      if (!checkLength(text)) return false;
      add("me", shown || text);
      socket.emit("user_uttered", {message: text, session_id: id});
      // The bot is paused while the queue or an agent has the conversation.
      if (state === "bot") setTyping(true, null, BOT_WORKING_MS);
      else setTyping(false);
      return true;
    }

    // A person serves (or is about to): they see "客户正在输入…" while the
    // customer types, signalled at most every 3 s.
    var typingSent = 0;
    input.addEventListener("input", function () {
      checkLength(input.value.trim());
      if (state !== "bot" && socket && socket.connected && Date.now() - typingSent > 3000) {
        typingSent = Date.now();
        socket.emit("kefu_customer_typing", {session_id: id});
      }
    });
    form.addEventListener("submit", function (event) {
      event.preventDefault();
      // Too long: the text stays in the box, for the customer to shorten or split.
      if (say(input.value)) input.value = "";
    });
    function open() { panel.hidden = false; launch.hidden = true; input.focus(); greet(); }
    function hide() { panel.hidden = true; launch.hidden = false; }
    launch.addEventListener("click", open);
    close.addEventListener("click", hide);
    photoUpload({form: form, send: send, log: log, sessionId: id, desk: (options.desk || SCRIPT_ORIGIN).replace(/\/+$/, ""),
                 reply: function (text) { add("bot", text); }, note: function (text) { add("note", text); }});
    showQuick(options.quickReplies || DEFAULT_QUICK);
    current = {say: say, sessionId: id, open: open, close: hide};
    if (options.open || openAsked) open();
    openAsked = false;
    return current;
  }

  // -- photo upload (issue 13) ---------------------------------------------
  var PHOTO_TYPES = "image/jpeg,image/png,image/webp,image/gif";
  var PHOTO_MAX_BYTES = 10 * 1024 * 1024;  // the desk's limit (kefu/core/media.py MAX_BYTES)
  var PHOTO_CSS = ".kefu-photo-btn{padding:8px 10px!important;background:#fff!important;border:1px solid #ccc!important;" +
    "color:#1f6feb!important;font-size:14px;white-space:nowrap}.kefu-log li.kefu-photo{padding:4px}" +
    ".kefu-log li.kefu-photo img{display:block;max-width:200px;max-height:200px;border-radius:6px}";

  // A 图片 button before 发送 (a word, not 📷: not every font has the emoji).
  // The picture goes to the desk (not over socket.io, which stays text), is
  // shown in the conversation, and the desk's acknowledgement is the reply.
  function photoUpload(ctx) {
    var style = el("style"); style.textContent = PHOTO_CSS; document.head.appendChild(style);
    var picker = el("input"); picker.type = "file"; picker.accept = PHOTO_TYPES; picker.hidden = true;
    var button = el("button", "kefu-photo-btn", "图片"); button.type = "button";
    button.setAttribute("aria-label", "发送图片"); button.title = "发送图片";
    ctx.form.insertBefore(picker, ctx.send); ctx.form.insertBefore(button, ctx.send);
    button.addEventListener("click", function () { picker.click(); });
    picker.addEventListener("change", function () {
      var file = picker.files && picker.files[0];
      picker.value = "";
      if (!file) return;
      if (file.size > PHOTO_MAX_BYTES) { ctx.note("图片太大了，请选择 10 MB 以内的图片。"); return; }
      var body = new FormData(); body.append("file", file);
      button.disabled = true;
      var base = ctx.desk + "/api/widget/" + encodeURIComponent(ctx.sessionId) + "/media";
      fetch(base, {method: "POST", body: body, mode: "cors", credentials: "omit"})
        .then(function (resp) {
          return resp.json().then(function (data) { return {ok: resp.ok, data: data || {}}; });
        })
        .then(function (r) {
          if (!r.ok) { ctx.note(r.data.error || "图片没有发送成功，请稍后再试。"); return; }
          var li = el("li", "kefu-me kefu-photo");
          var img = el("img"); img.alt = "您发送的图片"; img.src = ctx.desk + r.data.url;
          li.appendChild(img); ctx.log.appendChild(li);
          ctx.reply(r.data.reply);
        })
        .catch(function () { ctx.note("图片没有发送成功，请检查网络后再试。"); })
        .then(function () { button.disabled = false; });
    });
  }


  // The page's own "联系客服" buttons: KefuWidget.open() / KefuWidget.close().
  var current = null;
  var openAsked = false;  // open() before init(): opened as soon as it starts
  window.KefuWidget = {
    init: init,
    open: function () { if (current) current.open(); else openAsked = true; },
    close: function () { if (current) current.close(); else openAsked = false; }
  };
})();
