"""A small hyperparameter-search hook on Optuna (optional dependency: ``pip install optuna``).

:func:`search` minimizes ``objective(params) -> float`` over a search space
written as a plain dict:

* a list -> one of these values (categorical);
* ``(low, high)`` -> an integer range if both are ints, else a float range;
* ``(low, high, "log")`` -> a float range sampled log-uniformly.

:func:`autoencoder_objective` is the objective the autoencoder methods come
with: the best validation loss of an :class:`~resad_tf.methods.autoencoder.Autoencoder`
trained with the trial's options.  (A lower reconstruction loss is not a
better anomaly detector by itself: a wide latent space reconstructs signal
too.  Search training options such as sizes of hidden layers or the
learning rate with it, and keep the latent size fixed.)

>>> result = search(lambda p: (p["x"] - 1.0) ** 2, {"x": (-3.0, 3.0)}, n_trials=30, seed=0)  # doctest: +SKIP
>>> abs(result.best_params["x"] - 1.0) < 0.5  # doctest: +SKIP
True
"""

from __future__ import annotations

import dataclasses
from typing import Callable

from resad_tf.errors import InputError


@dataclasses.dataclass(frozen=True)
class SearchResult:
    best_params: dict
    best_value: float
    trials: list  # [(params, value)] in trial order


def _optuna():
    try:
        import optuna
    except ImportError:
        raise InputError("hyperparameter search needs Optuna: pip install optuna "
                         "(or pip install 'resad_tf[hpsearch]')") from None
    return optuna


def _suggest(trial, name: str, spec):
    if isinstance(spec, list):
        if not spec:
            raise InputError(f"search space '{name}': empty list of choices")
        return trial.suggest_categorical(name, spec)
    if isinstance(spec, tuple) and len(spec) in (2, 3):
        low, high = spec[:2]
        log = len(spec) == 3
        if log and spec[2] != "log":
            raise InputError(f"search space '{name}': the third entry may only be 'log', got {spec[2]!r}")
        if not low < high:
            raise InputError(f"search space '{name}': need low < high, got {spec}")
        if isinstance(low, int) and isinstance(high, int) and not log:
            return trial.suggest_int(name, low, high)
        return trial.suggest_float(name, float(low), float(high), log=log)
    raise InputError(f"search space '{name}': {spec!r} is neither a list of choices nor (low, high[, 'log'])")


def search(objective: Callable[[dict], float], space: dict, n_trials: int = 20, seed=0,
           quiet: bool = True) -> SearchResult:
    """Minimize ``objective`` over ``space`` with ``n_trials`` trials of Optuna's seeded TPE sampler."""
    optuna = _optuna()
    if n_trials < 1 or not space:
        raise InputError(f"need n_trials >= 1 and a non-empty search space, got {n_trials}, {space}")
    if quiet:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=int(seed)))
    study.optimize(lambda trial: float(objective({k: _suggest(trial, k, v) for k, v in space.items()})),
                   n_trials=n_trials)
    trials = [(t.params, t.value) for t in study.trials]
    return SearchResult(study.best_params, float(study.best_value), trials)


def autoencoder_objective(regions, base=None, seed: int = 0) -> Callable[[dict], float]:
    """``params -> best validation loss`` of an Autoencoder with ``base`` config updated by params."""
    from resad_tf.methods.autoencoder import Autoencoder, AutoencoderConfig

    base = base if base is not None else AutoencoderConfig()

    def objective(params: dict) -> float:
        try:
            config = dataclasses.replace(base, **params)
        except TypeError:
            names = [f.name for f in dataclasses.fields(base)]
            raise InputError(f"search space {sorted(params)}: the autoencoder options are {names}") from None
        method = Autoencoder(config, seed=seed, verbose=False).fit(regions)
        return method.diagnostics(None)["best_val_loss"]

    return objective
