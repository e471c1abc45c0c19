"""DIET's intent scores in numpy (bot/components/numpy_diet.py) are DIET's
TensorFlow scores: the same intent and confidences within 1e-5 for every
held-out and every training message, on the trained model."""

from __future__ import annotations

import json

import numpy as np
import pytest
import yaml
from scipy.sparse import coo_matrix

from bot.components.numpy_diet import IntentWeights, NumpyDIETClassifier, _config_allows, intent_scores
from kefu.runtime.live_model import newest_archive
from tests.support.stack import DATA, ROOT


def all_texts() -> list[str]:
    texts = [json.loads(line)["text"] for line in (DATA / "nlu_heldout.jsonl").open(encoding="utf-8") if line.strip()]
    for path in sorted((ROOT / "data" / "nlu").glob("*.yml")):
        for block in yaml.safe_load(path.read_text(encoding="utf-8"))["nlu"]:
            texts += [line.strip()[2:].strip() for line in block.get("examples", "").splitlines() if line.strip()]
    return texts


@pytest.mark.e2e  # loads the trained model
def test_numpy_scores_are_tensorflow_scores_on_every_known_message():
    from rasa.core.agent import Agent
    from rasa.core.channels.channel import UserMessage

    model = newest_archive(ROOT / "models")
    assert model is not None, "no trained model: run make models/.trained"
    agent = Agent.load(str(model))
    runner = agent.processor.graph_runner
    [(node_name, diet)] = [
        (name, node._component)
        for name, node in runner._instantiated_nodes.items()
        if isinstance(node._component, NumpyDIETClassifier)
    ]
    texts = all_texts()
    assert len(texts) > 1000
    compared = 0
    for start in range(0, len(texts), 200):
        batch = [UserMessage(t) for t in texts[start : start + 200]]
        # Every node up to DIET: the messages carry their featurisers' features.
        messages = [runner.run(inputs={"__message__": [m]}, targets=[node_name])[node_name][0] for m in batch]
        for message in messages:
            ours = diet._predict(message)
            theirs = diet.tensorflow_predict(message)
            assert ours is not None and theirs is not None
            np.testing.assert_allclose(
                ours["i_scores"], theirs["i_scores"], rtol=0, atol=1e-5, err_msg=message.get("text")
            )
            ours_label, ours_ranking = diet._predict_label(ours)
            theirs_label, theirs_ranking = diet._predict_label(theirs)
            assert ours_label["name"] == theirs_label["name"], message.get("text")
            assert ours_label["confidence"] == pytest.approx(theirs_label["confidence"], abs=1e-5)
            # The ranking: every intent's confidence within 1e-5 (one missing
            # from a top-10 counts as 0). Intents at float32's smallest values
            # (below 1e-37) may be ordered differently.
            ours_by_name = {r["name"]: r["confidence"] for r in ours_ranking}
            theirs_by_name = {r["name"]: r["confidence"] for r in theirs_ranking}
            for name in ours_by_name.keys() | theirs_by_name.keys():
                assert ours_by_name.get(name, 0.0) == pytest.approx(theirs_by_name.get(name, 0.0), abs=1e-5)
            compared += 1
    assert compared == len(texts)
    # The numpy path was taken, not DIET's fallback.
    assert diet._numpy_weights is not None


def test_configurations_with_a_transformer_hidden_layers_or_entities_take_tensorflows_path():
    base = {
        "intent_classification": True,
        "entity_recognition": False,
        "number_of_transformer_layers": 0,
        "hidden_layers_sizes": {"text": [], "label": []},
        "model_confidence": "softmax",
    }
    assert _config_allows(base)
    assert not _config_allows({**base, "number_of_transformer_layers": 2})
    assert not _config_allows({**base, "number_of_transformer_layers": {"text": 1, "label": 0}})
    assert not _config_allows({**base, "entity_recognition": True})
    assert not _config_allows({**base, "hidden_layers_sizes": {"text": [64], "label": []}})
    assert not _config_allows({**base, "model_confidence": "linear_norm"})


def weights(cosine: bool = False) -> IntentWeights:
    rng = np.random.default_rng(1)
    return IntentWeights(
        sparse_kernel=rng.normal(size=(7, 4)),
        sparse_bias=rng.normal(size=4),
        embed_kernel=rng.normal(size=(4, 3)),
        embed_bias=rng.normal(size=3),
        label_embeddings=rng.normal(size=(5, 3)),
        cosine=cosine,
    )


@pytest.mark.parametrize("cosine", [False, True])
def test_each_featurisers_block_meets_its_slice_of_the_kernel(cosine: bool):
    w = weights(cosine)
    first = coo_matrix(np.array([[0.0, 2.0, 0.0]]))
    second = coo_matrix(np.array([[1.0, 0.0, 0.0, 3.0]]))
    merged = np.hstack([first.toarray(), second.toarray()])[0]
    hidden = merged @ w.sparse_kernel + w.sparse_bias
    embedded = hidden @ w.embed_kernel + w.embed_bias
    labels = w.label_embeddings
    if cosine:
        embedded = embedded / np.linalg.norm(embedded)
        labels = labels / np.linalg.norm(labels, axis=1, keepdims=True)
    sims = labels @ embedded
    expected = np.exp(sims) / np.exp(sims).sum()
    scores = intent_scores(w, [first, second])
    assert scores is not None
    np.testing.assert_allclose(scores, expected, rtol=1e-6)


def test_features_of_another_width_than_the_trained_one_are_not_scored():
    w = weights()
    assert intent_scores(w, [coo_matrix(np.ones((1, 3)))]) is None  # model was trained on 7 columns
    assert intent_scores(w, [coo_matrix(np.ones((2, 7)))]) is None  # not one sentence row
