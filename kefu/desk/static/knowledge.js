// 知识库: everyone searches and reads; supervisors add, edit, disable and delete.
// Saved entries are live for the bot within about two seconds (no retraining).
const CHANNEL_FIELDS = ["socketio", "rest", "wechat", "wecom", "taobao", "tmall"];
let me = null;
let entries = [];
let editing = null;  // the entry id being edited, or null for a new one

async function api(path, options = {}) {
  const resp = await fetch(path, {...options, credentials: "same-origin",
    headers: {"Content-Type": "application/json", "X-CSRF-Token": me ? me.csrf_token : ""}});
  if (resp.status === 401) { location.href = "/login"; throw new Error("signed out"); }
  return resp;
}

const canEdit = () => me && me.role === "supervisor";
const notice = (text) => { document.getElementById("notice").textContent = text; };

function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}

function render() {
  document.getElementById("count").textContent = `共 ${entries.length} 条`;
  document.querySelector("#entries tbody").replaceChildren(...entries.map((e) => {
    const tr = document.createElement("tr");
    tr.dataset.id = e.id;
    if (!e.enabled) tr.className = "disabled";
    const variants = Object.keys(e.variants).length ? `\n（另有 ${Object.keys(e.variants).length} 个渠道专用答案）` : "";
    tr.append(cell(e.question), cell(e.similar.join("\n"), "similar"), cell(e.answer + variants, "answer"),
      cell(e.tags.join("，")), cell(e.enabled ? "启用" : "停用"), cell(String(e.hits)),
      cell(`${e.helpful} / ${e.unhelpful}`), cell(`${(e.updated_at || "").slice(0, 16).replace("T", " ")} ${e.updated_by || ""}`));
    const actions = document.createElement("td");
    if (canEdit()) {
      const edit = Object.assign(document.createElement("button"), {type: "button", textContent: "编辑"});
      edit.addEventListener("click", () => openEditor(e));
      const toggle = Object.assign(document.createElement("button"), {type: "button", textContent: e.enabled ? "停用" : "启用"});
      toggle.addEventListener("click", () => save(e.id, {enabled: !e.enabled}, e.enabled ? "已停用" : "已启用"));
      actions.append(edit, toggle);
    }
    tr.append(actions);
    return tr;
  }));
}

async function load() {
  const q = new FormData(document.getElementById("search")).get("q").trim();
  const resp = await api(`/api/kb${q ? "?q=" + encodeURIComponent(q) : ""}`);
  if (!resp.ok) return notice((await resp.json()).error || "知识库暂时无法读取，请稍后再试。");
  entries = (await resp.json()).entries;
  render();
}

function openEditor(entry) {
  const form = document.getElementById("editor");
  editing = entry ? entry.id : null;
  document.getElementById("editor-title").textContent = entry ? "编辑知识" : "新增知识";
  form.question.value = entry ? entry.question : "";
  form.similar.value = entry ? entry.similar.join("\n") : "";
  form.answer.value = entry ? entry.answer : "";
  for (const c of CHANNEL_FIELDS) form[`answer_${c}`].value = entry ? entry.variants[c] || "" : "";
  form.tags.value = entry ? entry.tags.join("，") : "";
  form.enabled.checked = entry ? entry.enabled : true;
  form.hidden = false;
  form.question.focus();
}

async function save(id, body, done, fromEditor = false) {
  const resp = await api(id === null ? "/api/kb" : `/api/kb/${id}`, {method: id === null ? "POST" : "PUT", body: JSON.stringify(body)});
  if (!resp.ok) {
    const error = (await resp.json()).error || "";
    return notice(resp.status === 409 ? "已有相同的标准问题，请直接编辑那一条。" : `保存失败：${error}`);
  }
  if (fromEditor) document.getElementById("editor").hidden = true;  // closed at once, before the list reloads
  notice(`${done}，约 2 秒后机器人即按新内容回答。`);
  await load();
  return true;
}

document.getElementById("editor").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const variants = {};
  for (const c of CHANNEL_FIELDS) variants[c] = form[`answer_${c}`].value.trim();
  const body = {
    question: form.question.value,
    similar: form.similar.value.split("\n").map((s) => s.trim()).filter(Boolean),
    answer: form.answer.value,
    tags: form.tags.value.split(/[,，、]/).map((s) => s.trim()).filter(Boolean),
    enabled: form.enabled.checked,
    // A new entry leaves out the empty ones; an edit sends them empty to remove them.
    variants: editing === null ? Object.fromEntries(Object.entries(variants).filter(([, v]) => v)) : variants,
  };
  await save(editing, body, "已保存", true);
});
document.getElementById("cancel").addEventListener("click", () => { document.getElementById("editor").hidden = true; });
document.getElementById("add").addEventListener("click", () => openEditor(null));
document.getElementById("search").addEventListener("submit", (event) => { event.preventDefault(); load(); });

(async () => {
  const resp = await fetch("/api/me", {credentials: "same-origin"});
  if (!resp.ok) { location.href = "/login"; return; }
  me = await resp.json();
  document.getElementById("me").textContent = me.name;
  document.getElementById("add").hidden = !canEdit();
  if (!canEdit()) notice("知识库由主管维护；您可以搜索和查看。");
  await load();
})();
