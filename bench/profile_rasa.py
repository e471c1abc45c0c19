"""Where the Rasa process spends its CPU per message, by stage (issue 16).

Starts the embedded stack (this checkout, or an earlier commit with
`--commit`, as bench/compare_commits.py does), puts the light load of
bench/chat_load.py --target stock on it (50 conversations at once, no think
time), and samples the Rasa process with py-spy meanwhile. Each sample is
put in the first stage whose rule matches a frame of its stack; a stage's
share of the samples times the Rasa process's measured CPU per message
(/proc) gives its milliseconds per message.

    .venv/bin/python bench/profile_rasa.py [--commit 320263d] [--seconds 40]

py-spy comes with the dev dependencies; it needs to ptrace the Rasa process
(root, or kernel.yama.ptrace_scope 0).
"""

from __future__ import annotations

import argparse
import asyncio
import collections
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

from chat_load import LIGHT_SCRIPT, cpu_seconds, run_level  # noqa: E402
from compare_commits import worktree  # noqa: E402
from stacks import embedded  # noqa: E402

# (stage, substrings of a frame "function (file:line)"); the first stage with
# a matching frame anywhere in the stack gets the sample.
STAGES: list[tuple[str, tuple[str, ...]]] = [
    ("DIET: TensorFlow call", ("run_inference (rasa/utils/tensorflow/models.py",)),
    ("DIET: data preparation", ("_create_model_data (rasa/nlu/classifiers/diet_classifier.py",)),
    ("DIET: numpy intent scores", ("bot/components/numpy_diet.py",)),
    ("event broker (desk events)", ("kefu/runtime/event_broker.py", "rasa/core/brokers/")),
    ("tracker save", ("save (rasa/core/tracker_store.py", "save (kefu/runtime/tracker_cache.py", "stream_events")),
    ("action call", ("kefu/runtime/action_calls.py", "rasa/utils/endpoints.py", "_validate_action_result", "aiohttp/")),
    ("policies", ("rasa/core/policies/",)),
    ("tracker load", ("retrieve (rasa/core/tracker_store.py", "get_or_create_tracker", "fetch_tracker")),
    ("featurisers and tokenizer", ("rasa/nlu/featurizers/", "rasa/nlu/tokenizers/", "jieba")),
    ("other NLU components", ("bot/components/", "rasa/nlu/")),
    ("graph runner", ("rasa/engine/runner/", "dask/", "kefu/runtime/graph_order.py", "rasa/engine/graph.py")),
    (
        "dialogue bookkeeping (processor, trackers, forms)",
        ("rasa/core/processor.py", "rasa/shared/core/", "rasa/core/actions/"),
    ),
    ("HTTP server (sanic, REST channel)", ("sanic/", "rasa/core/channels/", "connectors/")),
]


def stage_of(stack: str) -> str:
    for stage, needles in STAGES:
        if any(needle in stack for needle in needles):
            return stage
    return "other"


def classify(raw: Path) -> collections.Counter[str]:
    """py-spy's raw (collapsed) output: 'frame;frame;... count' per line."""
    counts: collections.Counter[str] = collections.Counter()
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if stack and count.isdigit():
            counts[stage_of(stack)] += int(count)
    return counts


async def load_until(webhook: str, stop_at: float) -> int:
    messages = 0
    while time.monotonic() < stop_at:
        messages += int((await run_level(webhook, 50, 1, LIGHT_SCRIPT))["messages"])
    return messages


async def profile(root: Path, seconds: int, out: Path) -> tuple[collections.Counter[str], float]:
    py_spy = shutil.which("py-spy") or str(Path(sys.executable).parent / "py-spy")
    with embedded({"KEFU_MODELS_DIR": str(root / "models")}, root) as running:
        webhook = f"{running.url}/webhooks/rest/webhook"
        await run_level(webhook, 50, 1, LIGHT_SCRIPT)  # warm-up
        pids = dict(line.split() for line in running.pid_file.read_text().splitlines())
        rasa_pid = pids["rasa"]
        before = cpu_seconds(running.pid_file)["rasa"]
        spy = subprocess.Popen(
            [py_spy, "record", "-p", rasa_pid, "-d", str(seconds), "-r", "200", "-f", "raw", "-o", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
        messages = await load_until(webhook, time.monotonic() + seconds)
        _, err = spy.communicate(timeout=120)
        if spy.returncode != 0:
            raise SystemExit(f"py-spy failed: {err.decode(errors='replace')}")
        cpu_ms_per_message = (cpu_seconds(running.pid_file)["rasa"] - before) * 1000 / messages
    return classify(out), cpu_ms_per_message


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--commit", help="profile this earlier commit (a git worktree in var/bench-worktrees/)")
    parser.add_argument("--seconds", type=int, default=40)
    parser.add_argument("--raw", help="keep py-spy's samples in this file (collapsed stacks, for a flame graph)")
    args = parser.parse_args()
    root = worktree(args.commit) if args.commit else ROOT
    with tempfile.TemporaryDirectory() as tmp:
        counts, cpu_ms = await profile(root, args.seconds, Path(args.raw) if args.raw else Path(tmp) / "rasa.txt")
    total = sum(counts.values())
    print(f"{args.commit or 'this checkout'}: Rasa process {cpu_ms:.2f} ms CPU per message, {total} samples")
    print(f"{'stage':<50} {'samples':>8} {'ms/message':>10}")
    for stage, count in counts.most_common():
        print(f"{stage:<50} {count:>8} {count / total * cpu_ms:>10.2f}")


if __name__ == "__main__":
    asyncio.run(main())
