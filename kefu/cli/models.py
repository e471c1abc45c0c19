"""`kefu train` and `kefu models list|activate|prune`: the model registry from the shell."""

from __future__ import annotations

import argparse
import json
import sys


def add_parsers(sub) -> None:
    train = sub.add_parser(
        "train",
        help="train a model with what was labelled in 待学习; it goes live only if it passes the quality gate",
    )
    train.add_argument("--job", type=int, help=argparse.SUPPRESS)  # the row the desk made (POST /api/models/train)
    models = sub.add_parser("models", help="the model registry: which model is live, rollbacks")
    models_sub = models.add_subparsers(dest="models_command", required=True)
    models_sub.add_parser("list", help="every model, newest first, with its status and the gate's figures")
    activate = models_sub.add_parser("activate", help="make an earlier model live again (rollback)")
    activate.add_argument("model_id", type=int)
    models_sub.add_parser("prune", help="delete the model files the registry does not name")


def main(args: argparse.Namespace) -> int:
    from kefu.core.settings import load_model_settings

    settings = load_model_settings()
    if args.command == "train":
        from kefu.runtime import retrain

        return retrain.run(settings, job_id=args.job)
    from sqlalchemy.orm import Session

    from kefu.core import model_registry
    from kefu.core.db import make_engine, upgrade
    from kefu.core.errors import KefuError

    upgrade(settings.database_url)
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, future=True) as session:
            if args.models_command == "list":
                for model in model_registry.list_models(session):
                    print(json.dumps(model_registry.model_to_json(model), ensure_ascii=False))
                return 0
            if args.models_command == "prune":
                from kefu.runtime.retrain import prune

                for name in sorted(prune(session, settings.models_dir)):
                    print(f"deleted {name}")
                return 0
            from kefu.runtime.live_model import load_everywhere

            try:
                model = model_registry.roll_back(session, args.model_id, settings.models_dir)
            except KefuError as err:
                print(f"error: {err.message}", file=sys.stderr)
                return 1
            failures = load_everywhere(settings.rasa_server_urls, settings.rasa_token, settings.models_dir / model.file)
            print(f"model {model.id} ({model.file}) is live")
            return 1 if failures else 0
    finally:
        engine.dispose()
