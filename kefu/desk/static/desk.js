// The agent desk: waiting queue, one conversation, take over, reply, return to bot.
// Live over the desk's websocket (/api/live); after a drop it reconnects and
// asks for everything after the last turn it has, so nothing is missed.
const CHANNELS = {rest: "网页", socketio: "网页", wechat: "微信", wecom: "企业微信", taobao: "淘宝", tmall: "天猫"};
const INTENTS = {request_human: "转人工", complaint: "投诉", repair: "报修", inquiry: "咨询",
                 payment_reminder: "缴费", nlu_fallback: "未识别", emergency: "紧急情况",
                 affirm: "转人工", deny: "转人工", ticket_status: "查工单"};
let me = null;
let openId = null;
let lastQueueSize = 0;
let lastSeen = 0;          // timestamp of the newest turn shown
let socket = null;

async function api(path, options = {}) {
  const headers = {"Content-Type": "application/json", "X-CSRF-Token": me ? me.csrf_token : ""};
  const resp = await fetch(path, {...options, headers, credentials: "same-origin"});
  if (resp.status === 401) {
    location.href = "/login";
    throw new Error("signed out");
  }
  return resp;
}

function waited(since) {
  if (!since) return "";
  const minutes = Math.max(0, Math.round((Date.now() - Date.parse(since)) / 60000));
  return minutes < 1 ? "刚刚" : `已等待 ${minutes} 分钟`;
}

// Emergencies and urgent repairs: the server lists them first; the badge says why.
function urgentBadge() {
  const urgent = document.createElement("span");
  urgent.className = "badge-urgent";
  urgent.textContent = "紧急";
  return urgent;
}

function item(conversation) {
  const li = document.createElement("li");
  li.dataset.id = conversation.id;
  li.className = conversation.priority === "urgent" ? "urgent" : "";
  const badge = document.createElement("span");   // the channel's coloured icon
  badge.className = `channel channel-${conversation.channel}`;
  badge.textContent = CHANNELS[conversation.channel] || conversation.channel;
  badge.title = conversation.channel;
  if (conversation.priority === "urgent") li.append(urgentBadge());
  li.append(badge, ` ${conversation.customer_id} · ` +
    `${INTENTS[conversation.intent] || conversation.intent || ""} · ${waited(conversation.waiting_since)}`);
  const unread = unreadOf(conversation);
  if (unread > 0) li.append(Object.assign(document.createElement("span"), {className: "unread", textContent: String(unread)}));
  if (conversation.latest_text) {
    li.append(Object.assign(document.createElement("div"), {className: "latest", textContent: conversation.latest_text}));
  }
  if (conversation.status === "waiting" && conversation.position) {
    const place = document.createElement("span");
    place.className = "position";
    place.textContent = ` · ${conversation.group || "排队"}第${conversation.position}位`;
    li.append(place);
  }
  li.addEventListener("click", () => openConversation(conversation.id));
  return li;
}

function showQueue(all) {
  lastAll = all;
  const waiting = all.filter((c) => c.status === "waiting");
  const mine = all.filter((c) => c.status === "assigned" && c.assignee_id === me.id);
  countUnread(mine);
  document.getElementById("queue").replaceChildren(...waiting.map(item));
  document.getElementById("mine").replaceChildren(...mine.map(item));
  document.getElementById("queue-count").textContent = waiting.length;
  if (waiting.length > lastQueueSize) blinkTitle();
  lastQueueSize = waiting.length;
  // Routing gave this agent a conversation: a sound and a desktop notification.
  const arrived = mineLoaded ? mine.filter((c) => !knownMine.has(c.id)) : [];
  // Known before anything below runs: opening a conversation draws the list again.
  knownMine = new Set(mine.map((c) => c.id));
  mineLoaded = true;
  if (arrived.length) {
    alertAssigned(arrived);
    if (openId === null) openConversation(arrived[0].id);  // nothing open: show the new one
  }
  if (me.role === "supervisor") alertUnstaffed(waiting.filter((c) => c.unstaffed));
  const open = all.find((c) => c.id === openId);
  if (openId !== null) showHeader(open || null);
  document.getElementById("customer-typing").textContent = open && open.customer_typing ? "客户正在输入…" : "";
}

let knownMine = new Set();
let lastAll = [];  // the latest queue frame, drawn again when the open conversation changes
// Customer messages read per conversation (the desk counts them as they go by):
// the difference is the unread badge of 我的会话.
const readCount = {};
const unreadShown = {};

function unreadOf(c) {
  return c.id in readCount ? Math.max(0, (c.customer_messages || 0) - readCount[c.id]) : 0;
}

function countUnread(mine) {
  for (const c of mine) {
    if (!(c.id in readCount) || c.id === openId) readCount[c.id] = c.customer_messages || 0;
    const unread = unreadOf(c);
    // A new message in a conversation in the background: a sound and a notification.
    if (unread > (unreadShown[c.id] || 0)) {
      beep();
      if ("Notification" in window && Notification.permission === "granted") {
        new Notification("客户新消息", {body: `${c.customer_id}：${c.latest_text || ""}`, tag: `kefu-msg-${c.id}`});
      }
    }
    unreadShown[c.id] = unread;
  }
}
let mineLoaded = false;    // the first queue frame lists what was already ours: no alert

let alertedUrgent = new Set();

// An urgent conversation (困人, 燃气…) that no agent at the desk can take:
// every supervisor sees it at the top of the page, with a sound and a
// desktop notification the first time.
function alertUnstaffed(urgent) {
  const banner = document.getElementById("urgent-alert");
  banner.hidden = urgent.length === 0;
  if (!urgent.length) { alertedUrgent = new Set(); return; }
  const first = urgent[0];
  const text = `紧急：${urgent.length} 个紧急会话无人接待，客户 ${first.customer_id}：${first.last_message || ""}`;
  banner.replaceChildren(text + " ");
  const open = document.createElement("button");
  open.type = "button";
  open.textContent = "立即查看";
  open.addEventListener("click", () => openConversation(first.id));
  banner.append(open);
  const fresh = urgent.filter((c) => !alertedUrgent.has(c.id));
  if (fresh.length) {
    beep();
    if ("Notification" in window && Notification.permission === "granted") {
      new Notification("紧急会话无人接待", {body: text, tag: `kefu-urgent-${fresh[0].id}`, requireInteraction: true});
    }
  }
  alertedUrgent = new Set(urgent.map((c) => c.id));
}

function beep() {
  try {
    const audio = new AudioContext();
    const tone = audio.createOscillator();
    tone.frequency.value = 880;
    tone.connect(audio.destination);
    tone.start();
    tone.stop(audio.currentTime + 0.2);
  } catch (e) { /* no sound where the browser allows none */ }
}

function alertAssigned(arrived) {
  const first = arrived[0];
  const text = `新会话：${first.customer_id}（${INTENTS[first.intent] || first.intent || "转人工"}）`;
  notice(arrived.length > 1 ? `${text} 等 ${arrived.length} 个会话已分配给您。` : `${text} 已分配给您。`);
  beep();
  blinkTitle();
  if ("Notification" in window && Notification.permission === "granted") {
    new Notification("客服工作台", {body: text, tag: `kefu-${first.id}`});
  }
}

async function setPresence(status) {
  const resp = await api("/api/me/status", {method: "POST", body: JSON.stringify({status})});
  if (!resp.ok) { notice("状态修改失败，请重试。"); return; }
  document.getElementById("presence").value = (await resp.json()).status;
  if (status === "online" && "Notification" in window && Notification.permission === "default") {
    Notification.requestPermission();
  }
}

document.getElementById("presence").addEventListener("change", (event) => setPresence(event.target.value));

async function loadPresence() {
  const resp = await api("/api/agents");
  if (!resp.ok) return;
  const mine = (await resp.json()).agents.find((a) => a.id === me.id);
  if (mine) document.getElementById("presence").value = mine.status;
}

function blinkTitle() {
  let times = 6;
  const original = "客服工作台";
  const timer = setInterval(() => {
    document.title = times % 2 ? "【新会话】客服工作台" : original;
    if (--times <= 0) { clearInterval(timer); document.title = original; }
  }, 500);
}

let openConversationData = null;
let loading = false;

async function openConversation(id) {
  openId = id;
  showQueue(lastAll);  // its unread badge goes
  lastSeen = 0;
  loading = true;            // pushed turns wait until the history is shown
  openConversationData = null;
  suggestedFor = null;
  document.getElementById("kb-suggest").hidden = true;
  document.getElementById("messages").replaceChildren();
  document.getElementById("conversation").hidden = false;
  const resp = await api(`/api/conversations/${id}/messages`);
  if (openId !== id) return;  // the agent clicked another conversation meanwhile
  loading = false;
  if (!resp.ok) return notice("会话记录暂时无法读取，请稍后再试。");
  const body = await resp.json();
  if (openId !== id) return;
  showHeader(body.conversation);
  addMessages(body.messages);
  watch();
  showCustomer(body.conversation.customer_id).catch(() => {});
  // Once the gallery is shown, the live feed sends only photos newer than it.
  showMedia(body.conversation.customer_id).then(watch).catch(() => {});
}

const TICKET_STATUS = {new: "新建", in_progress: "处理中", waiting_customer: "待客户回复", resolved: "已解决", closed: "已关闭"};
const ORDER_STATUS = {unpaid: "待付款", paid: "已付款", closed: "已关闭"};

function line(text, cls) {
  const li = document.createElement("li");
  li.textContent = text;
  if (cls) li.className = cls;
  return li;
}

const CONVERSATION_STATUS = {bot: "机器人服务", waiting: "等待接入", assigned: "人工服务中", closed: "已结束"};

async function showCustomer(customerId) {
  const id = encodeURIComponent(customerId);
  const shownFor = openId;
  const card = await (await api(`/api/customers/${id}/card`)).json();
  const orders = (await (await api(`/api/customers/${id}/orders`)).json()).orders;
  if (openId !== shownFor) return;
  document.getElementById("customer-name").textContent =
    `${CHANNELS[card.channel] || card.channel || ""} · ${card.display_name || customerId}`;
  document.getElementById("customer-tickets").replaceChildren(...(card.tickets.length ? card.tickets.map((t) => {
    const open = t.status !== "resolved" && t.status !== "closed";
    const overdue = open && Date.parse(t.due_at) < Date.now();
    const li = line("", `${overdue ? "overdue" : ""} ${t.priority === "urgent" ? "urgent" : ""}`.trim());
    const link = Object.assign(document.createElement("a"), {href: `/tickets?ticket=${t.id}`, textContent: t.number});
    li.append(link, ` ${t.category} · ${TICKET_STATUS[t.status] || t.status} · ` +
      `${open ? (overdue ? "已超时" : "承诺 " + t.due_at.slice(5, 16).replace("T", " ")) : t.created_at.slice(0, 10)} · ${t.summary}`);
    if (t.priority === "urgent") li.prepend(urgentBadge());
    return li;
  }) : [line("无")]));
  const past = card.conversations.filter((c) => c.id !== shownFor);
  document.getElementById("customer-history").replaceChildren(...(past.length ? past.map((c) =>
    line(`${(c.updated_at || "").slice(0, 16).replace("T", " ")} · ${CONVERSATION_STATUS[c.status] || c.status} · ` +
         `${INTENTS[c.intent] || c.intent || ""} · ${c.last_message || ""}`)) : [line("无")]));
  document.getElementById("customer-orders").replaceChildren(...(orders.length ? orders.map((o) =>
    line(`${o.order_id} · ${ORDER_STATUS[o.status] || o.status}${o.amount ? " · ¥" + o.amount : ""}`)) : [line("无")]));
  document.getElementById("customer-bills").replaceChildren(...(card.bills.length ? card.bills.map((b) =>
    line(`${b.kind} ${b.period} · ¥${b.amount} · ${b.status === "paid" ? "已缴" : "未缴，" + b.due_date + " 到期"}`)) : [line("无")]));
  document.getElementById("customer-facts").replaceChildren(...(card.facts.length ? card.facts.map((f) =>
    line(`${f.label} · ${f.at.slice(5, 16).replace("T", " ")} · “${f.text}”`)) : [line("无")]));
  await showNotes(shownFor);
}

// Internal notes: never sent to the customer; a transfer's note comes first.
async function showNotes(conversationId) {
  const resp = await api(`/api/conversations/${conversationId}/notes`);
  if (!resp.ok || openId !== conversationId) return;
  const notes = (await resp.json()).notes;
  document.getElementById("customer-notes").replaceChildren(...(notes.length ? notes.map((n) =>
    line(`${n.author || "系统"} · ${n.created_at.slice(5, 16).replace("T", " ")}：${n.text}`,
         n.text.startsWith("转接备注") ? "transfer-note" : "")) : [line("无")]));
}

document.getElementById("note-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = event.target.elements.text;
  const text = box.value.trim();
  if (!text || openId === null) return;
  const resp = await api(`/api/conversations/${openId}/notes`, {method: "POST", body: JSON.stringify({text})});
  if (!resp.ok) { notice("备注保存失败，请重试。"); return; }
  box.value = "";
  notice("备注已保存（仅客服可见）。");
  await showNotes(openId);
});

// 转接: to a colleague who is online, or back to a group's queue, with a note.
document.getElementById("transfer").addEventListener("click", async () => {
  const form = document.getElementById("transfer-form");
  if (!form.hidden) { form.hidden = true; return; }
  const [agents, groups] = await Promise.all([
    api("/api/agents").then((r) => r.json()), api("/api/groups").then((r) => r.json()),
  ]);
  const target = form.elements.target;
  const options = [];
  for (const a of agents.agents.filter((a) => a.id !== me.id && a.status === "online" && !a.disabled)) {
    options.push(Object.assign(document.createElement("option"),
      {value: `agent:${a.id}`, textContent: `客服 ${a.name}（${a.active}/${a.capacity}）`}));
  }
  for (const g of groups.groups) {
    options.push(Object.assign(document.createElement("option"), {value: `group:${g.name}`, textContent: `技能组 ${g.name}`}));
  }
  target.replaceChildren(...options);
  form.hidden = false;
});

document.getElementById("transfer-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const [kind, value] = form.elements.target.value.split(/:(.*)/s);
  const body = {note: form.elements.note.value.trim()};
  if (kind === "agent") body.agent_id = Number(value); else body.group = value;
  const resp = await api(`/api/conversations/${openId}/transfer`, {method: "POST", body: JSON.stringify(body)});
  if (!resp.ok) {
    const error = await resp.json();
    notice(error.code === "agent_offline" ? "对方已离线，请选择其他客服或技能组。" :
           error.code === "at_capacity" ? "对方接待已满，请选择其他客服或技能组。" : "转接失败，请重试。");
    return;
  }
  form.hidden = true;
  form.elements.note.value = "";
  notice("已转接，客户已收到转接提示。");
  showHeader((await resp.json()).conversation);
});

let mediaShown = null;  // {conversation, after}: the newest media id in the gallery

async function showMedia(customerId) {
  const id = openId;
  const resp = await api(`/api/customers/${encodeURIComponent(customerId)}/media`);
  if (!resp.ok || openId !== id) return;
  const media = (await resp.json()).media;
  document.getElementById("customer-media").replaceChildren(...mediaGallery(media));
  mediaShown = {conversation: id, after: Math.max(0, ...media.map((m) => m.id))};
}

function showHeader(c) {
  if (c && c.id !== openId) return;
  if (c) openConversationData = c;
  c = openConversationData;
  if (!c) return;
  const state = {assigned: "人工服务中", waiting: "等待接入", closed: "已结束"}[c.status] || "机器人服务中";
  document.getElementById("customer").textContent = `${CHANNELS[c.channel] || c.channel} · ${c.customer_id} · ${state}` +
    (c.priority === "urgent" ? " · 紧急" : "");
  document.getElementById("take").hidden = c.status !== "waiting";
  // 交还机器人: only for a conversation this agent holds (a supervisor: any being served).
  document.getElementById("resume").hidden =
    c.status !== "assigned" || (c.assignee_id !== me.id && me.role !== "supervisor");
  document.getElementById("close").hidden = c.status === "closed";
  document.getElementById("transfer").hidden = c.status !== "assigned" && c.status !== "waiting";
}

// Agent assist: the knowledge base's best answers to the customer's latest
// message; a click puts one into the reply box, to edit before sending.
let suggestedFor = null;

async function suggest(text) {
  const box = document.getElementById("kb-suggest");
  if (!text || text === suggestedFor) return;
  suggestedFor = text;
  const id = openId;
  const resp = await api(`/api/kb/suggest?text=${encodeURIComponent(text.slice(0, 500))}`);
  if (!resp.ok || openId !== id || suggestedFor !== text) return;
  const found = (await resp.json()).suggestions;
  box.hidden = !found.length;
  box.querySelector("ul").replaceChildren(...found.map((s) => {
    const li = document.createElement("li");
    const use = Object.assign(document.createElement("button"), {type: "button", textContent: "使用"});
    use.addEventListener("click", () => {
      const area = document.querySelector("#reply textarea");
      area.value = s.answer;
      area.focus();
    });
    const question = Object.assign(document.createElement("strong"), {textContent: s.question});
    const answer = Object.assign(document.createElement("span"), {textContent: s.answer});
    li.append(use, question, answer);
    return li;
  }));
}

function addMessages(messages) {
  const list = document.getElementById("messages");
  const fromCustomer = messages.filter((m) => m.from === "customer" && !(m.timestamp && m.timestamp <= lastSeen));
  if (fromCustomer.length) suggest(fromCustomer[fromCustomer.length - 1].text).catch(() => {});
  for (const m of messages) {
    if (m.timestamp && m.timestamp <= lastSeen) continue;
    const li = document.createElement("li");
    li.className = m.from;
    if (m.timestamp) li.append(Object.assign(document.createElement("time"), {textContent: clock(m.timestamp)}));
    li.append((m.from === "customer" ? "客户：" : m.from === "agent" ? `${m.agent}：` : "机器人：") + m.text);
    list.appendChild(li);
    lastSeen = Math.max(lastSeen, m.timestamp || 0);
  }
  list.scrollTop = list.scrollHeight;
}

// "14:05" today, "12-01 14:05" before.
function clock(seconds) {
  const at = new Date(seconds * 1000);
  const pad = (n) => String(n).padStart(2, "0");
  const time = `${pad(at.getHours())}:${pad(at.getMinutes())}`;
  return at.toDateString() === new Date().toDateString() ? time : `${pad(at.getMonth() + 1)}-${pad(at.getDate())} ${time}`;
}

function watch() {
  if (socket && socket.readyState === WebSocket.OPEN && openId !== null) {
    const known = mediaShown && mediaShown.conversation === openId ? {media_after: mediaShown.after} : {};
    socket.send(JSON.stringify({watch: openId, after: lastSeen, ...known}));
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/api/live`);
  socket.onopen = () => { document.getElementById("me").classList.remove("offline"); watch(); };
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "queue") showQueue(data.conversations);
    if (data.type === "messages" && data.conversation === openId && !loading) addMessages(data.messages);
    if (data.type === "sent") {
      notice(data.sent_text !== pendingReply ? "回复已发送（已按广告法自动修改用词）。" : "回复已发送。");
      if (data.conversation) showHeader(data.conversation);
    }
    if (data.type === "error") notice(data.status === 409 ? conflict(data) : "发送失败，请重试。");
    if (data.type === "chase") chased(data.tickets);
    if (data.type === "media" && data.conversation === openId && openConversationData) {
      showMedia(openConversationData.customer_id).catch(() => {});
      notice("客户发来了新的图片或文件，见「图片和文件」。");
    }
  };
  socket.onclose = async () => {
    document.getElementById("me").classList.add("offline");
    notice("与服务器的连接中断，正在重连…");
    // Signed out or expired: back to the login page instead of retrying forever.
    const still = await fetch("/api/me", {credentials: "same-origin"}).catch(() => null);
    if (still && still.status === 401) { location.href = "/login"; return; }
    setTimeout(connect, 1000);
  };
}

let pendingReply = null;

function conflict(data) {
  // The bot is answering this customer again (or the conversation ended): no agent reply.
  if (data.code === "at_capacity") return "您接待的会话已达上限，请先结束或转接一个会话。";
  return data.code === "not_in_desk" ? "该会话已交还机器人或已结束，不能再人工回复。" : "该会话已由其他客服接入。";
}

function chased(tickets) {
  // 催单 on an overdue ticket: its owner (or anyone, when nobody owns it) hears of it here too.
  const mine = tickets.filter((t) => t.owner_id === null || (me && t.owner_id === me.id));
  if (mine.length) notice(`客户催单：${mine.map((t) => t.number).join("、")}，请到「工单」页优先处理。`);
}

function notice(text) {
  document.getElementById("notice").textContent = text;
}

// The search box: conversations and tickets by customer, KF number, phone or words.
document.getElementById("search").addEventListener("submit", async (event) => {
  event.preventDefault();
  const q = event.target.elements.q.value.trim();
  const panel = document.getElementById("search-results");
  if (!q) { panel.hidden = true; return; }
  const resp = await api(`/api/search?q=${encodeURIComponent(q)}`);
  if (!resp.ok) { notice("搜索失败，请换个关键词再试。"); return; }
  const found = await resp.json();
  const rows = [];
  for (const c of found.conversations) {
    const li = document.createElement("li");
    li.textContent = `会话 · ${CHANNELS[c.channel] || c.channel} · ${c.customer_id} · ${c.last_message || ""}`;
    li.addEventListener("click", () => { panel.hidden = true; openConversation(c.id); });
    rows.push(li);
  }
  for (const t of found.tickets) {
    const li = document.createElement("li");
    const link = Object.assign(document.createElement("a"), {href: `/tickets?ticket=${t.id}`, textContent: t.number});
    li.append(link, ` · ${t.category} · ${TICKET_STATUS[t.status] || t.status} · ${t.customer_id} · ${t.summary}`);
    if (t.priority === "urgent") li.prepend(urgentBadge());
    rows.push(li);
  }
  if (!rows.length) rows.push(Object.assign(document.createElement("li"), {textContent: "没有找到相关的会话或工单。"}));
  panel.querySelector("ul").replaceChildren(...rows);
  panel.hidden = false;
});

document.getElementById("search-close").addEventListener("click", () => {
  document.getElementById("search-results").hidden = true;
});

document.getElementById("take").addEventListener("click", async () => {
  const resp = await api(`/api/conversations/${openId}/take`, {method: "POST"});
  notice(resp.status === 409 ? conflict(await resp.json()) : resp.ok ? "已接入，请及时回复客户。" : "接入失败，请重试。");
  if (resp.ok) {
    showHeader((await resp.json()).conversation);
    loadPresence();  // taking makes an agent who was 离线 忙碌
  }
});

document.getElementById("resume").addEventListener("click", async () => {
  const resp = await api(`/api/conversations/${openId}/resume`, {method: "POST"});
  notice(resp.ok ? "已交还机器人，客户的新消息将由机器人回答。" : "操作失败，请重试。");
  if (resp.ok) showHeader((await resp.json()).conversation);
});

document.getElementById("close").addEventListener("click", async () => {
  if (!confirm("确定结束与该客户的会话吗？结束后客户的新消息将由机器人回答。")) return;
  const resp = await api(`/api/conversations/${openId}/close`, {method: "POST"});
  notice(resp.ok ? "会话已结束。" : resp.status === 403 ? "只有接待该会话的客服或主管可以结束会话。" : "操作失败，请重试。");
  if (resp.ok) showHeader((await resp.json()).conversation);
});

document.getElementById("reply").addEventListener("submit", async (event) => {
  event.preventDefault();
  const box = event.target.elements.text;
  const text = box.value.trim();
  if (!text) return;
  if (!socket || socket.readyState !== WebSocket.OPEN) return notice("连接中断，请稍后再发送。");
  pendingReply = text;
  socket.send(JSON.stringify({reply: text, conversation: openId}));
  box.value = "";
});

// The web widget shows "客服 <name> 正在输入…" while the agent types: one
// signal every few seconds while keys come, "stopped" after a pause, on send
// or when the box is emptied (the widget also hides it by itself).
const TYPING_EVERY_MS = 3000;
const TYPING_IDLE_MS = 5000;
let typingSentAt = 0;
let typingFor = null;
let typingIdle = null;

function sendTyping(on) {
  if (!socket || socket.readyState !== WebSocket.OPEN || openId === null) return;
  if (!on && typingFor === null) return;
  const conversation = on ? openId : typingFor;
  socket.send(JSON.stringify({type: "typing", conversation_id: conversation, typing: on}));
  typingFor = on ? openId : null;
  typingSentAt = on ? Date.now() : 0;
}

document.getElementById("reply").elements.text.addEventListener("input", (event) => {
  clearTimeout(typingIdle);
  if (!event.target.value.trim()) return sendTyping(false);
  if (typingFor !== openId || Date.now() - typingSentAt >= TYPING_EVERY_MS) sendTyping(true);
  typingIdle = setTimeout(() => sendTyping(false), TYPING_IDLE_MS);
});

document.getElementById("reply").addEventListener("submit", () => { clearTimeout(typingIdle); sendTyping(false); });

document.getElementById("reply").elements.text.addEventListener("keydown", (event) => {
  if (event.key === "Enter" && !event.shiftKey) {
    event.preventDefault();
    event.target.form.requestSubmit();
  }
});

document.getElementById("logout").addEventListener("click", async () => {
  await api("/api/logout", {method: "POST"});
  location.href = "/login";
});

async function loadCanned() {
  const replies = (await (await api("/api/canned-replies")).json()).canned_replies;
  const box = document.getElementById("canned");
  box.replaceChildren(...replies.flatMap((r) => {
    const use = document.createElement("button");
    use.type = "button";
    use.textContent = r.title;
    use.title = r.text;
    use.addEventListener("click", () => {
      const area = document.querySelector("#reply textarea");
      area.value = area.value ? `${area.value}${r.text}` : r.text;
      area.focus();
    });
    if (me.role !== "supervisor") return [use];
    const remove = document.createElement("button");
    remove.type = "button";
    remove.className = "remove";
    remove.textContent = "×";
    remove.title = `删除“${r.title}”`;
    remove.addEventListener("click", async () => {
      await api(`/api/canned-replies/${r.id}`, {method: "DELETE"});
      await loadCanned();
    });
    return [use, remove];
  }));
}

document.getElementById("canned-edit").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target.elements;
  const resp = await api("/api/canned-replies", {method: "POST",
    body: JSON.stringify({title: form.title.value, text: form.text.value})});
  notice(resp.ok ? "快捷回复已新增。" : "新增失败，请检查标题和内容。");
  if (resp.ok) { form.title.value = ""; form.text.value = ""; await loadCanned(); }
});

(async () => {
  const resp = await fetch("/api/me", {credentials: "same-origin"});
  if (!resp.ok) { location.href = "/login"; return; }
  me = await resp.json();
  document.getElementById("me").textContent = `${me.name}（${me.role === "supervisor" ? "主管" : "客服"}）`;
  document.getElementById("canned-edit").hidden = me.role !== "supervisor";
  await loadCanned();
  await loadPresence();
  connect();
  // /desk?conversation=12 (from a ticket's page): that conversation at once.
  const asked = new URLSearchParams(location.search).get("conversation");
  if (asked && /^\d+$/.test(asked)) openConversation(Number(asked));
})();
