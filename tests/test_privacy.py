"""Personal data: masked in every log line; exported and deleted on request."""

from __future__ import annotations

import json
import logging
import subprocess
import sys

from kefu.text.pii import install, mask
from tests.support.stack import ROOT, Stack, auth, http, new_sender


def test_phone_numbers_and_rooms_are_masked():
    assert mask("电话13812345678") == "电话138****5678"
    assert mask("+86 138-1234-5678 找我") == "138****5678 找我"
    assert mask("3栋2单元501室漏水") == "3栋2单元***室漏水"
    assert mask("12号楼803") == "12号楼***"
    assert mask("7-2-301") == "7-2-***"
    assert mask("订单3847261950384726153") == "订单3847261950384726153"  # order ids stay readable
    assert mask("2026-11-27 10:00") == "2026-11-27 10:00"


def test_every_log_record_is_masked_after_install():
    install()
    install()  # idempotent
    seen = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(self.format(record))

    log = logging.getLogger("kefu.test.pii")
    log.addHandler(Keep())
    log.warning("customer %s at %s", "13900001111", "5栋1单元1202")
    assert seen == ["customer 139****1111 at 5栋1单元***"]


def kefu(stack: Stack, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "kefu.cli", *args], cwd=ROOT, env=stack.env, capture_output=True, text=True, timeout=120
    )


def test_customer_export_then_delete(stack: Stack, agent_token: str):
    sender = new_sender("gdpr")
    stack.say(sender, "物业态度太差了，我要投诉，电话13800138000")
    exported = kefu(stack, "customer", "export", sender)
    assert exported.returncode == 0, exported.stderr
    data = json.loads(exported.stdout)
    assert data["customer_id"] == sender and len(data["tickets"]) == 1
    assert any(
        e.get("text", "").startswith("物业态度太差了") for e in data["conversation_events"] if e["event"] == "user"
    )

    assert kefu(stack, "customer", "delete", sender).returncode == 1  # asks, and nothing typed
    deleted = kefu(stack, "customer", "delete", sender, "--yes")
    assert deleted.returncode == 0 and "tickets 1" in deleted.stdout, deleted.stdout + deleted.stderr
    again = json.loads(kefu(stack, "customer", "export", sender).stdout)
    assert again["tickets"] == [] and again["conversations"] == []
    assert not [e for e in again["conversation_events"] or [] if e["event"] == "user"]
    status, body = http("GET", f"{stack.desk_url}/api/tickets?customer_id={sender}", headers=auth(agent_token))
    assert status == 200 and body["tickets"] == []
