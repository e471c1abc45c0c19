"""Concurrent customer conversations against a running `make run`.

Each simulated customer holds one conversation of realistic turns (greeting,
questions, a complaint, a payment matter, a repair with its form, goodbye)
over /webhooks/rest/webhook. For 1, 10 and 50 concurrent conversations it
prints messages/second, p50 and p99 latency of a whole reply (NLU, dialogue,
action server, database), and the peak memory of each process.

    make run                     # in one terminal
    .venv/bin/python bench/chat_load.py [--url http://127.0.0.1:5005] [--rounds 4]
"""
from __future__ import annotations

import argparse
import asyncio
import statistics
import time
import uuid
from pathlib import Path
from typing import Dict, List

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


def percentile(values: List[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))
    return ordered[index]


async def conversation(session: aiohttp.ClientSession, url: str, rounds: int,
                       latencies: List[float], failures: List[str]) -> None:
    for _ in range(rounds):
        sender = f"bench-{uuid.uuid4().hex[:12]}"
        for text in SCRIPT:
            started = time.perf_counter()
            try:
                async with session.post(url, json={"sender": sender, "message": text}) as resp:
                    body = await resp.json()
                    if resp.status != 200 or not body:
                        failures.append(f"{resp.status} {text}")
            except (aiohttp.ClientError, asyncio.TimeoutError) as exc:
                failures.append(f"{exc.__class__.__name__} {text}")
            latencies.append(time.perf_counter() - started)


async def run_level(url: str, concurrency: int, rounds: int) -> Dict[str, float]:
    latencies: List[float] = []
    failures: List[str] = []
    connector = aiohttp.TCPConnector(limit=concurrency)
    timeout = aiohttp.ClientTimeout(total=60)
    async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
        started = time.perf_counter()
        await asyncio.gather(*(conversation(session, url, rounds, latencies, failures)
                               for _ in range(concurrency)))
        elapsed = time.perf_counter() - started
    return {
        "concurrency": concurrency,
        "messages": len(latencies),
        "failures": len(failures),
        "msg_per_s": len(latencies) / elapsed,
        "p50_ms": statistics.median(latencies) * 1000,
        "p99_ms": percentile(latencies, 0.99) * 1000,
    }


def peak_memory(pid_file: Path) -> Dict[str, float]:
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


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--url", default="http://127.0.0.1:5005")
    parser.add_argument("--rounds", type=int, default=3, help="conversations per simulated customer")
    parser.add_argument("--levels", default="1,10,50")
    parser.add_argument("--pids", default=str(ROOT / "var" / "kefu.pids"))
    args = parser.parse_args()
    webhook = f"{args.url}/webhooks/rest/webhook"
    # Warm-up: first requests load lazy parts of the model.
    await run_level(webhook, 1, 1)
    print(f"{'concurrent':>10} {'messages':>8} {'fail':>5} {'msg/s':>8} {'p50 ms':>8} {'p99 ms':>8}")
    for level in (int(x) for x in args.levels.split(",")):
        r = await run_level(webhook, level, args.rounds)
        print(f"{r['concurrency']:>10} {r['messages']:>8} {r['failures']:>5} {r['msg_per_s']:>8.1f} "
              f"{r['p50_ms']:>8.0f} {r['p99_ms']:>8.0f}")
    for name, mib in peak_memory(Path(args.pids)).items():
        print(f"peak memory {name:>8}: {mib:7.0f} MiB")


if __name__ == "__main__":
    asyncio.run(main())
