"""`kefu run` (what `make run` starts): one signal stops all, one death stops all."""
from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from conftest import auth, http, new_sender, start_stack, stop_stack


def service_pids(pid_file: Path) -> dict:
    return {name: int(pid) for name, pid in (line.split() for line in pid_file.read_text().splitlines())}


def alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # A zombie has exited but is not reaped yet: count it as gone.
    try:
        return Path(f"/proc/{pid}/stat").read_text().split()[2] != "Z"
    except FileNotFoundError:
        return False


def wait_gone(pids, timeout: float = 40) -> list:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        left = [p for p in pids if alive(p)]
        if not left:
            return []
        time.sleep(0.5)
    return [p for p in pids if alive(p)]


def test_postgres_desk_database_rasa_token_and_sigterm_stops_everything(tmp_path, postgres_url):
    stack = start_stack(tmp_path, {"KEFU_DATABASE_URL": postgres_url, "KEFU_RASA_TOKEN": "s3cret-token"})
    try:
        sender = new_sender()
        text = "\n".join(stack.say(sender, "客服态度太差了，问了三遍都不理人，我要投诉"))
        assert "工单号" in text, text
        # With a token, Rasa's conversation API is closed to others ...
        assert http("GET", f"{stack.rasa_url}/conversations/{sender}/tracker")[0] == 401
        assert http("GET", f"{stack.rasa_url}/conversations/{sender}/tracker?token=s3cret-token")[0] == 200
        import subprocess
        import sys
        from conftest import ROOT
        out = subprocess.run([sys.executable, "-m", "kefu.cli", "agent", "add", new_sender("a")],
                             cwd=ROOT, env=stack.env, capture_output=True, text=True, check=True).stdout
        name = out.split()[1]
        password = out.split("one-time password:")[1].strip()
        token = http("POST", f"{stack.desk_url}/api/login", {"name": name, "password": password})[1]["token"]
        status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(token))
        assert status == 200 and body["tickets"][0]["category"] == "服务态度"
        # ... and the desk, which holds the token, can still hand a conversation back.
        stack.say(sender, "转人工")
        waiting = http("GET", f"{stack.desk_url}/api/conversations?status=waiting", headers=auth(token))[1]
        [conv] = [c for c in waiting["conversations"] if c["customer_id"] == sender]
        status, body = http("POST", f"{stack.desk_url}/api/conversations/{conv['id']}/resume", headers=auth(token))
        assert status == 200, body
        assert any("您好" in r for r in stack.say(sender, "你好"))
        pids = service_pids(Path(stack.env["KEFU_PID_FILE"]))
        assert set(pids) == {"rasa", "actions", "desk", "reminders"}
    finally:
        code = stop_stack(stack)
    assert code == 0
    assert wait_gone(pids.values()) == [], "services still running after SIGTERM"


def test_one_service_dying_stops_the_others(tmp_path):
    stack = start_stack(tmp_path)
    try:
        pids = service_pids(Path(stack.env["KEFU_PID_FILE"]))
        os.kill(pids["actions"], signal.SIGKILL)
        stack.proc.wait(timeout=60)
        assert stack.proc.returncode != 0
        assert "actions exited" in stack.log_path.read_text()
        assert wait_gone(pids.values()) == []
    finally:
        stop_stack(stack)


def test_scaled_supervision_restarts_a_dead_process_but_not_a_crash_loop(tmp_path, monkeypatch):
    """The scaled profile's supervisor starts a killed process again (the
    others keep serving meanwhile), but gives up on one that keeps dying."""
    import sys

    from kefu import run as kefu_run

    monkeypatch.setenv("KEFU_PID_FILE", str(tmp_path / "pids"))
    starts = tmp_path / "starts"
    crashing = [sys.executable, "-c",
                f"open({str(starts)!r}, 'a').write('x'); import time; time.sleep(0.5); raise SystemExit(3)"]
    steady = [sys.executable, "-c", "import time; time.sleep(60)"]
    started = time.monotonic()
    code = kefu_run.supervise({"steady": steady, "crashing": crashing}, dict(os.environ), restart=True)
    assert code == 3
    assert starts.read_text() == "x" * kefu_run.CRASH_LOOP_DEATHS  # restarted, then given up
    assert time.monotonic() - started < 30  # and the steady one was stopped with it
