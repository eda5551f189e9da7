"""The density-training protocol: what :func:`resad_tf.flows.train` needs from a model.

Anything with these members can be fitted by the one training loop:
:class:`~resad_tf.flows.ConditionalFlow`, and R-ANODE's
:class:`~resad_tf.methods.ranode.SignalMixture` (a signal flow mixed with a
fixed background density).  ``log_prob_tensor`` is the graph-level density:
tensors in, tensors out, traceable inside ``tf.function`` (the training step,
the SavedModel export); ``training=True`` runs batch-norm layers on the batch's
own statistics and updates their moving averages.
"""

from __future__ import annotations

from typing import Protocol, runtime_checkable

import numpy as np
import tensorflow as tf


@runtime_checkable
class TrainableDensity(Protocol):
    """A conditional density log p(x | c) with trainable variables and weight snapshots."""

    dim: int  # columns of x
    context_dim: int  # columns of c

    @property
    def trainable_variables(self) -> tuple[tf.Variable, ...]: ...

    @property
    def variables(self) -> tuple[tf.Variable, ...]: ...

    def log_prob_tensor(self, x: tf.Tensor, c: tf.Tensor, training: bool = False) -> tf.Tensor:
        """log p(x | c) per row, shape (n,), for float32 tensors x (n, dim) and c (n, context_dim)."""
        ...

    def get_weights(self) -> list[np.ndarray]:
        """Every variable's value (trainable or not), in a fixed order."""
        ...

    def set_weights(self, weights) -> None:
        """Restore values returned by :meth:`get_weights`."""
        ...
