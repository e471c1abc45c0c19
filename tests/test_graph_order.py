"""Rasa's graph in a fixed order (kefu/runtime/graph_order.py) gives what
dask's scheduler gives: the trained model's parse of held-out messages and
the dialogue policies' prediction, value for value."""

from __future__ import annotations

import asyncio
import json

import pytest

from kefu.runtime.live_model import newest_archive
from tests.support.stack import ROOT

pytestmark = pytest.mark.e2e  # loads the trained model


def test_the_fixed_order_gives_what_dask_gives():
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage
    from rasa.engine.runner.dask import DaskGraphRunner
    from rasa.shared.core.events import UserUttered

    from kefu.runtime import graph_order

    model = newest_archive(ROOT / "models")
    assert model is not None, "no trained model: run make models/.trained"
    dask_run = DaskGraphRunner.run
    agent = Agent.load(str(model))
    runner = agent.processor.graph_runner
    nlu_target = agent.processor.model_metadata.nlu_target
    core_target = agent.processor.model_metadata.core_target
    texts = [json.loads(line)["text"] for line in (ROOT / "tests/data/nlu_heldout.jsonl").open(encoding="utf-8")][:80]

    def parse(run, text):
        outputs = run(runner, inputs={"__message__": [UserMessage(text)]}, targets=[nlu_target])
        [message] = outputs[nlu_target]
        return message.get("intent"), message.get("intent_ranking")

    for text in texts:
        assert parse(graph_order.run, text) == parse(dask_run, text), text
    assert runner._kefu_orders  # the order was computed (once per target set)

    async def tracker():
        return await agent.tracker_store.get_or_create_tracker("graph-order")

    conversation = asyncio.run(tracker())
    conversation.update(UserUttered("转人工", {"name": "request_human", "confidence": 1.0}))
    inputs = {"__tracker__": conversation}
    ours = graph_order.run(runner, inputs=inputs, targets=[core_target])[core_target]
    theirs = dask_run(runner, inputs=inputs, targets=[core_target])[core_target]
    assert ours.max_confidence_index == theirs.max_confidence_index and ours.probabilities == theirs.probabilities
