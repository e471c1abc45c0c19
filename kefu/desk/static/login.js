// Sign in; the desk sets an HttpOnly session cookie and the page moves on.
const MESSAGES = {401: "账号或密码不正确，请重新输入。", 403: "该账号已停用，请联系主管。",
                  429: "登录失败次数过多，请 15 分钟后再试，或请主管解除锁定。"};

document.getElementById("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData(event.target);
  const error = document.getElementById("error");
  error.textContent = "";
  try {
    const resp = await fetch("/api/login", {
      method: "POST",
      headers: {"Content-Type": "application/json"},
      body: JSON.stringify({name: form.get("name"), password: form.get("password")}),
    });
    if (resp.ok) {
      location.href = "/desk";
      return;
    }
    error.textContent = MESSAGES[resp.status] || "登录暂时不可用，请稍后再试。";
  } catch (e) {
    error.textContent = "网络异常，请检查网络后重试。";
  }
});
