"""The model registry, the training set and the quality gate (fast tier):
which model is live, one training at a time, rollbacks, what is held back,
what the gate lets through, which files are kept; and `/api/models`."""

from __future__ import annotations

import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import yaml
from sqlalchemy.orm import Session

from kefu.core import learning, model_registry, training_set
from kefu.core.db import make_engine, upgrade
from kefu.core.model_gate import Scores, decide
from kefu.core.models import utcnow
from kefu.runtime.retrain import prune
from tests.support.desk import Desk
from tests.support.stack import auth, http


@pytest.fixture
def session(tmp_path):
    url = f"sqlite:///{tmp_path / 'models.db'}"
    upgrade(url)
    engine = make_engine(url)
    with Session(engine, future=True) as s:
        yield s
    engine.dispose()


def trained(session: Session, file: str) -> int:
    job = model_registry.start_training(session, "boss")
    model_registry.make_live(session, job.id, file=file, reason="ok", metrics={"heldout_macro_f1": 0.97})
    return job.id


def test_one_model_is_live_and_the_one_it_replaces_can_come_back(session):
    first = model_registry.adopt(session, "base.tar.gz", "first").id
    assert model_registry.adopt(session, "other.tar.gz", "first").id == first  # only on an empty registry
    second = trained(session, "kefu-2.tar.gz")
    statuses = {m.id: m.status for m in model_registry.list_models(session)}
    assert statuses == {first: "retired", second: "live"}
    assert model_registry.live_path(session, Path("/m")) == Path("/m/kefu-2.tar.gz")

    model_registry.make_live(session, first)  # the rollback
    assert model_registry.live(session).id == first
    assert {m.id: m.status for m in model_registry.list_models(session)} == {first: "live", second: "retired"}
    assert model_registry.named_files(session) == {"base.tar.gz", "kefu-2.tar.gz"}


def test_a_rejected_or_running_model_never_goes_live(session):
    model_registry.adopt(session, "base.tar.gz", "first")
    job = model_registry.start_training(session, "boss")
    with pytest.raises(model_registry.NotActivatable):
        model_registry.make_live(session, job.id)  # a rollback target must have been live
    with pytest.raises(model_registry.TrainingRunning) as busy:
        model_registry.start_training(session, "boss")
    assert busy.value.model_id == job.id
    model_registry.reject(session, job.id, "worse")
    with pytest.raises(model_registry.NotActivatable):
        model_registry.make_live(session, job.id)
    assert model_registry.live(session).file == "base.tar.gz"
    assert model_registry.named_files(session) == {"base.tar.gz"}


def test_a_training_without_heartbeat_is_closed(session):
    job = model_registry.start_training(session, "boss")
    job.heartbeat_at = utcnow() - model_registry.STALE_AFTER - timedelta(seconds=1)
    session.commit()
    again = model_registry.start_training(session, "boss")  # not refused: the first one died
    assert again.id != job.id
    session.refresh(job)
    assert job.status == "rejected" and job.reason == model_registry.STOPPED_REASON


def labelled(text: str, intent: str, minutes: int) -> learning.Labelled:
    return learning.Labelled(text, intent, utcnow() + timedelta(minutes=minutes))


def test_a_fifth_of_the_new_labels_is_held_back_and_the_old_ones_are_trained():
    since = utcnow()
    old = [labelled(f"旧的例句{i}", "inquiry", -10) for i in range(7)]
    new = [labelled(f"新的例句{i}", "complaint", +1) for i in range(11)]
    split = training_set.split(old + new, since)
    assert len(split.held_back) == 2  # 11 // 5
    assert {t for t, _ in split.held_back} <= {e.text for e in new}
    assert len(split.train) == 16 and all(t.startswith("旧") for t, _ in split.train[:7])
    assert training_set.split(old + new, since) == split  # the same examples each time
    assert training_set.split(old + new, None).held_back == []  # no live model to compare with


def test_a_relabelled_text_keeps_its_newest_intent_and_brackets_are_not_entities(tmp_path):
    examples = [labelled("[退款](amount) 到哪了\n", "inquiry", 1), labelled("[退款](amount) 到哪了", "complaint", 2)]
    split = training_set.split(examples, None)
    assert split.train == [("［退款］(amount) 到哪了", "complaint")]
    path = training_set.write_learned(tmp_path, split.train)
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert data["nlu"] == [{"intent": "complaint", "examples": "- ［退款］(amount) 到哪了\n"}]
    from rasa.shared.nlu.training_data.formats.rasa_yaml import RasaYAMLReader

    [message] = RasaYAMLReader().read(path).training_examples
    assert message.get("text") == "［退款］(amount) 到哪了" and not message.get("entities")
    assert training_set.write_learned(tmp_path / "none", []) is None


def scores(f1: float, correct: int, n: int = 4) -> Scores:
    return Scores(heldout_accuracy=f1, heldout_macro_f1=f1, heldout_n=372, new_correct=correct, new_n=n)


def test_the_gate():
    assert decide(scores(0.5, 0), None).live  # nothing live yet
    assert decide(scores(0.961, 3), scores(0.970, 3)).live  # 0.9 point lower: allowed
    worse = decide(scores(0.955, 4), scores(0.970, 1))
    assert not worse.live and "1.5 个点" in worse.reason
    forgot = decide(scores(0.975, 1), scores(0.970, 2))
    assert not forgot.live and "1/4" in forgot.reason and "2/4" in forgot.reason


def test_prune_keeps_the_live_model_and_rollback_targets(session, tmp_path):
    for name in ("base.tar.gz", "kefu-2.tar.gz", "kefu-3.tar.gz", "stray.tar.gz"):
        (tmp_path / name).write_bytes(b"x")
    model_registry.adopt(session, "base.tar.gz", "first")
    trained(session, "kefu-2.tar.gz")
    rejected = model_registry.start_training(session, "boss")
    model_registry.reject(session, rejected.id, "worse")
    assert sorted(prune(session, tmp_path)) == ["kefu-3.tar.gz", "stray.tar.gz"]
    assert sorted(p.name for p in tmp_path.glob("*.tar.gz")) == ["base.tar.gz", "kefu-2.tar.gz"]


def test_the_api(desk: Desk):
    engine = make_engine(desk.database_url)
    models_dir = Path(desk.env["KEFU_MODELS_DIR"])
    tag = uuid.uuid4().hex[:6]  # the session's desk is shared: files and rows of this test only
    with Session(engine, future=True) as s:
        first = trained(s, f"base-{tag}.tar.gz")
        second = trained(s, f"kefu-{tag}.tar.gz")
        running = model_registry.start_training(s, "boss").id
    boss, agent = desk.token("supervisor"), desk.token("agent")
    url = desk.desk_url
    assert http("GET", f"{url}/api/models", headers=auth(agent))[0] == 403
    assert http("POST", f"{url}/api/models/train", headers=auth(agent))[0] == 403
    status, body = http("GET", f"{url}/api/models", headers=auth(boss))
    assert status == 200
    listed = {m["id"]: m for m in body["models"]}
    assert listed[second]["status"] == "live" and listed[second]["metrics"] == {"heldout_macro_f1": 0.97}
    assert listed[running]["status"] == "training" and set(listed[first]) >= {
        "id",
        "created_at",
        "status",
        "metrics",
        "reason",
    }

    status, body = http("POST", f"{url}/api/models/train", headers=auth(boss))
    assert status == 409 and body["job_id"] == running  # one training at a time
    assert http("POST", f"{url}/api/models/{running}/activate", headers=auth(boss))[0] == 409
    status, body = http("POST", f"{url}/api/models/{first}/activate", headers=auth(boss))
    assert status == 409 and "missing" in body["error"]  # its file is gone: nothing changes
    (models_dir / f"base-{tag}.tar.gz").write_bytes(b"x")
    status, body = http("POST", f"{url}/api/models/{first}/activate", headers=auth(boss))
    assert status == 200 and body["model"]["status"] == "live" and body["failed"] == []
    assert desk.models_loaded[-1] == str((models_dir / f"base-{tag}.tar.gz").resolve())  # Rasa's PUT /model
    assert http("POST", f"{url}/api/models/999999/activate", headers=auth(boss))[0] == 404
    with Session(engine, future=True) as s:
        assert model_registry.live(s).id == first
        model_registry.reject(s, running, "test over")
    engine.dispose()
