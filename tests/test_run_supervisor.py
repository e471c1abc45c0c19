"""`kefu run` (what `make run` starts): one signal stops all; a dead process
is started again, a crash loop stops all."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

import pytest

from tests.support.processes import pending_request_to, service_pids, serving, wait_gone
from tests.support.stack import auth, http, new_sender, start_stack, stop_stack, wait_for

pytestmark = pytest.mark.e2e  # starts its own stack


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

        from tests.support.stack import ROOT

        out = subprocess.run(
            [sys.executable, "-m", "kefu.cli", "agent", "add", new_sender("a")],
            cwd=ROOT,
            env=stack.env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout
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


def test_a_dead_action_server_is_restarted_and_customers_are_answered(tmp_path):
    """Issue 11 item 7: the turn in flight when the action server dies gets
    the polite busy answer, `kefu run` starts the action server again with a
    log line, the same customer's next message is answered normally, and a
    process that keeps dying stops everything with a non-zero exit."""
    import threading

    from connectors.rest import SYSTEM_BUSY_REPLY

    stack = start_stack(tmp_path, {"KEFU_CRASH_LOOP_WINDOW_SECONDS": "3600", "KEFU_REMINDER_WORKERS": "0"})
    pid_file = Path(stack.env["KEFU_PID_FILE"])
    port = int(stack.env["KEFU_ACTIONS_PORT"])
    try:
        sender = new_sender()
        assert any("您好" in r for r in stack.say(sender, "你好"))
        first = service_pids(pid_file)["actions"]
        # Stopped, the action server leaves the complaint's action call
        # waiting in its socket; killed then, the call fails mid-request.
        os.kill(first, signal.SIGSTOP)
        answer = {}
        turn = threading.Thread(
            target=lambda: answer.update(
                reply=http(
                    "POST",
                    f"{stack.rasa_url}/webhooks/rest/webhook",
                    {"sender": sender, "message": "快递太慢了，我要投诉"},
                    timeout=300,
                )
            )
        )
        turn.start()
        assert wait_for(lambda: pending_request_to(port), timeout=120), "the action call never reached the server"
        os.kill(first, signal.SIGKILL)
        turn.join(timeout=300)
        status, replies = answer["reply"]
        assert status == 200 and SYSTEM_BUSY_REPLY in [r.get("text") for r in replies], replies

        assert wait_for(lambda: service_pids(pid_file)["actions"] != first, timeout=30)
        assert f"kefu: actions (pid {first}) exited with code -9; starting it again" in stack.log_path.read_text()
        assert wait_for(lambda: serving(stack.actions_url), timeout=180)
        # The failed turn left nothing behind: the next one is answered in full.
        assert "工单号" in "\n".join(stack.say(sender, "快递太慢了，我要投诉"))
        assert stack.proc.poll() is None

        # Killed twice more (3 deaths in the window): a crash loop, so all stop.
        for _ in range(2):
            pid = service_pids(pid_file)["actions"]
            os.kill(pid, signal.SIGKILL)
            wait_for(
                lambda pid=pid: service_pids(pid_file)["actions"] != pid or stack.proc.poll() is not None, timeout=30
            )
        pids = service_pids(pid_file)
        stack.proc.wait(timeout=60)
        assert stack.proc.returncode != 0
        assert "actions exited with code -9, 3 times in 3600 s; stopping everything" in stack.log_path.read_text()
        assert wait_gone(pids.values()) == []
    finally:
        stop_stack(stack)


def test_supervision_restarts_a_dead_process_but_not_a_crash_loop(tmp_path, monkeypatch):
    """The supervisor (both profiles) starts a dead process again (the others
    keep serving meanwhile), but gives up on one that keeps dying."""
    import sys

    from kefu.runtime import supervisor as kefu_run

    monkeypatch.setenv("KEFU_PID_FILE", str(tmp_path / "pids"))
    starts = tmp_path / "starts"
    crashing = [
        sys.executable,
        "-c",
        f"open({str(starts)!r}, 'a').write('x'); import time; time.sleep(0.5); raise SystemExit(3)",
    ]
    steady = [sys.executable, "-c", "import time; time.sleep(60)"]
    started = time.monotonic()
    code = kefu_run.supervise({"steady": steady, "crashing": crashing}, dict(os.environ))
    assert code == 3
    assert starts.read_text() == "x" * kefu_run.CRASH_LOOP_DEATHS  # restarted, then given up
    assert time.monotonic() - started < 30  # and the steady one was stopped with it
