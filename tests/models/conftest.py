"""Toys for the classifier tests: two unit Gaussians whose optimal classifier is known.

Background ~ N(0, I), signal ~ N(mu, I).  With equal class totals the true
posterior is P(1|x) = sigmoid(mu.x - |mu|^2 / 2) and the optimal AUC is
Phi(|mu| / sqrt(2)) (0.760 for |mu| = 1).
"""

import numpy as np
import pytest

MU = np.array([0.8, 0.6])

# Small but literature-shaped configs, sized to keep tests/models well under 90 s on 2 cores.
FAST = {
    "mlp": dict(hidden=(32, 32), epochs=15, patience=5, batch_size=256),
    "hgb": dict(n_estimators=4, max_iter=100, max_depth=3),
    "xgb": dict(n_estimators=4, max_iter=100, max_depth=3),
}


def gaussian_toy(n_per_class, rng):
    x = np.concatenate([rng.normal(size=(n_per_class, 2)), rng.normal(size=(n_per_class, 2)) + MU])
    y = np.repeat([0, 1], n_per_class)
    return x, y


def true_posterior(x):
    return 1.0 / (1.0 + np.exp(-(x @ MU - MU @ MU / 2)))


@pytest.fixture(scope="session")
def toy():
    rng = np.random.default_rng(20240601)
    x, y = gaussian_toy(3000, rng)
    x_val, y_val = gaussian_toy(1000, rng)
    x_test, y_test = gaussian_toy(20000, rng)
    return dict(x=x, y=y, x_val=x_val, y_val=y_val, x_test=x_test, y_test=y_test)


@pytest.fixture(scope="session")
def fitted(toy):
    """One classifier of each kind trained on the toy (shared: training is the slow part)."""
    from resad_tf.models import make_classifier

    return {
        kind: make_classifier(kind, seed=3, **cfg).fit(
            toy["x"], toy["y"], x_val=toy["x_val"], y_val=toy["y_val"]
        )
        for kind, cfg in FAST.items()
    }
