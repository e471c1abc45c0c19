// Tickets: filters, SLA countdown (red when overdue), timeline, status moves, 回访,
// and a banner when a customer chases (催单) an overdue ticket (desk websocket).
const CHANNEL_LABELS = {rest: "网页", socketio: "网页", wechat: "微信", wecom: "企业微信", taobao: "淘宝", tmall: "天猫"};
const STATUS = {new: "新建", in_progress: "处理中", waiting_customer: "待客户回复", resolved: "已解决", closed: "已关闭"};
const MOVES = {new: [], in_progress: ["waiting_customer", "resolved"], waiting_customer: ["in_progress", "resolved"],
               resolved: ["closed", "in_progress"], closed: ["in_progress"]};
const MOVE_LABEL = {in_progress: "处理中", waiting_customer: "待客户回复", resolved: "已解决", closed: "关闭", };
let me = null;
let shown = [];

async function api(path, options = {}) {
  const resp = await fetch(path, {...options, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": me ? me.csrf_token : ""}});
  if (resp.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  return resp;
}

function countdown(t) {
  if (t.status === "resolved" || t.status === "closed") return "—";
  const minutes = Math.round((Date.parse(t.due_at) - Date.now()) / 60000);
  if (minutes < 0) return `已超时 ${Math.floor(-minutes / 60)} 小时 ${-minutes % 60} 分`;
  return `剩余 ${Math.floor(minutes / 60)} 小时 ${minutes % 60} 分`;
}

function render() {
  document.querySelector("#tickets tbody").replaceChildren(...shown.map((t) => {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    const overdue = t.status !== "resolved" && t.status !== "closed" && Date.parse(t.due_at) < Date.now();
    if (overdue) tr.className = "overdue";
    for (const text of [t.number, t.category, CHANNEL_LABELS[t.channel] || t.channel, STATUS[t.status] || t.status, countdown(t), t.summary]) {
      const td = document.createElement("td");
      td.textContent = text;
      tr.appendChild(td);
    }
    if (t.priority === "urgent") {   // emergencies and urgent repairs
      tr.classList.add("urgent");
      const urgent = document.createElement("span");
      urgent.className = "badge-urgent";
      urgent.textContent = "紧急";
      tr.firstChild.prepend(urgent);
    }
    if (t.chases > 0 && t.status !== "resolved" && t.status !== "closed") {
      const badge = Object.assign(document.createElement("span"), {className: "chase-badge", textContent: `催单×${t.chases}`});
      tr.firstChild.prepend(badge);
    }
    tr.addEventListener("click", () => openTicket(t.id));
    return tr;
  }));
}

async function load() {
  const form = document.getElementById("filters").elements;
  const q = new URLSearchParams();
  for (const key of ["status", "category", "channel"]) if (form[key].value) q.set(key, form[key].value);
  if (form.mine.checked) q.set("owner_id", me.id);
  if (form.overdue.checked) q.set("overdue", "true");
  shown = (await (await api(`/api/tickets?${q}`)).json()).tickets;
  render();
  const followups = (await (await api("/api/followups")).json()).followups;
  document.getElementById("followups").replaceChildren(...(followups.length ? followups.map((f) => {
    const li = document.createElement("li");
    li.textContent = `工单 KF${String(f.ticket_id).padStart(6, "0")} · 应于 ${f.due_at.slice(5, 16).replace("T", " ")} 前回访 `;
    const done = document.createElement("button");
    done.textContent = "已回访";
    done.addEventListener("click", async () => {
      const note = prompt("回访记录（客户反馈）") || "";
      await api(`/api/followups/${f.id}/done`, {method: "POST", body: JSON.stringify({note})});
      await load();
    });
    li.appendChild(done);
    return li;
  }) : [Object.assign(document.createElement("li"), {textContent: "暂无"})]));
}

async function openTicket(id) {
  const body = await (await api(`/api/tickets/${id}`)).json();
  const t = body.ticket;
  document.getElementById("detail").hidden = false;
  document.getElementById("detail-title").textContent = `${t.number}${t.priority === "urgent" ? " · 紧急" : ""} · ${t.category} · ${STATUS[t.status]} · ${countdown(t)}`;
  document.getElementById("detail-summary").textContent = t.summary;
  const fields = [
    ["客户", t.customer_id], ["渠道", CHANNEL_LABELS[t.channel] || t.channel], ["房号/地址", t.room || "—"],
    ["电话", t.phone || "—"], ["订单号", t.order_id || "—"], ["优先级", t.priority === "urgent" ? "紧急" : "普通"],
    ["受理人", t.owner || "未受理"], ["创建", t.created_at.slice(0, 16).replace("T", " ")],
    ["承诺回复", t.due_at.slice(0, 16).replace("T", " ")],
  ];
  const list = document.getElementById("detail-fields");
  list.replaceChildren(...fields.flatMap(([k, v]) => [
    Object.assign(document.createElement("dt"), {textContent: k}), Object.assign(document.createElement("dd"), {textContent: v}),
  ]));
  if (t.conversation_id) {
    const dd = document.createElement("dd");
    dd.append(Object.assign(document.createElement("a"), {href: `/desk?conversation=${t.conversation_id}`, textContent: "打开客户会话"}));
    list.append(Object.assign(document.createElement("dt"), {textContent: "会话"}), dd);
  }
  document.getElementById("detail").classList.toggle("urgent", t.priority === "urgent");
  const moves = t.owner_id === null && t.status === "new" ? ["take"] : MOVES[t.status];
  document.getElementById("moves").replaceChildren(...moves.map((to) => {
    const b = document.createElement("button");
    b.textContent = to === "take" ? "受理" : MOVE_LABEL[to];
    b.addEventListener("click", async () => {
      const resp = to === "take" ? await api(`/api/tickets/${id}/take`, {method: "POST"})
        : await api(`/api/tickets/${id}/status`, {method: "POST", body: JSON.stringify({status: to})});
      document.getElementById("notice").textContent = resp.ok ? "已更新。" : (await resp.json()).error;
      await openTicket(id);
      await load();
    });
    return b;
  }));
  document.getElementById("detail-media").replaceChildren(...mediaGallery(body.media || []));
  document.getElementById("timeline").replaceChildren(...body.timeline.map((e) => {
    const li = document.createElement("li");
    li.textContent = `${e.at.slice(5, 16).replace("T", " ")} ${e.agent || ""} ${e.from ? STATUS[e.from] || e.from : ""}` +
      `${e.to ? " → " + (STATUS[e.to] || e.to) : ""} ${e.kind === "customer" ? "客户留言：" : ""}${e.note || ""}`;
    return li;
  }));
}

function chaseBanner(tickets) {
  // The owner's chased tickets, or unowned ones, or any for a supervisor.
  const mine = tickets.filter((t) => t.owner_id === me.id || t.owner_id === null || me.role === "supervisor");
  if (!mine.length) return;
  const banner = document.getElementById("chase-banner");
  banner.textContent = `客户催单：${mine.map((t) => t.number).join("、")} 已超时，客户在催促，请优先处理。`;
  banner.hidden = false;
  load();
}

function live() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/api/live`);
  socket.onmessage = (event) => {
    const data = JSON.parse(event.data);
    if (data.type === "chase") chaseBanner(data.tickets);
  };
  socket.onclose = () => setTimeout(live, 2000);
}

document.getElementById("filters").addEventListener("submit", (event) => { event.preventDefault(); load(); });

(async () => {
  const resp = await fetch("/api/me", {credentials: "same-origin"});
  if (!resp.ok) { location.href = "/login"; return; }
  me = await resp.json();
  document.getElementById("me").textContent = me.name;
  await load();
  // /tickets?ticket=12 (from the desk's search): that ticket at once.
  const asked = new URLSearchParams(location.search).get("ticket");
  if (asked && /^\d+$/.test(asked)) openTicket(Number(asked));
  live();
  setInterval(render, 30000);   // the countdown moves on
})();
