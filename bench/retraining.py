"""Retraining while customers chat: seconds from a supervisor's label in
/learning to a live model, and the bot's latency meanwhile.

Starts the embedded profile (`kefu run`) on throw-away stores and a models
directory of its own holding the project's model, measures 10 concurrent
conversations (closed loop) before training, then: customers send Cantonese
thanks the model does not know, a supervisor labels them on /learning
(`POST /api/learning/{id}/label`), presses train (`POST /api/models/train`),
and the same 10 conversations run until the new model is live on Rasa.

    .venv/bin/python bench/retraining.py
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chat_load import conversation, fmt, percentile, run_level  # noqa: E402
from stacks import embedded  # noqa: E402

from kefu.runtime.live_model import newest_archive  # noqa: E402
from tests.support.agents import add_agent, login  # noqa: E402
from tests.support.stack import auth, http, new_sender, with_token  # noqa: E402

TEXTS = ["唔该晒", "真系唔该晒", "唔该你", "唔该晒你", "唔該晒"]
CONCURRENCY = 10


def live_model_file(desk_url: str, token: str) -> str | None:
    models = http("GET", f"{desk_url}/api/models", headers=auth(token))[1]["models"]
    return next((m["file"] for m in models if m["status"] == "live"), None)


async def main() -> None:
    base = newest_archive(ROOT / "models")
    if base is None:
        raise SystemExit("no model in models/: run make train first")
    with tempfile.TemporaryDirectory(prefix="kefu-bench-models-") as models:
        try:
            os.link(base, Path(models) / base.name)
        except OSError:
            shutil.copy2(base, Path(models) / base.name)
        with embedded({"KEFU_MODELS_DIR": models}) as running:
            assert running.env is not None
            webhook = f"{running.url}/webhooks/rest/webhook"
            boss = login(running.desk_url, *add_agent(running.env, "supervisor", "bench"))
            await run_level(webhook, 4, 1)  # warm-up
            before = await run_level(webhook, CONCURRENCY, 2)
            print(f"before training, {CONCURRENCY} conversations: {fmt(before)}", flush=True)

            for text in TEXTS:
                http("POST", webhook, {"sender": new_sender("canto"), "message": text})
            items = http("GET", f"{running.desk_url}/api/learning", headers=auth(boss))[1]["items"]
            labelled_at = time.monotonic()
            for item in items:
                if item["text"] in TEXTS:
                    http(
                        "POST",
                        f"{running.desk_url}/api/learning/{item['id']}/label",
                        {"intent": "thank"},
                        headers=auth(boss),
                    )
            old = live_model_file(running.desk_url, boss)
            status, body = http("POST", f"{running.desk_url}/api/models/train", headers=auth(boss))
            assert status == 202, body

            latencies: list[float] = []
            failures: list[str] = []
            rounds = 0
            status_url = with_token(f"{running.url}/status", running.env["KEFU_RASA_TOKEN"])
            async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=60)) as session:
                while True:
                    await asyncio.gather(
                        *(conversation(session, webhook, 1, latencies, failures) for _ in range(CONCURRENCY))
                    )
                    rounds += 1
                    loaded = Path(http("GET", status_url)[1].get("model_file", "")).name
                    if loaded != old and loaded == live_model_file(running.desk_url, boss):
                        break
                    models_now = http("GET", f"{running.desk_url}/api/models", headers=auth(boss))[1]["models"]
                    if any(m["status"] == "rejected" for m in models_now):
                        raise SystemExit(f"the gate rejected the model: {models_now[0]['reason']}")
            label_to_live = time.monotonic() - labelled_at
            print(
                f"while training, {CONCURRENCY} conversations ({rounds} rounds): {len(latencies)} messages, "
                f"{len(failures)} errors, p50 {percentile(latencies, 0.5) * 1000:.0f} ms, "
                f"p99 {percentile(latencies, 0.99) * 1000:.0f} ms",
                flush=True,
            )
            print(f"label in /learning -> live model on Rasa: {label_to_live:.0f} s", flush=True)


if __name__ == "__main__":
    asyncio.run(main())
