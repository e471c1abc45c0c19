"""The model registry over HTTP (supervisors, on /learning): the models,
training a new one with what was labelled, and rolling back."""

from __future__ import annotations

import subprocess
import sys
import threading

from aiohttp import web

from kefu.core import model_registry
from kefu.core.permissions import can_teach_bot
from kefu.desk.requests import AGENT, RASA, SETTINGS, in_db, int_param, supervisor_required


@supervisor_required(can_teach_bot)
async def list_models(request: web.Request) -> web.Response:
    found = await in_db(request, model_registry.list_models)
    return web.json_response({"models": [model_registry.model_to_json(m) for m in found]})


def start_job(model_id: int, log_dir) -> None:
    """`kefu train --job ID` in its own session (it outlives a desk restart);
    a thread reaps it when it ends."""
    log_dir.mkdir(parents=True, exist_ok=True)
    with (log_dir / f"train-{model_id}.log").open("ab") as log:
        proc = subprocess.Popen(
            [sys.executable, "-m", "kefu.cli", "train", "--job", str(model_id)],
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    threading.Thread(target=proc.wait, name=f"train-{model_id}", daemon=True).start()


@supervisor_required(can_teach_bot)
async def train(request: web.Request) -> web.Response:
    try:
        model = await in_db(request, model_registry.start_training, request[AGENT].name)
    except model_registry.TrainingRunning as busy:
        return web.json_response(
            {"error": f"模型 {busy.model_id} 正在训练，请等它完成", "code": "training", "job_id": busy.model_id},
            status=409,
        )
    start_job(model.id, request.app[SETTINGS].models_dir)
    return web.json_response({"job_id": model.id}, status=202)


def _roll_back(session, model_id: int, models_dir) -> dict:
    return model_registry.model_to_json(model_registry.roll_back(session, model_id, models_dir))


@supervisor_required(can_teach_bot)
async def activate(request: web.Request) -> web.Response:
    settings = request.app[SETTINGS]
    model = await in_db(request, _roll_back, int_param(request, "model_id"), settings.models_dir)
    path = str((settings.models_dir / model["file"]).resolve())
    failures = [
        failure
        for url in settings.rasa_server_urls or (settings.rasa_url,)
        if (failure := await request.app[RASA].load_model(url, path)) is not None
    ]
    return web.json_response({"model": model, "failed": failures}, status=502 if failures else 200)
