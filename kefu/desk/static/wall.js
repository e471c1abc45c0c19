// The supervisor's live wall: agents' presence and load, each group's queue,
// the conversations waiting for a first answer; reassign and set capacity and
// working hours from here. Read every two seconds.
const STATUS = {online: "在线", busy: "忙碌", away: "离开", offline: "离线"};
const CHANNELS = {rest: "网页", socketio: "网页", wechat: "微信", wecom: "企业微信", taobao: "淘宝", tmall: "天猫"};
const INTENTS = {request_human: "转人工", complaint: "投诉", repair: "报修", inquiry: "咨询",
                 payment_reminder: "缴费", nlu_fallback: "未识别", emergency: "紧急情况", ticket_status: "查工单"};
const DAYS = [["mon", "周一"], ["tue", "周二"], ["wed", "周三"], ["thu", "周四"], ["fri", "周五"], ["sat", "周六"], ["sun", "周日"]];
let me = null;
let groupsByName = {};
let editing = null;

async function api(path, options = {}) {
  const headers = {"Content-Type": "application/json", "X-CSRF-Token": me ? me.csrf_token : ""};
  const resp = await fetch(path, {...options, headers, credentials: "same-origin"});
  if (resp.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  return resp;
}

function duration(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  return seconds < 60 ? `${seconds} 秒` : `${Math.floor(seconds / 60)} 分 ${seconds % 60} 秒`;
}

function cells(values) {
  const tr = document.createElement("tr");
  for (const v of values) {
    const td = document.createElement("td");
    if (v instanceof Node) td.append(v); else td.textContent = v;
    tr.appendChild(td);
  }
  return tr;
}

function hoursText(group) {
  const spans = DAYS.map(([key, label]) => [label, (group.hours[key] || []).map(([a, b]) => `${a}-${b}`).join("、")]);
  if (spans.every(([, s]) => s === "00:00-24:00")) return "全天";
  return spans.filter(([, s]) => s).map(([l, s]) => `${l} ${s}`).join("；") || "不服务";
}

async function refresh() {
  const resp = await api("/api/wall");
  const error = document.getElementById("error");
  if (!resp.ok) { error.textContent = resp.status === 403 ? "监控墙仅主管可查看。" : "读取失败，稍后重试。"; return; }
  error.textContent = "";
  const wall = await resp.json();
  const groups = (await (await api("/api/groups")).json()).groups;
  groupsByName = Object.fromEntries(groups.map((g) => [g.name, g]));
  document.getElementById("updated").textContent = `更新于 ${wall.at.slice(11, 19)}`;
  document.querySelector("#wall-groups tbody").replaceChildren(...wall.groups.map((g) => {
    const edit = Object.assign(document.createElement("button"), {type: "button", textContent: "修改"});
    edit.addEventListener("click", () => editGroup(g.group));
    const row = cells([g.group, g.waiting, duration(g.longest_wait_seconds), g.online,
                       groupsByName[g.group] ? hoursText(groupsByName[g.group]) : "", edit]);
    if (g.waiting && !g.online) row.className = "alarm";
    return row;
  }));
  document.querySelector("#wall-agents tbody").replaceChildren(...wall.agents.map((a) => {
    const capacity = Object.assign(document.createElement("input"), {type: "number", min: 0, max: 50, value: a.capacity});
    capacity.setAttribute("aria-label", `${a.name} 的接待上限`);
    capacity.addEventListener("change", async () => {
      const saved = await api(`/api/agents/${a.id}`, {method: "PUT", body: JSON.stringify({capacity: Number(capacity.value)})});
      error.textContent = saved.ok ? "" : "上限保存失败。";
    });
    const groupsButton = Object.assign(document.createElement("button"),
      {type: "button", textContent: a.groups === null ? "全部" : a.groups.join("、") || "无"});
    groupsButton.addEventListener("click", async () => {
      const typed = prompt(`${a.name} 的技能组（用逗号分开，留空为全部）：`, a.groups === null ? "" : a.groups.join(","));
      if (typed === null) return;
      const names = typed.split(/[,，、\s]/).map((g) => g.trim()).filter(Boolean);
      const saved = await api(`/api/agents/${a.id}`, {method: "PUT", body: JSON.stringify({groups: names.length ? names : null})});
      error.textContent = saved.ok ? "" : `技能组保存失败：${(await saved.json()).error}`;
      refresh();
    });
    const row = cells([a.name, a.role === "supervisor" ? "主管" : "客服", STATUS[a.status] || a.status,
                       `${a.active} / ${a.capacity}`, groupsButton, capacity]);
    // Gone (离线, 离开) with customers still in progress: the supervisor acts.
    if (a.active > 0 && (a.status === "offline" || a.status === "away")) row.className = "alarm";
    return row;
  }));
  const online = wall.agents.filter((a) => a.status === "online");
  document.querySelector("#wall-unanswered tbody").replaceChildren(...wall.unanswered.map((c) => {
    const pick = document.createElement("select");
    pick.setAttribute("aria-label", `改派 ${c.customer_id}`);
    pick.append(new Option("改派给…", ""));
    for (const a of online.filter((a) => a.id !== c.assignee_id)) pick.append(new Option(`${a.name}（${a.active}/${a.capacity}）`, a.id));
    pick.addEventListener("change", async () => {
      if (!pick.value) return;
      const moved = await api(`/api/conversations/${c.id}/transfer`,
                              {method: "POST", body: JSON.stringify({agent_id: Number(pick.value), note: "主管改派"})});
      error.textContent = moved.ok ? "" : "改派失败：对方可能已离线或接待已满。";
      refresh();
    });
    const row = cells([c.customer_id, CHANNELS[c.channel] || c.channel, INTENTS[c.intent] || c.intent || "",
                       c.position ? `${c.group || ""} 第${c.position}位` : (c.group || ""), c.agent || "排队中",
                       duration(c.waited_seconds), pick]);
    if (c.priority === "urgent") row.className = "alarm";
    return row;
  }));
}

function editGroup(name) {
  const group = groupsByName[name];
  if (!group) return;
  editing = group;
  const form = document.getElementById("group-edit");
  document.getElementById("group-edit-title").textContent = `${name}：服务范围和服务时间`;
  document.getElementById("group-days").replaceChildren(...DAYS.map(([key, label]) => {
    const field = Object.assign(document.createElement("input"), {name: key, size: 24,
      value: (group.hours[key] || []).map(([a, b]) => `${a}-${b}`).join(",")});
    const wrap = document.createElement("label");
    wrap.append(`${label} `, field, " ");
    return wrap;
  }));
  form.elements.holidays.value = (group.holidays || []).join(",");
  for (const key of ["intents", "categories", "channels"]) form.elements[key].value = (group[key] || []).join(",");
  form.hidden = false;
}

document.getElementById("group-cancel").addEventListener("click", () => { document.getElementById("group-edit").hidden = true; });

document.getElementById("group-edit").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const hours = {};
  for (const [key] of DAYS) {
    const spans = form.elements[key].value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean);
    if (spans.length) hours[key] = spans.map((s) => s.split(/[-~－]/).map((t) => t.trim()));
  }
  const holidays = form.elements.holidays.value.split(/[,，、\s]/).map((s) => s.trim()).filter(Boolean);
  const list = (key) => form.elements[key].value.split(/[,，、\s]/).map((s) => s.trim()).filter(Boolean);
  const body = {intents: list("intents"), categories: list("categories"), channels: list("channels"), hours, holidays};
  const resp = await api(`/api/groups/${encodeURIComponent(editing.name)}`, {method: "PUT", body: JSON.stringify(body)});
  document.getElementById("error").textContent = resp.ok ? "" : `保存失败：${(await resp.json()).error}`;
  if (resp.ok) { form.hidden = true; refresh(); }
});

(async () => {
  const resp = await fetch("/api/me", {credentials: "same-origin"});
  if (!resp.ok) { location.href = "/login"; return; }
  me = await resp.json();
  document.getElementById("me").textContent = me.name;
  await refresh();
  setInterval(refresh, 2000);
})();
