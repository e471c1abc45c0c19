// Weekly report for supervisors: totals, bar charts, per-agent table, CSV download.
const LABELS = {new: "新建", in_progress: "处理中", waiting_customer: "待客户回复", resolved: "已解决", closed: "已关闭",
                rest: "网页", socketio: "网页组件", wechat: "微信", wecom: "企业微信", taobao: "淘宝", tmall: "天猫"};
const pct = (v) => (v === null || v === undefined ? "—" : `${Math.round(v * 100)}%`);
const num = (v) => (v === null || v === undefined ? "—" : String(v));

function bars(id, counts) {
  const max = Math.max(1, ...Object.values(counts));
  document.getElementById(id).replaceChildren(...Object.entries(counts).map(([key, value]) => {
    const row = document.createElement("div");
    row.className = "bar";
    const label = document.createElement("span");
    label.textContent = `${LABELS[key] || key} ${value}`;
    const fill = document.createElement("i");
    fill.style.width = `${(value / max) * 100}%`;
    row.append(label, fill);
    return row;
  }));
}

async function load(week) {
  const q = week ? `?week=${encodeURIComponent(week)}` : "";
  const resp = await fetch(`/api/reports/weekly${q}`, {credentials: "same-origin"});
  const error = document.getElementById("error");
  if (resp.status === 401) { location.href = "/login"; return; }
  if (!resp.ok) { error.textContent = (await resp.json()).error; return; }
  error.textContent = "";
  const r = await resp.json();
  document.getElementById("csv").href = `/api/reports/weekly?week=${r.week}&format=csv`;
  document.getElementById("totals").textContent =
    `${r.week}：工单 ${r.tickets}，已解决 ${r.resolved}，按时响应率 ${pct(r.answered_within_promise)}，` +
    `平均首次响应 ${num(r.avg_first_response_minutes)} 分钟，平均解决 ${num(r.avg_resolution_hours)} 小时，` +
    `满意度 ${r.csat === null ? "暂无" : r.csat + " 分（" + r.surveys_answered + " 份评价）"}`;
  document.getElementById("queue-totals").textContent =
    `转人工 ${r.handoffs} 次，已接入 ${r.answered}，放弃排队 ${r.abandoned}（放弃率 ${pct(r.abandonment_rate)}），` +
    `留言 ${r.left_message}，平均等待 ${num(r.avg_wait_minutes)} 分钟，90% 的客户等待不超过 ${num(r.p90_wait_minutes)} 分钟`;
  // An agent sees their own figures only.
  document.getElementById("agents-title").textContent = r.scope === "own" ? "我的考核" : "客服考核";
  document.getElementById("groups-section").hidden = r.scope === "own";
  rows("#groups tbody", r.groups, (g) => [g.group, g.handoffs, g.answered, g.abandoned, g.left_message,
    pct(g.abandonment_rate), num(g.avg_wait_minutes), num(g.p90_wait_minutes)]);
  bars("by_category", r.by_category);
  bars("by_channel", r.by_channel);
  bars("by_status", r.by_status);
  rows("#agents tbody", r.agents, (a) => [a.agent, a.tickets, a.resolved, pct(a.answered_within_promise),
    num(a.avg_first_response_minutes), num(a.avg_resolution_hours), a.csat === null ? "—" : a.csat,
    a.conversations, num(a.avg_handle_minutes)]);
}

function rows(selector, items, cells) {
  document.querySelector(selector).replaceChildren(...items.map((item) => {
    const tr = document.createElement("tr");
    for (const v of cells(item)) {
      const td = document.createElement("td");
      td.textContent = v;
      tr.appendChild(td);
    }
    return tr;
  }));
}

document.getElementById("week").addEventListener("submit", (event) => {
  event.preventDefault();
  load(event.target.elements.week.value.trim());
});
load("");
