"""The `kefu` command."""

from __future__ import annotations

import argparse
import sys


def main(argv: list[str] | None = None) -> int:
    from kefu.core.permissions import ROLES, Role  # light: an enum, no database

    parser = argparse.ArgumentParser(prog="kefu", description="Kefu customer-service assistant")
    sub = parser.add_subparsers(dest="command", required=True)

    run_p = sub.add_parser("run", help="start Rasa, the action server and the desk (foreground)")
    run_p.add_argument(
        "--scaled",
        action="store_true",
        help="2 Rasa + 2 action servers on PostgreSQL + Redis behind nginx (docs/deploy.md)",
    )
    sub.add_parser("desk", help="start only the desk")
    serve_p = sub.add_parser("serve", help="one process of one kind, for containers and systemd units")
    serve_p.add_argument("role", choices=["rasa", "actions", "desk", "reminders"])
    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade"])

    agent = sub.add_parser("agent", help="manage desk agents")
    agent_sub = agent.add_subparsers(dest="agent_command", required=True)
    add = agent_sub.add_parser("add", help="create an agent and print a one-time password")
    add.add_argument("name")
    add.add_argument("--role", choices=ROLES, default=Role.agent.value)
    for command, help_text in (
        ("passwd", "give an agent a new one-time password (their sessions end)"),
        ("disable", "an agent can no longer sign in (their sessions end)"),
        ("enable", "let a disabled agent sign in again"),
        ("unlock", "forget the failed logins for an agent's name, from every address"),
    ):
        agent_sub.add_parser(command, help=help_text).add_argument("name")

    bills = sub.add_parser("bills", help="fee bills (物业费, 水电费, 租金, 停车费)")
    bills_sub = bills.add_subparsers(dest="bills_command", required=True)
    imp = bills_sub.add_parser(
        "import", help="import a UTF-8 CSV: customer_id,channel,address,kind,amount,due_date,period"
    )
    imp.add_argument("file")
    paid = bills_sub.add_parser("paid", help="mark a bill paid (its reminders stop)")
    paid.add_argument("customer_id")
    paid.add_argument("kind")
    paid.add_argument("period")

    from kefu.cli import knowledge as knowledge_cli

    knowledge_cli.add_parser(sub)
    rem = sub.add_parser("reminders", help="automated reminders (催付/催缴)")
    rem_sub = rem.add_subparsers(dest="reminders_command", required=True)
    rem_sub.add_parser("run", help="plan and send reminders until stopped (SIGTERM/Ctrl-C)")
    prev = rem_sub.add_parser("preview", help="what would be sent now, and why")
    prev.add_argument("--all", action="store_true", help="also list what is not sent, with the reason")
    lst = rem_sub.add_parser("list", help="reminders in the outbox")
    lst.add_argument("--status", help="pending, sent, uncertain, failed, cancelled …")
    lst.add_argument("--limit", type=int, default=50)

    cust = sub.add_parser("customer", help="a customer's personal data: export it, or delete it")
    cust.add_argument("action", choices=["export", "delete"])
    cust.add_argument("customer_id", help="as the desk shows it: wechat:<openid>, taobao:<buyer>, …")
    cust.add_argument("--yes", action="store_true", help="delete without asking")

    from kefu.cli import models as models_cli

    models_cli.add_parsers(sub)
    ev = sub.add_parser("nlu-eval", help="score the NLU on a JSONL file of {text, intent}")
    ev.add_argument("file")
    ev.add_argument("--model", help="model archive (default: the live model of the model registry)")

    args = parser.parse_args(argv)
    refused = undecodable_argument(args)
    if refused is not None:
        print(f"error: {refused} is not valid UTF-8 text", file=sys.stderr)
        return 2
    from kefu.text.pii import install

    install()  # every log line of every kefu process: phone numbers and addresses masked
    from kefu.core.settings import set_library_defaults

    set_library_defaults()  # TF_CPP_MIN_LOG_LEVEL, RASA_TELEMETRY_ENABLED, unless set

    if args.command == "run":
        from kefu.runtime.supervisor import run

        return run(scaled=args.scaled)
    if args.command == "serve":
        from kefu.runtime.supervisor import serve

        return serve(args.role)
    if args.command == "desk":
        from kefu.desk.app import main as desk_main

        desk_main()
        return 0
    if args.command == "db":
        from kefu.core.db import upgrade
        from kefu.core.settings import load_settings

        upgrade(load_settings().database_url)
        print("schema is up to date")
        return 0
    if args.command == "agent":
        if args.agent_command == "add":
            return add_agent(args.name, args.role)
        return manage_agent(args.agent_command, args.name)
    if args.command == "bills":
        if args.bills_command == "paid":
            return mark_bill_paid(args.customer_id, args.kind, args.period)
        return import_bills(args.file)
    if args.command == "kb":
        return knowledge_cli.main(args)
    if args.command == "reminders":
        from kefu.cli import reminders as reminders_cli

        return reminders_cli.main(args)
    if args.command == "customer":
        from kefu.cli.customers import main as customer_main

        return customer_main(args.action, args.customer_id, args.yes)
    if args.command in ("train", "models"):
        return models_cli.main(args)
    if args.command == "nlu-eval":
        from kefu.cli.nlu_eval import main as eval_main

        return eval_main(args.file, args.model)
    return 2


def undecodable_argument(args: argparse.Namespace) -> str | None:
    """The name of the first argument that is not UTF-8, or None.

    Python decodes argv with surrogateescape: bytes that are not UTF-8 turn
    into lone surrogates, which fail much later (a database write, a log
    line) with a traceback. Refused here, before anything is read or written.
    """
    from kefu.text.received import is_valid_text

    for name, value in vars(args).items():
        if isinstance(value, str) and not is_valid_text(value):
            return name
    return None


def add_agent(name: str, role: str) -> int:
    from sqlalchemy.orm import Session

    from kefu.core.agents import AgentExists, BadAgentName
    from kefu.core.agents import add_agent as create
    from kefu.core.db import make_engine, upgrade
    from kefu.core.settings import load_settings

    url = load_settings().database_url
    upgrade(url)
    with Session(make_engine(url), future=True, expire_on_commit=False) as session:
        try:
            agent, password = create(session, name, role)
        except BadAgentName as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 2
        except AgentExists as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
    print(f"agent {agent.name} ({agent.role}) created")
    print(f"one-time password: {password}")
    return 0


def manage_agent(command: str, name: str) -> int:
    """kefu agent passwd|disable|enable|unlock NAME."""
    from sqlalchemy.orm import Session

    from kefu.core import agents, login_limit
    from kefu.core.db import make_engine, upgrade
    from kefu.core.settings import load_settings

    url = load_settings().database_url
    upgrade(url)
    with Session(make_engine(url), future=True, expire_on_commit=False) as session:
        agent = agents.find_agent(session, name)
        if agent is None:
            print(f"error: no agent named {name!r}", file=sys.stderr)
            return 1
        if command == "passwd":
            password = agents.reset_password(session, agent)
            print(f"agent {agent.name}: new one-time password: {password}")
        elif command in ("disable", "enable"):
            agents.set_disabled(session, agent, command == "disable")
            print(f"agent {agent.name} is {command}d" + ("; their sessions have ended" if command == "disable" else ""))
        else:
            login_limit.unlock(session, agents.lookup_name(agent.name))  # as logins count it
            print(f"agent {agent.name}: failed logins forgotten")
    return 0


def import_bills(file: str) -> int:
    from pathlib import Path

    from sqlalchemy.orm import Session

    from kefu.core.bills import BillFileError, BillFileNotText, import_file
    from kefu.core.db import make_engine, upgrade
    from kefu.core.settings import load_settings

    path = Path(file)
    if not path.is_file():
        print(f"error: {file}: no such file", file=sys.stderr)
        return 2
    url = load_settings().database_url
    upgrade(url)
    with Session(make_engine(url), future=True) as session:
        try:
            report = import_file(session, path)
        except BillFileNotText as exc:
            print(f"error: {file}: {exc}", file=sys.stderr)
            return 2
        except BillFileError as exc:
            print(f"error: {file}: {exc}", file=sys.stderr)
            return 1
    if report.errors:
        for line in report.errors:
            print(f"error: {file}: {line}", file=sys.stderr)
        print(f"nothing imported: {len(report.errors)} problem(s) to fix first", file=sys.stderr)
        return 1
    print(f"imported {report.imported} bill(s); {report.unchanged} already imported")
    return 0


def mark_bill_paid(customer_id: str, kind: str, period: str) -> int:
    from sqlalchemy.orm import Session

    from kefu.core.bills import mark_paid
    from kefu.core.db import make_engine, upgrade
    from kefu.core.settings import load_settings

    url = load_settings().database_url
    upgrade(url)
    with Session(make_engine(url), future=True) as session:
        if not mark_paid(session, customer_id, kind, period):
            print(f"error: no bill for {customer_id} {kind} {period}", file=sys.stderr)
            return 1
    print(f"bill {customer_id} {kind} {period} is paid; its reminders stop")
    return 0


if __name__ == "__main__":
    sys.exit(main())
