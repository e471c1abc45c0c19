"""bench/chat_load.py's closed loop on this checkout and on an earlier commit,
measured in the same run, alternating, on the same machine.

    .venv/bin/python bench/compare_commits.py --before b7fc722 [--rounds 2]

The earlier commit is checked out as a git worktree in var/bench-worktrees/
and gets its own model (trained once, with this venv's Rasa, from its own
data); this checkout uses the newest model in models/. Each round starts one
stack, then the other (never both at once: they share the cores), and runs
10 and then 50 concurrent conversations of the chat_load script.

`--replies` instead holds one conversation of each chat_load script (the
README's and the light one of --target stock) on each build and compares
the replies, ticket numbers aside: a faster build must answer the same.

    .venv/bin/python bench/compare_commits.py --before 320263d --replies
"""

from __future__ import annotations

import argparse
import asyncio
import re
import statistics
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "bench"))

import aiohttp  # noqa: E402
from chat_load import LIGHT_SCRIPT, SCRIPT, run_level  # noqa: E402
from stacks import embedded  # noqa: E402

LEVELS = (10, 50)


def worktree(rev: str) -> Path:
    path = ROOT / "var" / "bench-worktrees" / rev
    if not path.exists():
        subprocess.run(["git", "worktree", "add", "--detach", str(path), rev], cwd=ROOT, check=True)
    if not list((path / "models").glob("*.tar.gz")):
        (path / "models").mkdir(exist_ok=True)
        rasa = [sys.executable, "-m", "rasa", "train", "--config", "bot/config.yml", "--domain", "bot/domain.yml"]
        subprocess.run([*rasa, "--data", "data", "--out", "models"], cwd=path, check=True)
    return path


async def measure(root: Path) -> dict[int, float]:
    extra = {"KEFU_MODELS_DIR": str(root / "models")}
    with embedded(extra, root) as running:
        webhook = f"{running.url}/webhooks/rest/webhook"
        await run_level(webhook, 4, 1)  # warm-up
        found = {}
        for level in LEVELS:
            result = await run_level(webhook, level, 1)
            assert result["failures"] == 0, result
            found[level] = result["msg_per_s"]
        return found


async def replies(root: Path) -> list[tuple[str, list[str]]]:
    """Each message of both scripts and the texts answered, in one conversation per script."""
    said = []
    with embedded({"KEFU_MODELS_DIR": str(root / "models")}, root) as running:
        async with aiohttp.ClientSession() as session:
            for number, script in enumerate((SCRIPT, LIGHT_SCRIPT)):
                for text in script:
                    body = {"sender": f"replies-{number}", "message": text}
                    async with session.post(f"{running.url}/webhooks/rest/webhook", json=body) as resp:
                        answer = [m.get("text") or str(m) for m in await resp.json()]
                    # Ticket numbers count on from whatever the database holds.
                    said.append((text, [re.sub(r"KF\d+", "KF…", t) for t in answer]))
    return said


async def compare_replies(before: Path) -> None:
    old, new = await replies(before), await replies(ROOT)
    for (text, a), (_, b) in zip(old, new, strict=True):
        print(f"{'same' if a == b else 'DIFFERENT'}: {text}")
        if a != b:
            print(f"  before: {a}\n  now:    {b}")
    same = sum(a == b for (_, a), (_, b) in zip(old, new, strict=True))
    print(f"{same} of {len(old)} replies the same")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--before", required=True, help="the earlier commit")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--replies", action="store_true", help="compare the replies instead of the speed")
    args = parser.parse_args()
    before = worktree(args.before)
    if args.replies:
        await compare_replies(before)
        return
    runs: dict[str, list[dict[int, float]]] = {"before": [], "now": []}
    for number in range(args.rounds):
        for name, root in (("before", before), ("now", ROOT)):
            runs[name].append(await measure(root))
            print(
                f"round {number + 1} {name}: " + ", ".join(f"{lv}: {v:.1f} msg/s" for lv, v in runs[name][-1].items())
            )
    for level in LEVELS:
        b = statistics.mean(r[level] for r in runs["before"])
        n = statistics.mean(r[level] for r in runs["now"])
        print(f"{level} conversations: before {b:.1f} msg/s, now {n:.1f} msg/s, ratio {n / b:.2f}")


if __name__ == "__main__":
    asyncio.run(main())
