"""Concurrent customer conversations against a running `make run`.

Each simulated customer holds one conversation of realistic turns (greeting,
questions, a complaint, a payment matter, a repair with its form, goodbye)
over /webhooks/rest/webhook. For 1, 10 and 50 concurrent conversations it
prints messages/second, p50 and p99 latency of a whole reply (NLU, dialogue,
action server, database), and the peak memory of each process.

    make run                     # in one terminal
    .venv/bin/python bench/chat_load.py [--url http://127.0.0.1:5005] [--rounds 4]

`--target scaled` starts each profile itself, one after the other (never
both at once: they share the two cores): the embedded one (`kefu run`, SQLite)
and the scaled one (`kefu run --scaled`: nginx, 2 Rasa + 2 action servers,
PostgreSQL + Redis, on throw-away databases). Each gets the same load: 50,
200 and 500 customers chatting at a human pace (a think time between a reply
and the next message, 5-15 s by default; `--think`), then a closed loop of
50 customers without think time for the most messages/second it serves. The
figures are printed side by side with the ratio scaled/embedded.

    .venv/bin/python bench/chat_load.py --target scaled [--levels 50,200,500] [--think 5:15]

`--target stock` measures Kefu (embedded, `kefu run`) against the stock Rasa
bot of bench/stock_bot/ (Rasa's own components, canned replies, no action
server; trained here once per version of its files), started one after the
other in the same run, `--runs` times alternating: 50 concurrent
conversations of the light script (greeting, two questions, a complaint, the
start of a repair, a payment question) without think time, after a warm-up
round. It prints both throughputs, p50/p99, the ratio, and the CPU time per
message of each process (from /proc, so the figures include every part of
the reply path: NLU, dialogue, action server, database).

    .venv/bin/python bench/chat_load.py --target stock [--runs 3] [--rounds 2] [--kefu-commit 320263d]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import random
import statistics
import sys
import time
import uuid
from pathlib import Path

import aiohttp

ROOT = Path(__file__).resolve().parent.parent

SCRIPT = [
    "亲，在吗",
    "请问现货几天能发货呀",
    "物业费在哪里交",
    "卫生间的水龙头一直滴水，麻烦派人修一下",
    "幸福家园3栋2单元501",
    "186 1234 5678",
    "快递一个星期了还没到，物流太慢了，我要投诉",
    "好的谢谢",
    "拜拜",
]
# --target stock: what both bots can answer (the stock bot knows 5 intents).
LIGHT_SCRIPT = [
    "你好",
    "请问现货几天能发货呀",
    "可以开发票吗",
    "快递一个星期了还没到，物流太慢了，我要投诉",
    "卫生间的水龙头一直滴水，麻烦派人修一下",
    "物业费在哪里交",
]


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def paced_conversation(
    session: aiohttp.ClientSession, url: str, think: tuple[float, float], latencies: list[float], failures: list[str]
) -> None:
    """One customer at a human pace: starts at a random moment of the first
    think time, waits for each answer, then thinks before the next message."""
    sender = f"bench-{uuid.uuid4().hex[:12]}"
    await asyncio.sleep(random.uniform(0, think[1]))
    for text in SCRIPT:
        await send(session, url, sender, text, latencies, failures)
        await asyncio.sleep(random.uniform(*think))


async def send(
    session: aiohttp.ClientSession, url: str, sender: str, text: str, latencies: list[float], failures: list[str]
) -> None:
    """One message and its whole reply; a "system busy" answer is a failure."""
    started = time.perf_counter()
    try:
        async with session.post(url, json={"sender": sender, "message": text}) as resp:
            body = await resp.json()
            if resp.status != 200 or not body:
                failures.append(f"{resp.status} {text}")
            elif any("系统暂时" in (m.get("text") or "") for m in body):
                failures.append(f"busy {text}")
    except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
        failures.append(f"{exc.__class__.__name__} {text}")
    latencies.append(time.perf_counter() - started)


async def run_paced(url: str, customers: int, think: tuple[float, float]) -> dict[str, float]:
    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=0)
    async with aiohttp.ClientSession(connector=connector, timeout=aiohttp.ClientTimeout(total=120)) as session:
        started = time.perf_counter()
        await asyncio.gather(*(paced_conversation(session, url, think, latencies, failures) for _ in range(customers)))
        elapsed = time.perf_counter() - started
    return summary(customers, latencies, failures, elapsed)


def summary(concurrency: int, latencies: list[float], failures: list[str], elapsed: float) -> dict[str, float]:
    return {
        "concurrency": concurrency,
        "messages": len(latencies),
        "failures": len(failures),
        "msg_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


async def conversation(
    session: aiohttp.ClientSession,
    url: str,
    rounds: int,
    latencies: list[float],
    failures: list[str],
    script: list[str] = SCRIPT,
) -> None:
    for _ in range(rounds):
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for text in script:
            await send(session, url, sender, text, latencies, failures)


async def run_level(url: str, concurrency: int, rounds: int, script: list[str] = SCRIPT) -> dict[str, float]:
    latencies: list[float] = []
    failures: list[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(
            *(conversation(session, url, rounds, latencies, failures, script) for _ in range(concurrency))
        )
        elapsed = time.perf_counter() - started
    return summary(concurrency, latencies, failures, elapsed)


def peak_memory(pid_file: Path) -> dict[str, float]:
    """VmHWM (peak resident set) of each service process, in MiB."""
    peaks = {}
    if not pid_file.exists():
        return peaks
    for line in pid_file.read_text().splitlines():
        name, pid = line.split()
        try:
            status = Path(f"/proc/{pid}/status").read_text()
        except FileNotFoundError:
            continue
        for row in status.splitlines():
            if row.startswith("VmHWM:"):
                peaks[name] = int(row.split()[1]) / 1024
    return peaks


async def measure_profile(
    url: str, levels: list[int], think: tuple[float, float], pid_file: Path
) -> dict[str, dict[str, float]]:
    webhook = f"{url}/webhooks/rest/webhook"
    await run_level(webhook, 4, 1)  # warm-up: every server loads lazy parts of the model
    results = {}
    for level in levels:
        results[f"{level} paced"] = await run_paced(webhook, level, think)
        print(f"  {level:>4} customers at a human pace: {fmt(results[f'{level} paced'])}", flush=True)
    results["50 closed"] = await run_level(webhook, 50, 1)
    print(f"    50 customers without think time: {fmt(results['50 closed'])}", flush=True)
    results["memory"] = peak_memory(pid_file)
    return results


def fmt(r: dict[str, float]) -> str:
    return (
        f"{r['messages']} messages, {r['failures']} errors, {r['msg_per_s']:.1f} msg/s, "
        f"p50 {r['p50_ms']:.0f} ms, p99 {r['p99_ms']:.0f} ms"
    )


async def compare_profiles(levels: list[int], think: tuple[float, float]) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import stacks

    measured = {}
    for name, start in (("embedded", stacks.embedded), ("scaled", stacks.scaled)):
        print(f"{name}: starting", flush=True)
        with start() as running:
            measured[name] = await measure_profile(running.url, levels, think, running.pid_file)
    # What one more Rasa + action server pair adds: the scaled profile with one
    # of each, closed loop only.
    print("scaled with 1 Rasa + 1 action server: starting", flush=True)
    with stacks.scaled(rasa_servers=1, action_servers=1) as running:
        webhook = f"{running.url}/webhooks/rest/webhook"
        await run_level(webhook, 4, 1)
        single = await run_level(webhook, 50, 1)
        print(f"    50 customers without think time: {fmt(single)}", flush=True)
    emb, sca = measured["embedded"], measured["scaled"]
    print(
        f"\nthink time {think[0]:g}-{think[1]:g} s; scaled = nginx + 2 Rasa + 2 action servers, "
        "PostgreSQL + Redis; embedded = 1 of each, SQLite"
    )
    head = f"{'msg/s':>7} {'p50 ms':>7} {'p99 ms':>7} {'err':>5}"
    print(f"{'load':>22} | {'embedded':^29} | {'scaled':^29} | {'scaled/embedded':^16}")
    print(f"{'':>22} | {head} | {head} | {'msg/s':>7} {'p99':>7}")
    for key in [f"{level} paced" for level in levels] + ["50 closed"]:
        e, s = emb[key], sca[key]
        label = f"{key.split()[0]} customers" + (", no think" if key.endswith("closed") else "")
        row = lambda r: f"{r['msg_per_s']:>7.1f} {r['p50_ms']:>7.0f} {r['p99_ms']:>7.0f} {r['failures']:>5}"  # noqa: E731
        print(
            f"{label:>22} | {row(e)} | {row(s)} | {s['msg_per_s'] / e['msg_per_s']:>7.2f} "
            f"{s['p99_ms'] / e['p99_ms']:>7.2f}"
        )
    print(
        f"scaled, 50 customers without think time: 1 Rasa + 1 action server {single['msg_per_s']:.1f} msg/s, "
        f"2 + 2 {sca['50 closed']['msg_per_s']:.1f} msg/s "
        f"(the second pair adds {sca['50 closed']['msg_per_s'] - single['msg_per_s']:.1f} msg/s)"
    )
    for name in ("embedded", "scaled"):
        memory = ", ".join(f"{k} {v:.0f}" for k, v in measured[name]["memory"].items())
        print(f"peak memory MiB, {name}: {memory}")


def cpu_seconds(pid_file: Path) -> dict[str, float]:
    """User + system CPU time so far of each service process (/proc/PID/stat)."""
    ticks = os.sysconf("SC_CLK_TCK")
    used = {}
    for line in pid_file.read_text().splitlines():
        name, pid = line.split()
        try:
            stat = Path(f"/proc/{pid}/stat").read_text()
        except FileNotFoundError:
            continue
        fields = stat.rsplit(")", 1)[1].split()  # after "(comm)": state is field 3
        used[name] = (int(fields[11]) + int(fields[12])) / ticks  # utime, stime
    return used


async def measure_closed(running, rounds: int) -> tuple[dict[str, float], dict[str, float]]:
    """Warm-up, then 50 conversations of LIGHT_SCRIPT at once without think
    time: the figures and the CPU ms per message of each process."""
    webhook = f"{running.url}/webhooks/rest/webhook"
    await run_level(webhook, 50, 1, LIGHT_SCRIPT)
    before = cpu_seconds(running.pid_file)
    result = await run_level(webhook, 50, rounds, LIGHT_SCRIPT)
    after = cpu_seconds(running.pid_file)
    per_message = {name: (after[name] - before[name]) * 1000 / result["messages"] for name in after if name in before}
    return result, per_message


async def compare_stock(runs: int, rounds: int, kefu_commit: str | None = None) -> None:
    sys.path[:0] = [str(ROOT), str(ROOT / "bench")]
    import functools

    import stacks
    from compare_commits import worktree

    print(f"training or reusing the stock bot: {stacks.stock_model().name}", flush=True)
    kefu = stacks.embedded
    if kefu_commit:  # an earlier Kefu, with its own model (bench/compare_commits.py)
        root = worktree(kefu_commit)
        kefu = functools.partial(stacks.embedded, {"KEFU_MODELS_DIR": str(root / "models")}, root)
        print(f"Kefu at {kefu_commit}", flush=True)
    rows = []
    for run in range(1, runs + 1):
        figures = {}
        # Alternate who goes first: neither always gets the cooler machine.
        order = [("stock", stacks.stock), ("kefu", kefu)]
        for name, start in order if run % 2 else order[::-1]:
            with start() as running:
                figures[name] = await measure_closed(running, rounds)
            result, cpu = figures[name]
            cpu_text = ", ".join(f"{k} {v:.1f}" for k, v in cpu.items())
            print(f"run {run} {name:>5}: {fmt(result)}; CPU ms/message: {cpu_text}", flush=True)
        ratio = figures["kefu"][0]["msg_per_s"] / figures["stock"][0]["msg_per_s"]
        rows.append((figures, ratio))
        print(f"run {run}: Kefu/stock {ratio:.2f}", flush=True)
    print(f"\n50 concurrent conversations × {rounds} of {len(LIGHT_SCRIPT)} turns, no think time, after a warm-up")
    print(f"{'run':>3} | {'stock msg/s':>11} {'p50':>5} {'p99':>5} | {'Kefu msg/s':>10} {'p50':>5} {'p99':>5} | ratio")
    for run, (figures, ratio) in enumerate(rows, start=1):
        s, k = figures["stock"][0], figures["kefu"][0]
        print(
            f"{run:>3} | {s['msg_per_s']:>11.1f} {s['p50_ms']:>5.0f} {s['p99_ms']:>5.0f} | "
            f"{k['msg_per_s']:>10.1f} {k['p50_ms']:>5.0f} {k['p99_ms']:>5.0f} | {ratio:.2f}"
        )
    print(f"median ratio {statistics.median(r for _, r in rows):.2f}")
    for name in ("kefu", "stock"):
        names = rows[0][0][name][1]
        text = ", ".join(f"{n} {statistics.median(f[name][1][n] for f, _ in rows):.1f}" for n in names)
        print(f"CPU ms per message, {name} (median): {text}")


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument(
        "--target",
        choices=["running", "scaled", "stock"],
        default="running",
        help="running: the stack at --url; scaled: start embedded and scaled, compare; "
        "stock: start Kefu and the stock Rasa bot, compare",
    )
    parser.add_argument("--runs", type=int, default=3, help="--target stock: alternating runs")
    parser.add_argument("--kefu-commit", help="--target stock: measure this earlier commit of Kefu instead")
    parser.add_argument("--rounds", type=int, default=3, help="conversations per simulated customer")
    parser.add_argument("--levels", help="concurrent customers (default 1,10,50; with --target scaled 50,200,500)")
    parser.add_argument("--think", default="5:15", help="seconds between a reply and the next message (scaled)")
    parser.add_argument("--pids", default=str(ROOT / "var" / "kefu.pids"))
    args = parser.parse_args()
    if args.target == "stock":
        await compare_stock(args.runs, args.rounds, args.kefu_commit)
        return
    if args.target == "scaled":
        low, high = (float(x) for x in args.think.split(":"))
        await compare_profiles([int(x) for x in (args.levels or "50,200,500").split(",")], (low, high))
        return
    webhook = f"{args.url}/webhooks/rest/webhook"
    # Warm-up: first requests load lazy parts of the model.
    await run_level(webhook, 1, 1)
    print(f"{'concurrent':>10} {'messages':>8} {'fail':>5} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for level in (int(x) for x in (args.levels or "1,10,50").split(",")):
        r = await run_level(webhook, level, args.rounds)
        print(
            f"{r['concurrency']:>10} {r['messages']:>8} {r['failures']:>5} {r['msg_per_s']:>8.1f} "
            f"{r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f}"
        )
    for name, mib in peak_memory(Path(args.pids)).items():
        print(f"peak memory {name:>8}: {mib:7.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
