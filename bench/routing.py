"""Routing under load: 20 agents (capacity 5) and 200 simultaneous handoffs
on PostgreSQL, with two desk processes routing at once.

    .venv/bin/python bench/routing.py [--agents 20] [--capacity 5] [--handoffs 200]

Two `kefu desk` processes share a fresh PostgreSQL database (dropped at the
end). The agents are set online in the database, then 200 customers are
handed off at once (threads, each its own connection, as action servers do).
Every slot fills; then every agent hands their conversations back at once,
and the rest of the queue fills the freed capacity.

Prints: time from handoff (or from the capacity freeing up) to assignment,
p50 / p99; assignments per conversation as both desks' logs record them
(must be exactly one per phase); the most active conversations any agent had
at any moment (sampled every 20 ms; must not exceed capacity); and whether
the waiting customers' positions are 1, 2, 3 … with no gaps.
"""

from __future__ import annotations

import argparse
import os
import re
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select, update  # noqa: E402
from sqlalchemy.orm import Session  # noqa: E402

from kefu.core import agents, routing  # noqa: E402
from kefu.core.conversations import record_handoff  # noqa: E402
from kefu.core.db import make_engine, upgrade  # noqa: E402
from kefu.core.models import Conversation, ConversationStatus  # noqa: E402
from tests.support.scaled_stack import PG_ADMIN_URL, free_port, http, pg_database, stop  # noqa: E402

ASSIGNED = re.compile(r"assigned conversation (\d+) to agent (\d+)")


def start_desk(url: str, log: Path) -> tuple[subprocess.Popen, str]:
    port = free_port()
    env = {
        **os.environ,
        "KEFU_DATABASE_URL": url,
        "KEFU_DESK_PORT": str(port),
        "KEFU_DESK_HOST": "127.0.0.1",
        "KEFU_RASA_URL": "http://127.0.0.1:9",  # never called: the customers are on the REST channel
        "KEFU_RASA_TOKEN": uuid.uuid4().hex,
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "kefu.cli", "desk"],
        cwd=ROOT,
        env=env,
        stdout=log.open("w"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    desk_url = f"http://127.0.0.1:{port}"
    # Up once it answers at all: /healthz says 503 here, as there is no Rasa.
    deadline = time.monotonic() + 60
    while True:
        if proc.poll() is not None or time.monotonic() > deadline:
            stop(proc)
            raise RuntimeError(f"the desk did not start; log:\n{log.read_text()[-2000:]}")
        try:
            http("GET", f"{desk_url}/healthz")
            return proc, desk_url
        except OSError:
            time.sleep(0.2)


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--agents", type=int, default=20)
    parser.add_argument("--capacity", type=int, default=5)
    parser.add_argument("--handoffs", type=int, default=200)
    args = parser.parse_args()
    slots = args.agents * args.capacity
    with pg_database(PG_ADMIN_URL) as url, tempfile.TemporaryDirectory(prefix="kefu-routing-") as tmp:
        upgrade(url)
        engine = make_engine(url)
        with Session(engine) as session:
            team = []
            for i in range(args.agents):
                agent, _password = agents.add_agent(session, f"坐席{i:02d}")
                routing.set_agent(session, agent.id, {"capacity": args.capacity})
                team.append(agent.id)
        logs = [Path(tmp) / "desk-a.log", Path(tmp) / "desk-b.log"]
        desks = [start_desk(url, log) for log in logs]
        try:
            with Session(engine) as session:
                for agent_id in team:
                    routing.set_status(session, agent_id, "online")
            peak = Counter[int]()
            sampling = threading.Event()

            def sample() -> None:
                with Session(engine) as watch:
                    while not sampling.is_set():
                        rows = watch.execute(
                            select(Conversation.assignee_id, func.count())
                            .where(Conversation.status == ConversationStatus.assigned.value)
                            .group_by(Conversation.assignee_id)
                        ).all()
                        watch.rollback()
                        for agent_id, count in rows:
                            peak[agent_id] = max(peak[agent_id], count)
                        time.sleep(0.02)

            sampler = threading.Thread(target=sample)
            sampler.start()
            barrier = threading.Barrier(args.handoffs)

            def hand_off(i: int) -> None:
                with Session(engine) as own:
                    barrier.wait()
                    record_handoff(
                        own,
                        channel="rest",
                        customer_id=f"bench-{i:04d}",
                        intent="inquiry",
                        reason="customer_request",
                        last_message="转人工",
                    )

            started = time.time()
            threads = [threading.Thread(target=hand_off, args=(i,)) for i in range(args.handoffs)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            handed = time.time() - started

            def assigned_count() -> int:
                with Session(engine) as s:
                    return s.execute(
                        select(func.count()).where(Conversation.status == ConversationStatus.assigned.value)
                    ).scalar_one()

            deadline = time.monotonic() + 30
            while assigned_count() < min(slots, args.handoffs) and time.monotonic() < deadline:
                time.sleep(0.05)
            with Session(engine) as s:
                first = s.execute(select(Conversation).where(Conversation.assignee_id.is_not(None))).scalars().all()
            waits = [(c.assigned_at - c.waiting_since).total_seconds() * 1000 for c in first]
            with Session(engine) as s:
                places = sorted(place for _group, place in routing.positions(s).values())
            positions_ok = places == list(range(1, len(places) + 1))

            # Phase 2: everyone hands back at once; the queue fills the freed capacity.
            with Session(engine) as s:
                s.execute(
                    update(Conversation)
                    .where(Conversation.id.in_([c.id for c in first]))
                    .values(status=ConversationStatus.bot.value, assignee_id=None, waiting_since=None)
                )
                freed_at = time.time()  # just before the commit: the figures are upper bounds
                s.commit()
            deadline = time.monotonic() + 30
            second_wave = min(slots, args.handoffs - len(first))
            while assigned_count() < second_wave and time.monotonic() < deadline:
                time.sleep(0.05)
            with Session(engine) as s:
                second = s.execute(select(Conversation).where(Conversation.assignee_id.is_not(None))).scalars().all()
            # A pass dates its assignments when it begins: one that began just
            # before the commit and read the freed rows after it shows a time a
            # few ms before freed_at, counted as 0.
            refill = [max(0.0, (c.assigned_at.timestamp() - freed_at) * 1000) for c in second]
            sampling.set()
            sampler.join()
        finally:
            for proc, _url in desks:
                stop(proc)
            engine.dispose()
        counts = Counter(int(m.group(1)) for log in logs for m in ASSIGNED.finditer(log.read_text()))
        per_desk = [len(ASSIGNED.findall(log.read_text())) for log in logs]
        first_ids = {c.id for c in first}
        second_ids = {c.id for c in second}
        twice = [
            cid
            for cid, n in counts.items()
            if n != (1 if cid in first_ids ^ second_ids else 2 if cid in first_ids & second_ids else 0)
        ]
        over = {agent_id: n for agent_id, n in peak.items() if n > args.capacity}
        print(
            f"{args.agents} agents × capacity {args.capacity}, {args.handoffs} handoffs at once "
            f"(recorded in {handed:.2f} s), two desk processes on PostgreSQL"
        )
        print()
        print("| phase | assigned | p50 | p99 | max |")
        print("| --- | --- | --- | --- | --- |")
        print(
            f"| handoff → agent | {len(waits)} | {percentile(waits, 0.5):.0f} ms | {percentile(waits, 0.99):.0f} ms | {max(waits):.0f} ms |"
        )
        if refill:
            print(
                f"| capacity freed → next in queue | {len(refill)} | {percentile(refill, 0.5):.0f} ms | "
                f"{percentile(refill, 0.99):.0f} ms | {max(refill):.0f} ms |"
            )
        print()
        print(f"assignments by desk A / desk B: {per_desk[0]} / {per_desk[1]}")
        print(f"conversations assigned other than once per phase: {len(twice)}")
        print(f"agents ever above capacity: {len(over)} (peak active per agent: {max(peak.values(), default=0)})")
        print(f"waiting positions 1…{len(places)} without gaps: {positions_ok}")


if __name__ == "__main__":
    main()
