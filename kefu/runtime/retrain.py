"""`kefu train`: a new model from the training data plus what supervisors
labelled in 待学习, made live only if it passes the quality gate.

One job, in this order: the labelled examples (a fifth of the new ones held
back, kefu/core/training_set.py) are added to a copy of the training data;
`rasa train` makes the model in a child process; the new and the live model
are scored on the held-out test files and the held-back examples; the gate
(kefu/core/model_gate.py) decides; a model that passes goes live in the
registry and is loaded into every Rasa server, one that fails is recorded as
rejected with the reason and its file deleted. The whole job runs at low CPU
priority so that the bot keeps answering while it trains.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from sqlalchemy.orm import Session

from kefu.core import learning, model_registry, training_set
from kefu.core.db import make_engine, upgrade
from kefu.core.model_gate import Scores, decide
from kefu.core.settings import PROJECT_ROOT, ModelSettings, environment
from kefu.runtime.live_model import load_everywhere

NICENESS = 10
HEARTBEAT_SECONDS = 10.0
EXIT_LIVE, EXIT_FAILED, EXIT_REJECTED = 0, 1, 3


def lower_priority() -> None:
    with contextlib.suppress(OSError):  # not allowed (a container's seccomp): normal priority
        os.nice(NICENESS)


class Heartbeat:
    """Tells the registry the job is alive while the slow parts run."""

    def __init__(self, database_url: str, model_id: int) -> None:
        self.database_url, self.model_id = database_url, model_id
        self.stopped = threading.Event()
        self.thread = threading.Thread(target=self.run, name="train-heartbeat", daemon=True)

    def run(self) -> None:
        engine = make_engine(self.database_url)
        try:
            while not self.stopped.wait(HEARTBEAT_SECONDS):
                with Session(engine, future=True) as session:
                    model_registry.heartbeat(session, self.model_id)
        finally:
            engine.dispose()

    def __enter__(self) -> Heartbeat:
        self.thread.start()
        return self

    def __exit__(self, *_exc) -> None:
        self.stopped.set()
        self.thread.join()


def rasa_train(data_dir: Path, models_dir: Path, name: str, log: Path) -> Path:
    """Rasa's own training in a child process (TensorFlow's memory goes with
    it); the archive, or RuntimeError with the end of its output."""
    env = environment()  # the custom NLU components are imported from the project directory
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(PROJECT_ROOT), env.get("PYTHONPATH")]))
    cmd = [
        sys.executable,
        "-m",
        "rasa",
        "train",
        "--config",
        str(PROJECT_ROOT / "bot" / "config.yml"),
        "--domain",
        str(PROJECT_ROOT / "bot" / "domain.yml"),
        "--data",
        str(data_dir),
        "--out",
        str(models_dir),
        "--fixed-model-name",
        name,
    ]
    with log.open("wb") as out:
        code = subprocess.call(cmd, cwd=PROJECT_ROOT, env=env, stdout=out, stderr=subprocess.STDOUT)
    archive = models_dir / f"{name}.tar.gz"
    if code != 0 or not archive.is_file():
        tail = log.read_bytes()[-800:].decode("utf-8", "replace")
        raise RuntimeError(f"rasa train exited with code {code}: {tail}")
    return archive


def read_heldout(files: tuple[Path, ...]) -> list[tuple[str, str]]:
    from kefu.runtime.nlu_scoring import read_examples

    return [example for path in files for example in read_examples(path)]


def scores(model: Path, heldout: list[tuple[str, str]], held_back: list[tuple[str, str]]) -> Scores:
    from kefu.runtime.nlu_scoring import evaluate_examples, rasa_parser

    parse = rasa_parser(model)
    result = evaluate_examples(heldout, parse)
    predicted = parse([t for t, _ in held_back]) if held_back else []
    return Scores(
        heldout_accuracy=float(result.accuracy),
        heldout_macro_f1=float(result.macro_f1),
        heldout_n=len(heldout),
        new_correct=sum(p == i for p, (_, i) in zip(predicted, held_back, strict=True)),
        new_n=len(held_back),
    )


def prune(session: Session, models_dir: Path) -> list[str]:
    """Delete the archives the registry does not name (rejected models,
    models replaced before the registry existed); never a rollback target."""
    keep = model_registry.named_files(session)
    gone = []
    for archive in models_dir.glob("*.tar.gz"):
        if archive.name not in keep:
            archive.unlink(missing_ok=True)
            gone.append(archive.name)
    return gone


def run(settings: ModelSettings, job_id: int | None = None, requested_by: str | None = None) -> int:
    lower_priority()
    upgrade(settings.database_url)
    settings.models_dir.mkdir(parents=True, exist_ok=True)
    heldout = read_heldout(settings.heldout_files)  # a bad file fails before the slow part
    engine = make_engine(settings.database_url)
    try:
        with Session(engine, future=True) as session:
            if job_id is None:
                try:
                    job_id = model_registry.start_training(session, requested_by).id
                except model_registry.TrainingRunning as busy:
                    print(f"error: model {busy.model_id} is training; wait for it to finish", file=sys.stderr)
                    return EXIT_FAILED
            print(f"kefu train: model {job_id}", flush=True)
            with Heartbeat(settings.database_url, job_id):
                return _train(session, settings, job_id, heldout)
    finally:
        engine.dispose()


def _train(session: Session, settings: ModelSettings, job_id: int, heldout: list[tuple[str, str]]) -> int:
    started = time.monotonic()
    try:
        current = model_registry.live(session)
        current_file = model_registry.live_path(session, settings.models_dir)
        split = training_set.split(learning.labelled_examples(session), current.created_at if current else None)
        name = f"kefu-{job_id}-{time.strftime('%Y%m%d-%H%M%S')}"
        with tempfile.TemporaryDirectory(prefix="kefu-train-") as tmp:
            data = Path(tmp) / "data"
            shutil.copytree(settings.train_data, data)
            training_set.write_learned(data, split.train)
            print(
                f"kefu train: {len(split.train)} labelled examples added, {len(split.held_back)} held back",
                flush=True,
            )
            archive = rasa_train(data, settings.models_dir, name, Path(tmp) / "rasa-train.log")
        print(f"kefu train: trained {archive.name}; scoring it", flush=True)
        candidate = scores(archive, heldout, split.held_back)
        live_scores = (
            scores(current_file, heldout, split.held_back) if current_file and current_file.is_file() else None
        )
    except Exception as exc:  # noqa: BLE001 - any failure is recorded, the live model stays
        model_registry.reject(session, job_id, f"训练失败：{exc}"[:1000])
        print(f"error: training failed: {exc}", file=sys.stderr)
        return EXIT_FAILED
    verdict = decide(candidate, live_scores)
    metrics = {
        **candidate.as_json(),
        "live_model_id": current.id if current is not None else None,
        "live": live_scores.as_json() if live_scores is not None else None,
        "trained_examples": len(split.train),
        "held_back": [text for text, _ in split.held_back],
        "seconds": round(time.monotonic() - started, 1),
    }
    if verdict.live:
        model_registry.make_live(session, job_id, file=archive.name, reason=verdict.reason, metrics=metrics)
        print(f"kefu train: model {job_id} is live ({verdict.reason})", flush=True)
        failures = load_everywhere(settings.rasa_server_urls, settings.rasa_token, archive)
        gone = prune(session, settings.models_dir)
        if gone:
            print(f"kefu train: deleted {', '.join(sorted(gone))}", flush=True)
        return EXIT_LIVE if not failures else EXIT_FAILED
    model_registry.reject(session, job_id, verdict.reason, metrics)
    archive.unlink(missing_ok=True)
    print(f"kefu train: model {job_id} rejected: {verdict.reason}", flush=True)
    return EXIT_REJECTED
