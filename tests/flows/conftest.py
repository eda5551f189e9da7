"""Helpers for the flow tests: tiny flows with non-trivial (randomised) weights."""

import numpy as np
import pytest


def perturbed(flow, scale, seed=0):
    """Add Gaussian noise to every *unmasked* weight, so the flow is far from the identity.

    Only MADE (dense) weights change; kernel entries that the masks hold at zero
    stay zero, so the autoregressive structure is kept.
    """
    rng = np.random.default_rng(seed)
    weights = []
    for v, w in zip(flow.variables, flow.get_weights()):
        free = (w != 0) | ("bias" in v.name)
        noise = scale * rng.normal(size=w.shape) * free if "dense" in v.name else 0.0
        weights.append(w + noise)
    flow.set_weights(weights)
    return flow


@pytest.fixture(scope="session")
def make_perturbed():
    return perturbed


def std_normal_logpdf(z):
    return -0.5 * np.sum(z**2, axis=-1) - 0.5 * z.shape[-1] * np.log(2 * np.pi)


@pytest.fixture
def normal_logpdf():
    return std_normal_logpdf
