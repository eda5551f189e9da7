"""Conditional normalizing flow p(x | context) built from TFP bijectors.

A :class:`ConditionalFlow` is a stack of masked autoregressive blocks
(``tfb.MaskedAutoregressiveFlow`` driven by a conditional MADE,
``tfb.AutoregressiveNetwork``) with permutations in between and a standard
normal base distribution.  Each block transforms every feature with either

* ``transform="affine"``: ``x = z * exp(s) + t`` with the log-scale ``s``
  soft-clamped to (-3, 3) by a tanh, so no block can blow up, or
* ``transform="rqs"``: a rational-quadratic spline on ``[-spline_bound,
  spline_bound]`` (identity outside) with ``n_bins`` bins.

Both start close to the identity (small MADE initial weights, and a zero MADE
output is exactly the identity), so an untrained flow is ~N(0, 1).

Direction convention (TFP's): ``inverse`` maps data x to the latent z (one
MADE pass per block, used for densities and training), ``forward`` maps z to x
(``dim`` passes per block, used for sampling).

It is a ``tf.Module``, not a Keras model: it is trained only by
:func:`resad_tf.flows.train`.

>>> import numpy as np
>>> flow = ConditionalFlow(dim=2, n_blocks=2, hidden_units=(8,))
>>> x, m = np.zeros((3, 2)), np.array([3.3, 3.5, 3.7])
>>> flow.log_prob(x, m).shape, flow.sample(3, m, seed=1).shape
(TensorShape([3]), TensorShape([3, 2]))
"""

from __future__ import annotations

import math

import numpy as np
import tensorflow as tf
import tensorflow_probability as tfp
import tf_keras

from resad_tf.errors import InputError
from resad_tf.flows.inputs import as_context, as_features, chunked, seed_pair

tfb = tfp.bijectors

_LOG_SCALE_CLAMP = 3.0  # |log scale| per affine block stays below this
_MIN_BIN = 1e-3  # smallest spline bin width/height (fraction of the range 2B)
_MIN_SLOPE = 1e-3  # smallest spline knot slope
_INIT_SCALE = 0.1  # variance scale of the MADE initial weights (near-identity)
_LOG_2PI = math.log(2.0 * math.pi)
# softplus(raw + offset) + _MIN_SLOPE == 1 at raw == 0: a zero MADE output is the identity
_SLOPE_OFFSET = math.log(math.expm1(1.0 - _MIN_SLOPE))


def _made_initializer(rng: np.random.Generator):
    """A kernel initializer drawing a fresh seed from ``rng`` for every layer it builds."""

    def init(shape, dtype=None, **_):
        seed = int(rng.integers(2**31 - 1))
        return tf_keras.initializers.VarianceScaling(
            _INIT_SCALE, mode="fan_avg", distribution="truncated_normal", seed=seed
        )(shape, dtype)

    return init


class _Block(tf.Module):
    """One autoregressive block: a conditional MADE and the transform it parameterises.

    ``inverse_and_ldj`` (data -> latent, one MADE pass) serves densities and
    training; ``maf.forward`` (latent -> data, ``dim`` passes) serves sampling.
    Both use the same ``bijector``, so they are exact inverses.
    """

    def __init__(self, made, name):
        super().__init__(name=name)
        self.made = made
        self.maf = tfb.MaskedAutoregressiveFlow(bijector_fn=self.bijector, unroll_loop=True)

    def inverse_and_ldj(self, y, c):
        b = self.bijector(y, conditional_input=c)
        return b.inverse(y), b.inverse_log_det_jacobian(y, event_ndims=1)


class _AffineBlock(_Block):
    """x = z * exp(s) + t with s soft-clamped by a tanh."""

    def _shift_and_log_scale(self, y, c):
        shift, raw = tf.unstack(self.made(y, conditional_input=c), num=2, axis=-1)
        return shift, _LOG_SCALE_CLAMP * tf.tanh(raw / _LOG_SCALE_CLAMP)

    def bijector(self, y, conditional_input):
        shift, log_scale = self._shift_and_log_scale(y, conditional_input)
        return tfb.Shift(shift)(tfb.Scale(log_scale=log_scale))

    def inverse_and_ldj(self, y, c):
        # the same map as bijector(y).inverse, written out: far fewer graph ops per step
        shift, log_scale = self._shift_and_log_scale(y, c)
        return (y - shift) * tf.exp(-log_scale), -tf.reduce_sum(log_scale, axis=-1)


class _SplineBlock(_Block):
    """Rational-quadratic spline on [-bound, bound], identity outside."""

    def __init__(self, made, name, n_bins: int, bound: float):
        self.n_bins, self.bound = n_bins, bound
        super().__init__(made, name)

    def _bins(self, raw):
        min_width = _MIN_BIN * 2 * self.bound
        return tf.nn.softmax(raw, axis=-1) * (2 * self.bound - self.n_bins * min_width) + min_width

    def bijector(self, y, conditional_input):
        params = self.made(y, conditional_input=conditional_input)
        widths, heights, slopes = tf.split(params, [self.n_bins, self.n_bins, self.n_bins - 1], -1)
        return tfb.RationalQuadraticSpline(
            bin_widths=self._bins(widths),
            bin_heights=self._bins(heights),
            knot_slopes=tf.nn.softplus(slopes + _SLOPE_OFFSET) + _MIN_SLOPE,
            range_min=-self.bound,
        )


class ConditionalFlow(tf.Module):
    """Masked autoregressive flow for p(x | context) with affine or spline blocks.

    Args:
        dim: number of features x.
        context_dim: number of conditioning variables (1 for m_jj).
        n_blocks: number of MADE blocks.
        hidden_units: MADE hidden layer sizes.
        transform: ``"affine"`` (MAF) or ``"rqs"`` (rational-quadratic spline).
        n_bins: spline bins (rqs only).
        spline_bound: the spline acts on [-B, B] and is the identity outside.
        batch_norm: insert ``tfb.BatchNormalization`` after every block but the last.
        activation: MADE hidden activation.
        permutation: ``"reverse"`` or ``"random"`` (fixed by ``seed``) between blocks.
        seed: seeds the initial weights (and random permutations).
    """

    def __init__(
        self,
        dim: int,
        context_dim: int = 1,
        n_blocks: int = 15,
        hidden_units=(128,),
        transform: str = "affine",
        n_bins: int = 8,
        spline_bound: float = 5.0,
        batch_norm: bool = False,
        activation: str = "relu",
        permutation: str = "reverse",
        seed: int = 0,
        name: str | None = None,
    ):
        super().__init__(name=name)
        if int(dim) < 1 or int(context_dim) < 1 or int(n_blocks) < 1:
            raise InputError(
                f"dim={dim}, context_dim={context_dim}, n_blocks={n_blocks}: all must be >= 1"
            )
        if transform not in ("affine", "rqs"):
            raise InputError(f"transform={transform!r}: use 'affine' or 'rqs'")
        if permutation not in ("reverse", "random"):
            raise InputError(f"permutation={permutation!r}: use 'reverse' or 'random'")
        if transform == "rqs" and (int(n_bins) < 2 or float(spline_bound) <= 0):
            raise InputError(f"n_bins={n_bins}, spline_bound={spline_bound}: need >= 2 and > 0")
        self._config = dict(
            dim=int(dim),
            context_dim=int(context_dim),
            n_blocks=int(n_blocks),
            hidden_units=[int(h) for h in hidden_units],
            transform=transform,
            n_bins=int(n_bins),
            spline_bound=float(spline_bound),
            batch_norm=bool(batch_norm),
            activation=activation,
            permutation=permutation,
            seed=int(seed),
            name=name,
        )
        self.dim, self.context_dim = int(dim), int(context_dim)
        rng = np.random.default_rng(seed)
        init = _made_initializer(rng)
        n_params = 2 if transform == "affine" else 3 * int(n_bins) - 1

        # Bijectors ordered from the data side to the latent side.  BatchNorm
        # bijectors exist twice (training / inference) around one shared layer.
        self._train_chain, self._eval_chain = [], []
        for i in range(int(n_blocks)):
            made = tfb.AutoregressiveNetwork(
                params=n_params,
                event_shape=[self.dim],
                conditional=True,
                conditional_event_shape=[self.context_dim],
                hidden_units=list(self._config["hidden_units"]),
                activation=activation,
                kernel_initializer=init,
            )
            made.build((None, self.dim))
            block = (
                _AffineBlock(made, f"block{i}")
                if transform == "affine"
                else _SplineBlock(made, f"block{i}", int(n_bins), float(spline_bound))
            )
            links_train, links_eval = [block], [block]
            if i < int(n_blocks) - 1:
                if batch_norm:
                    layer = tf_keras.layers.BatchNormalization()
                    layer.build((None, self.dim))
                    links_train.append(tfb.BatchNormalization(layer, training=True))
                    links_eval.append(tfb.BatchNormalization(layer, training=False))
                perm = (
                    np.arange(self.dim)[::-1]
                    if permutation == "reverse"
                    else rng.permutation(self.dim)
                )
                links_train.append(tfb.Permute(perm.astype(np.int32)))
                links_eval.append(links_train[-1])
            self._train_chain += links_train
            self._eval_chain += links_eval

        x_spec = tf.TensorSpec([None, self.dim], tf.float32)
        c_spec = tf.TensorSpec([None, self.context_dim], tf.float32)
        self._log_prob_fn = tf.function(self.log_prob_tensor, input_signature=[x_spec, c_spec])
        self._inverse_fn = tf.function(self._inverse, input_signature=[x_spec, c_spec])
        self._forward_fn = tf.function(self._forward, input_signature=[x_spec, c_spec])

    # ------------------------------------------------------------ graph pieces
    # Tensor-in/tensor-out versions used inside tf.functions (training, export);
    # log_prob_tensor is public: it is the training protocol (flows/protocol.py).
    def _inverse_and_ldj(self, x, c, training=False):
        ldj = tf.zeros(tf.shape(x)[:1], x.dtype)
        for link in self._train_chain if training else self._eval_chain:
            if isinstance(link, _Block):
                x, link_ldj = link.inverse_and_ldj(x, c)
            else:  # permutation or batch norm
                x, link_ldj = link.inverse(x), link.inverse_log_det_jacobian(x, event_ndims=1)
            ldj += link_ldj
        return x, ldj

    def log_prob_tensor(self, x, c, training=False):
        """log p(x | c) per row for float32 tensors (no chunking, no conversion): the density the
        training loop differentiates (:class:`~resad_tf.flows.protocol.TrainableDensity`).
        ``training=True`` runs the batch-norm bijectors on batch statistics and updates their
        moving averages."""
        z, ldj = self._inverse_and_ldj(x, c, training)
        base = -0.5 * tf.reduce_sum(z * z, axis=-1) - 0.5 * self.dim * _LOG_2PI
        return base + ldj

    def _inverse(self, x, c):
        return self._inverse_and_ldj(x, c)[0]

    def _forward(self, z, c):
        for link in reversed(self._eval_chain):
            z = link.maf.forward(z, conditional_input=c) if isinstance(link, _Block) else link.forward(z)
        return z

    # ------------------------------------------------------------- public API
    # Large inputs go through the graphs in chunks of rows (memory; see inputs.chunked).
    def log_prob(self, x, context) -> tf.Tensor:
        """log p(x | context) per event, shape (n,)."""
        x = as_features(x, self.dim)
        return chunked(self._log_prob_fn, x, as_context(context, x.shape[0], self.context_dim))

    def inverse(self, x, context) -> tf.Tensor:
        """Data -> latent: z = f^-1(x; context), shape (n, dim)."""
        x = as_features(x, self.dim)
        return chunked(self._inverse_fn, x, as_context(context, x.shape[0], self.context_dim))

    def forward(self, z, context) -> tf.Tensor:
        """Latent -> data: x = f(z; context), shape (n, dim)."""
        z = as_features(z, self.dim)
        return chunked(self._forward_fn, z, as_context(context, z.shape[0], self.context_dim))

    def sample(self, n: int, context, seed=None) -> tf.Tensor:
        """Draw one x for each of the ``n`` context rows (``seed``: int, Generator or None)."""
        c = as_context(context, int(n), self.context_dim)
        z = tf.random.stateless_normal([int(n), self.dim], seed=seed_pair(seed))
        return chunked(self._forward_fn, z, c)

    def get_config(self) -> dict:
        """JSON-serialisable constructor arguments: ``ConditionalFlow(**cfg)`` rebuilds it."""
        return dict(self._config, hidden_units=list(self._config["hidden_units"]))

    @classmethod
    def from_config(cls, config: dict) -> "ConditionalFlow":
        return cls(**config)

    def get_weights(self) -> list[np.ndarray]:
        """All variable values (trainable and batch-norm statistics) as numpy arrays."""
        return [v.numpy() for v in self.variables]

    def set_weights(self, weights) -> None:
        """Restore values returned by :meth:`get_weights` (same architecture)."""
        variables = self.variables
        if len(weights) != len(variables):
            raise InputError(
                f"got {len(weights)} arrays for a flow with {len(variables)} variables; "
                "were the weights saved from a flow with the same config?"
            )
        for v, w in zip(variables, weights):
            if tuple(v.shape) != np.shape(w):
                raise InputError(
                    f"weight for {v.name} has shape {np.shape(w)}, expected {tuple(v.shape)}"
                )
            v.assign(w)
