"""The model registry: every NLU model `kefu train` made, the quality gate's
figures for it, and which one is live.

The live model is recorded here, not implied by the newest file in the
models directory: `kefu run`, `kefu serve rasa` and a restarted Rasa server
load the registry's live model, so a model the gate rejected never goes live
by a restart, and the file of every model a supervisor can roll back to is
kept (`named_files`). Only one training runs at a time; a training whose
process stopped sending heartbeats is closed as rejected.
"""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from kefu.core.errors import Conflict, NotFound
from kefu.core.models import NluModel, local_iso, utcnow

STATUSES = ("training", "rejected", "live", "retired")
# A training job writes a heartbeat every few seconds (kefu train); one
# silent for this long died with its process (a reboot, a kill).
STALE_AFTER = timedelta(seconds=120)
STOPPED_REASON = "训练进程已中断（没有心跳），模型未上线"


class TrainingRunning(Conflict):
    def __init__(self, model_id: int) -> None:
        super().__init__(f"model {model_id} is still training; one training at a time", code="training")
        self.model_id = model_id


class NotActivatable(Conflict):
    def __init__(self, model: NluModel) -> None:
        super().__init__(f"model {model.id} is {model.status}: only a live or retired model can be made live")


def _close_stale(session: Session) -> None:
    cutoff = utcnow() - STALE_AFTER
    for model in session.execute(
        select(NluModel).where(NluModel.status == "training", NluModel.heartbeat_at < cutoff)
    ).scalars():
        model.status, model.reason = "rejected", STOPPED_REASON


def start_training(session: Session, requested_by: str | None) -> NluModel:
    """A new job's row, or TrainingRunning while another one is alive."""
    _close_stale(session)
    running = session.execute(
        select(NluModel).where(NluModel.status == "training").with_for_update()
    ).scalar_one_or_none()
    if running is not None:
        session.commit()
        raise TrainingRunning(running.id)
    model = NluModel(status="training", metrics={}, requested_by=requested_by)
    session.add(model)
    session.commit()
    return model


def get(session: Session, model_id: int) -> NluModel:
    model = session.get(NluModel, model_id)
    if model is None:
        raise NotFound("no such model")
    return model


def heartbeat(session: Session, model_id: int) -> None:
    get(session, model_id).heartbeat_at = utcnow()
    session.commit()


def reject(session: Session, model_id: int, reason: str, metrics: dict | None = None) -> NluModel:
    model = get(session, model_id)
    model.status, model.reason = "rejected", reason
    if metrics is not None:
        model.metrics = metrics
    session.commit()
    return model


def live(session: Session) -> NluModel | None:
    return (
        session.execute(select(NluModel).where(NluModel.status == "live").order_by(NluModel.activated_at.desc()))
        .scalars()
        .first()
    )


def make_live(
    session: Session, model_id: int, file: str | None = None, reason: str | None = None, metrics: dict | None = None
) -> NluModel:
    """This model becomes the live one and the one it replaces a rollback
    target (retired). A training job passes its file, reason and figures;
    a rollback (no file) takes a model that was live before."""
    model = get(session, model_id)
    if file is None and model.status not in ("live", "retired"):
        raise NotActivatable(model)
    if file is not None and model.status != "training":
        raise NotActivatable(model)
    # Row locks on PostgreSQL: two activations at once leave one live model.
    for other in session.execute(select(NluModel).where(NluModel.status == "live").with_for_update()).scalars():
        if other.id != model.id:
            other.status = "retired"
    if file is not None:
        model.file = file
    if reason is not None:
        model.reason = reason
    if metrics is not None:
        model.metrics = metrics
    model.status, model.activated_at = "live", utcnow()
    session.commit()
    return model


class FileMissing(Conflict):
    def __init__(self, model: NluModel, models_dir: Path) -> None:
        super().__init__(f"model {model.id}'s file {model.file} is missing from {models_dir}")


def roll_back(session: Session, model_id: int, models_dir: Path) -> NluModel:
    """An earlier model (live or retired) live again, if its file is still
    there; the caller loads it into the Rasa servers."""
    model = get(session, model_id)
    if model.status in ("live", "retired") and not (model.file and (models_dir / model.file).is_file()):
        raise FileMissing(model, models_dir)
    return make_live(session, model_id)


def adopt(session: Session, file: str, reason: str) -> NluModel:
    """Record a model trained outside `kefu train` (the first start of a
    new installation) as live, when nothing is live yet."""
    current = live(session)
    if current is not None:
        return current
    model = NluModel(status="training", metrics={}, file=file)
    session.add(model)
    session.flush()
    return make_live(session, model.id, file=file, reason=reason)


def list_models(session: Session) -> list[NluModel]:
    """Newest first."""
    _close_stale(session)
    session.commit()
    return list(session.execute(select(NluModel).order_by(NluModel.id.desc())).scalars())


def named_files(session: Session) -> set[str]:
    """The files to keep: the live model and every rollback target."""
    rows = session.execute(select(NluModel.file).where(NluModel.status.in_(("live", "retired")))).scalars()
    return {name for name in rows if name}


def live_path(session: Session, models_dir: Path) -> Path | None:
    model = live(session)
    return models_dir / model.file if model is not None and model.file else None


def model_to_json(model: NluModel) -> dict:
    return {
        "id": model.id,
        "created_at": local_iso(model.created_at),
        "status": model.status,
        "metrics": dict(model.metrics or {}),
        "reason": model.reason,
        "file": model.file,
        "requested_by": model.requested_by,
        "activated_at": local_iso(model.activated_at),
    }
