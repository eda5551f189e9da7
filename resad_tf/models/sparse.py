"""Sparse convolutions on jet images as Keras 3 layers (TensorFlow ops, no dense grid).

A batch of sparse images is a list of *active sites*: ``coords`` (n, 3) int64
rows of (image, row, col) and ``features`` (n, C) float32.  Every layer works
on these two tensors only, through one operation: each output site gathers
the features of its input neighbours (a *rulebook* (m, K), one column per
kernel offset, ``n`` = "no neighbour" pointing at a zero row) and sums their
products with the kernel matrix of each offset.  Neighbours
are found by hashing coordinates to int64 keys and a sorted search
(``tf.searchsorted``), so the cost scales with the number of active sites.

* :class:`SubmanifoldConv2D` — k x k convolution whose outputs live only on
  the input's active sites (sparsity is preserved layer after layer); equal
  to a dense ``Conv2D(padding="same")`` read at the active sites.
* :class:`SparseConv2D` — strided downsampling (kernel = stride = s): output
  sites are the distinct ``coords // s``; equal to a dense
  ``Conv2D(kernel_size=s, strides=s)`` at those sites.
* :class:`SparseConv2DTranspose` — the upsampling inverse: from coarse sites
  back onto given fine sites (e.g. the encoder's input sites); equal to a
  dense ``Conv2DTranspose(kernel_size=s, strides=s)`` at the fine sites.

:class:`SparseImageBatch` turns :class:`resad_tf.physics.images.SparseImages`
into these inputs and picks sub-batches of images.

>>> import numpy as np
>>> coords = np.array([[0, 1, 1], [0, 1, 2], [1, 0, 0]])
>>> feats = np.ones((3, 2), np.float32)
>>> layer = SubmanifoldConv2D(4, kernel_size=3)
>>> tuple(layer(feats, coords).shape)
(3, 4)
>>> coarse, out = SparseConv2D(5, stride=2)(feats, coords)
>>> coarse.numpy().tolist(), tuple(out.shape)
([[0, 0, 0], [0, 0, 1], [1, 0, 0]], (3, 5))
"""

from __future__ import annotations

import os
from dataclasses import dataclass

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402

from resad_tf.errors import InputError  # noqa: E402

_SPAN = 2**20  # coordinates (shifted by 1 so that a -1 neighbour stays distinct) must be < _SPAN


# ----------------------------------------------------------------------------- geometry
def site_keys(coords) -> tf.Tensor:
    """One int64 key per (image, row, col) row; row-major order of the sites = key order."""
    coords = tf.cast(coords, tf.int64)
    return (coords[:, 0] * _SPAN + coords[:, 1] + 1) * _SPAN + coords[:, 2] + 1


def _sites_from_keys(keys) -> tf.Tensor:
    col = keys % _SPAN - 1
    row = (keys // _SPAN) % _SPAN - 1
    return tf.stack([keys // (_SPAN * _SPAN), row, col], axis=1)


def lookup(keys, queries) -> tf.Tensor:
    """Position of each query key in ``keys`` (any order), or ``len(keys)`` where absent."""
    n = tf.shape(keys, out_type=tf.int64)[0]
    order = tf.argsort(keys)
    # a sentinel past every real key keeps each search position valid, also when keys is empty
    sorted_keys = tf.concat([tf.gather(keys, order), tf.constant([np.iinfo(np.int64).max])], 0)
    order = tf.concat([tf.cast(order, tf.int64), n[None]], 0)
    flat = tf.reshape(queries, [-1])
    pos = tf.searchsorted(sorted_keys, flat, side="left")
    found = tf.gather(sorted_keys, pos) == flat
    return tf.reshape(tf.where(found, tf.gather(order, pos), n), tf.shape(queries))


def _offsets(size: int, centred: bool) -> np.ndarray:
    """(size * size, 3) (0, dr, dc) offsets in kernel order i * size + j."""
    start = -(size // 2) if centred else 0
    d = np.arange(start, start + size)
    dr, dc = np.meshgrid(d, d, indexing="ij")
    return np.stack([np.zeros(size * size, np.int64), dr.ravel(), dc.ravel()], axis=1)


def submanifold_rulebook(coords, kernel_size: int) -> tf.Tensor:
    """(n, k*k) index of the active neighbour at each kernel offset (n where inactive)."""
    coords = tf.cast(coords, tf.int64)
    shifted = coords[:, None, :] + _offsets(kernel_size, centred=True)[None]
    queries = tf.reshape(site_keys(tf.reshape(shifted, [-1, 3])), [-1, kernel_size**2])
    return lookup(site_keys(coords), queries)


def downsample_rulebook(coords, stride: int) -> tuple[tf.Tensor, tf.Tensor]:
    """(coarse coords (m, 3) in row-major order, (m, s*s) index of the fine site at each offset)."""
    coords = tf.cast(coords, tf.int64)
    coarse_keys = site_keys(coords // tf.constant([1, stride, stride], tf.int64))
    coarse, _ = tf.unique(tf.sort(coarse_keys))
    coarse = _sites_from_keys(coarse)
    base = coarse * tf.constant([1, stride, stride], tf.int64)
    fine = tf.reshape(base[:, None, :] + _offsets(stride, centred=False)[None], [-1, 3])
    rulebook = tf.reshape(lookup(site_keys(coords), site_keys(fine)), [-1, stride * stride])
    return coarse, rulebook


def upsample_rulebook(coarse_coords, fine_coords, stride: int) -> tf.Tensor:
    """(n_fine, s*s): the parent coarse site in the column of the fine site's offset, else n_coarse."""
    fine = tf.cast(fine_coords, tf.int64)
    step = tf.constant([1, stride, stride], tf.int64)
    parent = lookup(site_keys(coarse_coords), site_keys(fine // step))
    rem = fine % step
    offset = rem[:, 1] * stride + rem[:, 2]
    missing = tf.shape(coarse_coords, out_type=tf.int64)[0]
    return tf.where(tf.range(stride * stride, dtype=tf.int64)[None] == offset[:, None],
                    parent[:, None], missing)


def gather_conv(features, rulebook, kernel) -> tf.Tensor:
    """Out[i] = sum_k features[rulebook[i, k]] @ kernel[k]; ``kernel`` (kh, kw, C_in, C_out).

    One kernel offset at a time, with a hand-written gradient that recomputes
    the gathers: nothing of size (m, K, C_in) is ever held, so memory stays at
    a few (active sites x channels) tensors per layer.
    """
    kh, kw, c_in, c_out = kernel.shape
    return _gather_conv(features, rulebook, tf.reshape(kernel, [kh * kw, c_in, c_out]))


@tf.custom_gradient
def _gather_conv(features, rulebook, kernels):
    """``kernels`` (K, C_in, C_out) with a static K; rulebook entries == n mean "no neighbour"."""
    n = tf.shape(features)[0]
    padded = tf.concat([features, tf.zeros([1, tf.shape(features)[1]], features.dtype)], axis=0)
    taps = [rulebook[:, k] for k in range(kernels.shape[0])]
    out = tf.add_n([tf.gather(padded, tap) @ kernels[k] for k, tap in enumerate(taps)])

    def grad(d_out):
        d_padded = tf.add_n([tf.math.unsorted_segment_sum(d_out @ tf.transpose(kernels[k]), tap, n + 1)
                             for k, tap in enumerate(taps)])
        d_kernels = tf.stack([tf.matmul(tf.gather(padded, tap), d_out, transpose_a=True) for tap in taps])
        return d_padded[:-1], None, d_kernels

    return out, grad


# ----------------------------------------------------------------------------- layers
class _SparseConv(keras.layers.Layer):
    """Kernel (kh, kw, C_in, filters) + bias + activation, shared by the three layers."""

    def __init__(self, filters: int, kernel_size: int, activation=None, use_bias: bool = True,
                 kernel_initializer="glorot_uniform", **kwargs):
        super().__init__(**kwargs)
        if filters < 1 or kernel_size < 1:
            raise InputError(f"{type(self).__name__}: need filters >= 1 and kernel_size >= 1, "
                             f"got {filters}, {kernel_size}")
        self.filters, self.kernel_size, self.use_bias = int(filters), int(kernel_size), use_bias
        self.activation = keras.activations.get(activation)
        self.kernel_initializer = keras.initializers.get(kernel_initializer)

    def build(self, features_shape, *other_shapes):
        k = self.kernel_size
        self.kernel = self.add_weight(shape=(k, k, int(features_shape[-1]), self.filters),
                                      initializer=self.kernel_initializer, name="kernel")
        self.bias = self.add_weight(shape=(self.filters,), initializer="zeros",
                                    name="bias") if self.use_bias else None

    def _finish(self, out):
        if self.bias is not None:
            out = out + self.bias
        return self.activation(out)

    def get_config(self):
        return {**super().get_config(), "filters": self.filters, "kernel_size": self.kernel_size,
                "activation": keras.activations.serialize(self.activation), "use_bias": self.use_bias,
                "kernel_initializer": keras.initializers.serialize(self.kernel_initializer)}


@keras.saving.register_keras_serializable("resad_tf")
class SubmanifoldConv2D(_SparseConv):
    """``layer(features (n, C), coords (n, 3)) -> (n, filters)`` on the same active sites."""

    def __init__(self, filters: int, kernel_size: int = 3, **kwargs):
        if kernel_size % 2 != 1:
            raise InputError(f"SubmanifoldConv2D: kernel_size must be odd, got {kernel_size}")
        super().__init__(filters, kernel_size, **kwargs)

    def build(self, features_shape, coords_shape=None):
        super().build(features_shape)

    def call(self, features, coords):
        rulebook = submanifold_rulebook(coords, self.kernel_size)
        return self._finish(gather_conv(features, rulebook, self.kernel))


class _StridedSparseConv(_SparseConv):
    """A sparse convolution whose kernel size equals its stride (down- or upsampling)."""

    def __init__(self, filters: int, stride: int = 2, **kwargs):
        kwargs.pop("kernel_size", None)
        super().__init__(filters, stride, **kwargs)

    @property
    def stride(self) -> int:
        return self.kernel_size


@keras.saving.register_keras_serializable("resad_tf")
class SparseConv2D(_StridedSparseConv):
    """``layer(features, coords) -> (coarse coords, (m, filters))``: kernel = stride downsampling."""

    def build(self, features_shape, coords_shape=None):
        super().build(features_shape)

    def call(self, features, coords):
        coarse, rulebook = downsample_rulebook(coords, self.stride)
        return coarse, self._finish(gather_conv(features, rulebook, self.kernel))


@keras.saving.register_keras_serializable("resad_tf")
class SparseConv2DTranspose(_StridedSparseConv):
    """``layer(features, coords, target_coords) -> (n_target, filters)``: upsampling onto given sites."""

    def build(self, features_shape, coords_shape=None, target_coords_shape=None):
        super().build(features_shape)

    def call(self, features, coords, target_coords):
        rulebook = upsample_rulebook(coords, target_coords, self.stride)
        return self._finish(gather_conv(features, rulebook, self.kernel))


# ----------------------------------------------------------------------------- inputs
@dataclass(frozen=True)
class SparseImageBatch:
    """Active sites of ``n_images`` images of ``npix`` x ``npix`` pixels with C channels.

    ``coords`` (n, 3) int64 (image, row, col) in row-major order, ``features``
    (n, C) float32.  ``select(images)`` renumbers the chosen images 0..k-1.
    """

    coords: np.ndarray
    features: np.ndarray
    n_images: int
    npix: int

    @classmethod
    def from_sparse_images(cls, images) -> "SparseImageBatch":
        """From :class:`resad_tf.physics.images.SparseImages` (one row per pixel and channel)."""
        n_images, npix, _, n_channels = images.dense_shape
        site = images.indices[:, :3]
        keys = (site[:, 0] * npix + site[:, 1]) * npix + site[:, 2]
        unique, which = np.unique(keys, return_inverse=True)
        features = np.zeros((len(unique), n_channels), np.float32)
        features[which, images.indices[:, 3]] = images.values
        image, rest = np.divmod(unique, npix * npix)
        coords = np.column_stack([image, *np.divmod(rest, npix)]).astype(np.int64)
        return cls(coords, features, int(n_images), int(npix))

    def __post_init__(self):
        if self.coords.ndim != 2 or self.coords.shape[1] != 3 or len(self.features) != len(self.coords):
            raise InputError(f"SparseImageBatch: coords {self.coords.shape} and features "
                             f"{self.features.shape} do not describe the same (n, 3) sites")

    @property
    def offsets(self) -> np.ndarray:
        """Site range of image i: ``offsets[i]:offsets[i + 1]``."""
        return np.searchsorted(self.coords[:, 0], np.arange(self.n_images + 1))

    def select(self, images) -> "SparseImageBatch":
        images = np.asarray(images, np.int64)
        offsets = self.offsets
        start, count = offsets[images], np.diff(offsets)[images]
        rows = np.repeat(start - np.cumsum(count) + count, count) + np.arange(count.sum())
        coords = self.coords[rows].copy()
        coords[:, 0] = np.repeat(np.arange(len(images)), count)
        return SparseImageBatch(coords, self.features[rows], len(images), self.npix)

    def with_features(self, features: np.ndarray) -> "SparseImageBatch":
        return SparseImageBatch(self.coords, np.asarray(features, np.float32), self.n_images, self.npix)

    def to_dense(self) -> np.ndarray:
        dense = np.zeros((self.n_images, self.npix, self.npix, self.features.shape[1]), np.float32)
        dense[tuple(self.coords.T)] = self.features
        return dense

    @property
    def sparsity(self) -> float:
        """Fraction of inactive pixels."""
        return 1.0 - len(self.coords) / max(self.n_images * self.npix**2, 1)
