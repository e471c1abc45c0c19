// 待学习 (supervisors): what the bot did not understand. Each item can be
// labelled with an intent (training data for the next model), added to a
// knowledge-base entry as a similar question (live at once), made into a new
// entry, or ignored.
const REASONS = {fallback: "没听懂", low_confidence: "把握不大", no_kb_answer: "知识库无答案", unhelpful: "客户说没解决",
                 before_handoff: "转人工前的话"};
const INTENTS = {inquiry: "咨询", complaint: "投诉", repair: "报修", payment_reminder: "缴费", request_human: "转人工",
                 ticket_status: "查工单", greet: "问候", goodbye: "再见", thank: "感谢", affirm: "肯定", deny: "否定",
                 inform: "提供信息", acknowledge: "嗯/好的", bot_challenge: "问是不是机器人", out_of_scope: "无关话题"};
const CHANNELS = {rest: "网页", socketio: "网页", wechat: "微信", wecom: "企业微信", taobao: "淘宝", tmall: "天猫"};
let me = null;

async function api(path, options = {}) {
  const resp = await fetch(path, {...options, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": me ? me.csrf_token : ""}});
  if (resp.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  return resp;
}

const notice = (text) => { document.getElementById("notice").textContent = text; };
const el = (tag, props = {}) => Object.assign(document.createElement(tag), props);

async function act(item, path, body, done) {
  const resp = await api(`/api/learning/${item.id}/${path}`, {method: "POST", body: JSON.stringify(body || {})});
  if (!resp.ok) return notice(`操作失败：${(await resp.json()).error || resp.status}`);
  await load();
  notice(done);  // after the list is fresh, so what is shown is what was done
}

async function attachControls(item, cell) {
  // The knowledge base's closest entries to this text, to add it to one of them.
  const resp = await api(`/api/kb/suggest?text=${encodeURIComponent(item.text.slice(0, 500))}`);
  const found = resp.ok ? (await resp.json()).suggestions : [];
  const pick = el("select", {className: "kb-pick"});
  pick.append(el("option", {value: "", textContent: found.length ? "加入知识库条目…" : "无相近条目"}));
  for (const s of found) pick.append(el("option", {value: s.id, textContent: `${s.question}（${Math.round(s.score * 100)}%）`}));
  const attach = el("button", {type: "button", textContent: "加入"});
  attach.addEventListener("click", () => {
    if (!pick.value) return notice("请先选择一个知识库条目。");
    act(item, "kb", {kb_id: Number(pick.value)}, "已加入知识库，机器人约 2 秒后即可回答类似问题。");
  });
  const create = el("button", {type: "button", textContent: "新建知识"});
  create.addEventListener("click", async () => {
    const answer = prompt(`为“${item.text}”填写答案：`);
    if (!answer) return;
    const made = await api("/api/kb", {method: "POST", body: JSON.stringify({question: item.text, answer})});
    if (!made.ok) return notice(`新建失败：${(await made.json()).error}`);
    await act(item, "kb", {kb_id: (await made.json()).id}, "已新建知识条目。");
  });
  cell.append(pick, attach, create);
}

function row(item) {
  const tr = el("tr");
  tr.dataset.id = item.id;
  const examples = item.examples.length > 1 ? `\n（另有：${item.examples.slice(1).join(" / ")}）` : "";
  const guess = item.predicted_intent ? `${INTENTS[item.predicted_intent] || item.predicted_intent} ${item.confidence === null ? "" : Math.round(item.confidence * 100) + "%"}` : "—";
  for (const text of [item.text + examples, String(item.count), REASONS[item.reason] || item.reason, guess,
                      CHANNELS[item.channel] || item.channel, (item.last_seen || "").slice(5, 16).replace("T", " ")]) {
    tr.append(el("td", {textContent: text}));
  }
  const cell = el("td", {className: "teach"});
  if (item.status === "open") {
    const intent = el("select", {className: "intent"});
    for (const [value, label] of Object.entries(INTENTS)) intent.append(el("option", {value, textContent: label}));
    if (item.predicted_intent && INTENTS[item.predicted_intent]) intent.value = item.predicted_intent;
    const label = el("button", {type: "button", textContent: "标注"});
    label.addEventListener("click", () => act(item, "label", {intent: intent.value}, "已标注，下次训练时生效。"));
    const ignore = el("button", {type: "button", textContent: "忽略"});
    ignore.addEventListener("click", () => act(item, "ignore", {}, "已忽略。"));
    cell.append(intent, label, ignore);
    attachControls(item, cell).catch(() => {});
  } else {
    cell.textContent = {labelled: `已标注：${INTENTS[item.label_intent] || item.label_intent}`, attached: "已加入知识库",
                        ignored: "已忽略"}[item.status];
  }
  tr.append(cell);
  return tr;
}

async function load() {
  const status = new FormData(document.getElementById("filter")).get("status");
  const resp = await api(`/api/learning?status=${status}`);
  if (!resp.ok) return notice(resp.status === 403 ? "待学习仅主管可查看。" : "暂时无法读取，请稍后再试。");
  const items = (await resp.json()).items;
  document.getElementById("count").textContent = `共 ${items.length} 条`;
  document.querySelector("#items tbody").replaceChildren(...items.map(row));
}

// The model registry: train with what was labelled, see the gate's verdict, roll back.
const MODEL_STATUS = {training: "训练中", rejected: "未通过，未上线", live: "在用", retired: "已替换（可回滚）"};
let modelTimer = null;

function modelRow(model) {
  const tr = el("tr");
  tr.dataset.id = model.id;
  tr.dataset.status = model.status;
  const m = model.metrics || {};
  const f1 = m.heldout_macro_f1 === undefined ? "—" :
    `${m.heldout_macro_f1.toFixed(4)}${m.live ? `（原 ${m.live.heldout_macro_f1.toFixed(4)}）` : ""}`;
  const fresh = m.new_n ? `${m.new_correct}/${m.new_n}${m.live ? `（原 ${m.live.new_correct}/${m.live.new_n}）` : ""}` : "—";
  for (const text of [String(model.id), (model.created_at || "").slice(5, 16).replace("T", " "),
                      MODEL_STATUS[model.status] || model.status, f1, fresh, model.reason || ""]) {
    tr.append(el("td", {textContent: text}));
  }
  const cell = el("td");
  if (model.status === "retired") {
    const back = el("button", {type: "button", textContent: "回滚到此模型"});
    back.addEventListener("click", () => activate(model));
    cell.append(back);
  }
  tr.append(cell);
  return tr;
}

async function activate(model) {
  if (!confirm(`把模型 ${model.id} 重新设为在用模型？所有机器人服务器会加载它。`)) return;
  document.getElementById("train-state").textContent = `正在加载模型 ${model.id}…`;
  const resp = await api(`/api/models/${model.id}/activate`, {method: "POST"});
  const body = await resp.json();
  document.getElementById("train-state").textContent = resp.ok ? `模型 ${model.id} 已上线。` :
    `模型 ${model.id} 已设为在用，但有服务器加载失败：${(body.failed || [body.error]).join("；")}`;
  await loadModels();
}

async function loadModels() {
  const resp = await api("/api/models");
  if (!resp.ok) return;
  const models = (await resp.json()).models;
  const empty = el("tr");
  empty.append(el("td", {colSpan: 7, textContent: "暂无模型记录：机器人启动时会登记它正在用的模型。"}));
  document.querySelector("#models tbody").replaceChildren(...(models.length ? models.map(modelRow) : [empty]));
  const training = models.some((m) => m.status === "training");
  document.getElementById("train").disabled = training;
  if (training) document.getElementById("train-state").textContent = "正在训练，约需几分钟，完成后这里会显示结果。";
  clearTimeout(modelTimer);
  if (training) modelTimer = setTimeout(loadModels, 5000);
}

document.getElementById("train").addEventListener("click", async () => {
  const resp = await api("/api/models/train", {method: "POST"});
  const body = await resp.json();
  document.getElementById("train-state").textContent = resp.ok ? `已开始训练模型 ${body.job_id}。` : body.error;
  await loadModels();
});

document.getElementById("filter").addEventListener("submit", (event) => { event.preventDefault(); load(); });

(async () => {
  const resp = await fetch("/api/me", {credentials: "same-origin"});
  if (!resp.ok) { location.href = "/login"; return; }
  me = await resp.json();
  document.getElementById("me").textContent = me.name;
  await load();
  await loadModels();
})();
