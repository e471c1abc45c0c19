"""DIET whose intent scores are computed with numpy when its configuration allows it.

With `number_of_transformer_layers: 0`, `entity_recognition: false` and no
hidden layers, DIET's intent scores depend only on the sentence-level
features: the sentence position of the combined sequence goes untouched
through the (absent) transformer, so

    scores = softmax(similarity(embed(sparse_to_dense(sentence)), label_embeddings))

Rasa computes this per message by deep-copying and merging every
featuriser's sparse matrices (scipy `hstack`/`bmat`), padding them into a
batch and calling TensorFlow: about half of the parse time of a message.
Here each featuriser's row multiplies its own slice of the trained kernel
and the rest is three small dense products. Training, persistence, loading
and the ranking of the scores are DIET's own; any configuration or message
this shortcut does not cover (transformer layers, hidden layers, entity
recognition, dense features, a message without sentence features,
diagnostic data for `rasa test`) goes through DIET's TensorFlow path.
tests/test_numpy_diet.py checks both paths agree to 1e-5 on every training
and held-out message.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np
from rasa.engine.recipes.default_recipe import DefaultV1Recipe
from rasa.nlu.classifiers.diet_classifier import DIETClassifier
from rasa.shared.nlu.constants import FEATURE_TYPE_SENTENCE, TEXT
from rasa.shared.nlu.training_data.message import Message
from rasa.utils.tensorflow.constants import (
    COSINE,
    ENTITY_RECOGNITION,
    FEATURIZERS,
    HIDDEN_LAYERS_SIZES,
    INNER,
    INTENT_CLASSIFICATION,
    MODEL_CONFIDENCE,
    NUM_TRANSFORMER_LAYERS,
    SOFTMAX,
)

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class IntentWeights:
    """The trained weights on the sentence path, as numpy arrays (float64)."""

    sparse_kernel: np.ndarray  # (sparse feature width, dense dimension)
    sparse_bias: np.ndarray | None
    embed_kernel: np.ndarray  # (dense dimension, embedding dimension)
    embed_bias: np.ndarray | None
    label_embeddings: np.ndarray  # (intents, embedding dimension)
    cosine: bool


def _per_attribute(value: Any, attribute: str) -> Any:
    return value[attribute] if isinstance(value, dict) else value


def _config_allows(config: dict[str, Any]) -> bool:
    return (
        bool(config[INTENT_CLASSIFICATION])
        and not config[ENTITY_RECOGNITION]
        and _per_attribute(config[NUM_TRANSFORMER_LAYERS], TEXT) == 0
        and not _per_attribute(config[HIDDEN_LAYERS_SIZES], TEXT)
        and config[MODEL_CONFIDENCE] == SOFTMAX
    )


def _as_array(variable: Any) -> np.ndarray:
    return np.asarray(variable.numpy(), dtype=np.float64)


def extract_weights(model: Any) -> IntentWeights | None:
    """The sentence path's weights, or None when the trained model has any
    layer on that path this module does not reproduce."""
    signature = model.data_signature.get(TEXT, {}).get(FEATURE_TYPE_SENTENCE, [])
    if len(signature) != 1 or not signature[0].is_sparse:
        return None  # dense sentence features (a language model) or none at all
    sequence_layer = model._tf_layers[f"sequence_layer.{model.text_name}"]
    combining = sequence_layer._tf_layers[sequence_layer.FEATURE_COMBINING]
    if any(name.startswith("unify_dims") for name in combining._tf_layers):
        return None
    if sequence_layer._has_transformer or sequence_layer._tf_layers[sequence_layer.FFNN]._ffn_layers:
        return None
    concat = combining._tf_layers[f"sparse_dense.{FEATURE_TYPE_SENTENCE}"]
    to_dense = concat._tf_layers[concat.SPARSE_TO_DENSE]
    if to_dense.activation not in (None, _linear()):
        return None
    loss = model._tf_layers["loss.label"]
    if loss.similarity_type not in (INNER, COSINE) or model.all_labels_embed is None:
        return None
    embed = model._tf_layers[f"embed.{TEXT}"]._dense
    if embed.activation not in (None, _linear()):
        return None
    return IntentWeights(
        sparse_kernel=_as_array(to_dense.kernel),
        sparse_bias=_as_array(to_dense.bias) if to_dense.use_bias else None,
        embed_kernel=_as_array(embed.kernel),
        embed_bias=_as_array(embed.bias) if embed.use_bias else None,
        label_embeddings=np.asarray(model.all_labels_embed, dtype=np.float64),
        cosine=loss.similarity_type == COSINE,
    )


def _linear() -> Any:
    import tensorflow as tf

    return tf.keras.activations.linear


def _unit(x: np.ndarray) -> np.ndarray:
    # tf.nn.l2_normalize: x / sqrt(max(sum(x**2), 1e-12))
    return x / np.sqrt(np.maximum(np.sum(x * x, axis=-1, keepdims=True), 1e-12))


def intent_scores(weights: IntentWeights, blocks: list[Any]) -> np.ndarray | None:
    """DIET's softmax confidences for one message from its featurisers'
    sentence rows (scipy sparse, 1 × width each, in pipeline order), or None
    when their widths do not add up to what the model was trained on."""
    hidden = np.zeros(weights.sparse_kernel.shape[1], dtype=np.float64)
    offset = 0
    for block in blocks:
        row = block.tocoo()
        if row.shape[0] != 1:
            return None
        if row.nnz:
            hidden += row.data.astype(np.float64) @ weights.sparse_kernel[offset + row.col]
        offset += row.shape[1]
    if offset != weights.sparse_kernel.shape[0]:
        return None
    if weights.sparse_bias is not None:
        hidden += weights.sparse_bias
    embedded = hidden @ weights.embed_kernel
    if weights.embed_bias is not None:
        embedded += weights.embed_bias
    labels = weights.label_embeddings
    if weights.cosine:
        embedded, labels = _unit(embedded), _unit(labels)
    similarities = labels @ embedded
    # TensorFlow's float32 softmax flushes subnormals to zero, in the
    # exponentials and in the quotients; so do we, or the ranking of the
    # intents at (almost) zero would differ from DIET's.
    tiny = np.finfo(np.float32).tiny
    exp = np.exp(similarities - similarities.max())
    exp[exp < tiny] = 0.0
    scores = (exp / exp.sum()).astype(np.float32)
    scores[scores < tiny] = 0.0
    return scores


@DefaultV1Recipe.register(
    [DefaultV1Recipe.ComponentType.INTENT_CLASSIFIER, DefaultV1Recipe.ComponentType.ENTITY_EXTRACTOR],
    is_trainable=True,
)
class NumpyDIETClassifier(DIETClassifier):
    """DIETClassifier; only its per-message intent prediction is replaced."""

    _numpy_weights: IntentWeights | None = None
    _numpy_checked = False

    def _numpy_ready(self) -> bool:
        if not self._numpy_checked:
            self._numpy_checked = True
            if self.model is not None and _config_allows(self.component_config):
                self._numpy_weights = extract_weights(self.model)
            if self._numpy_weights is None:
                logger.info("DIET intent scores: TensorFlow path (configuration not covered by numpy)")
        return self._numpy_weights is not None

    def _sentence_blocks(self, message: Message) -> list[Any]:
        featurizers = self.component_config[FEATURIZERS]
        blocks = []
        for features in message.features:
            if features.attribute != TEXT or features.type != FEATURE_TYPE_SENTENCE:
                continue
            if featurizers and features.origin not in featurizers:
                continue
            if not features.is_sparse():
                return []  # dense features: the TensorFlow path concatenates them
            blocks.append(features.features)
        return blocks

    def _predict(self, message: Message) -> dict[str, Any] | None:
        if self._execution_context.should_add_diagnostic_data or not self._numpy_ready():
            return super()._predict(message)
        assert self._numpy_weights is not None
        blocks = self._sentence_blocks(message)
        scores = intent_scores(self._numpy_weights, blocks) if blocks else None
        if scores is None:
            return super()._predict(message)
        return {"i_scores": scores.reshape(1, -1)}  # the shape DIET's run_inference gives

    def tensorflow_predict(self, message: Message) -> dict[str, Any] | None:
        """DIET's own prediction, for comparison (tests, bench)."""
        return super()._predict(message)
