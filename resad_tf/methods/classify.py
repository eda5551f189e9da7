"""The classifier step shared by every classifier-based method.

CWoLa, CATHODE, LaCATHODE, SALAD, IAD and the supervised bound all end the
same way: train a classifier to separate a sample labelled 1 from a sample
labelled 0 and use P(1 | x) as the score.  :class:`ClassifierOptions` holds
the flags that pick and configure that classifier (so every method can swap
the Keras MLP for tree ensembles with ``--classifier=hgb``), and
:class:`Discriminator` is the fitted (scaler + classifier) pair.
"""

from __future__ import annotations

import dataclasses
import pathlib

import numpy as np

from resad_tf.component import Component, load_part, save_part
from resad_tf.config import MAX_ITERATIONS, Options, option, project
from resad_tf.data.preprocessing import StandardScaler
from resad_tf.errors import InputError
from resad_tf.models import KINDS, make_classifier


@dataclasses.dataclass(frozen=True)
class ClassifierOptions(Options):
    classifier: str = option("mlp", "classifier: mlp (Keras MLP), hgb (HistGradientBoosting ensemble), xgb",
                             choices=KINDS)
    hidden: tuple[int, ...] = option((64, 64, 64), "MLP hidden layer sizes", ge=1)
    epochs: int = option(100, "MLP maximum epochs", ge=1, le=MAX_ITERATIONS)
    batch_size: int = option(128, "MLP batch size", ge=1)
    learning_rate: float = option(1e-3, "MLP Adam learning rate", gt=0)
    patience: int = option(0, "MLP early-stopping patience in epochs (0: off; with a weak signal the "
                           "validation loss is noise-dominated, and the epoch ensemble selects instead)", ge=0)
    n_best_epochs: int = option(1, "MLP: average the models of this many lowest-val-loss epochs", ge=1)
    n_runs: int = option(1, "average this many independently trained classifiers", ge=1)
    n_estimators: int = option(50, "tree ensembles: number of members", ge=1, le=MAX_ITERATIONS)
    max_iter: int = option(200, "tree ensembles: boosting rounds per member", ge=1, le=MAX_ITERATIONS)
    tree_learning_rate: float = option(0.1, "tree ensembles: shrinkage per boosting round", gt=0)
    min_samples_leaf: int = option(20, "tree ensembles (hgb): least events per leaf; large leaves keep a weak "
                                   "signal's classifier from fitting a large background's fluctuations", ge=1)
    l2_regularization: float = option(0.0, "tree ensembles: L2 penalty on the leaf values (0: none; xgb: its "
                                      "default)", ge=0)
    early_stopping: bool = option(True, "tree ensembles: early-stop each member on its own validation split "
                                  "(with little signal it can stop before the trees isolate it)")
    val_fraction: float = option(0.2, "fraction of the training sample used for validation", gt=0, lt=1)


@dataclasses.dataclass(frozen=True)
class SRClassifierOptions(ClassifierOptions):
    """The classifier of the methods that tell the SR data from a background estimate (IAD, CATHODE,
    LaCATHODE; the supervised bound alike): an ensemble of boosted trees, each early-stopped on its own
    random half of the training sample, chosen by the low-signal table (docs/low_signal.md): at
    S/B ~ 0.3 % the MLP learns the background estimate's residual mis-modelling and the trees do not."""

    classifier: str = option("hgb", "classifier: hgb (HistGradientBoosting ensemble), mlp (Keras MLP), xgb",
                             choices=KINDS)
    n_estimators: int = option(10, "tree ensembles: number of members", ge=1, le=MAX_ITERATIONS)


#: the options only the MLP uses, and those only the tree ensembles use
MLP_OPTIONS = ("hidden", "epochs", "batch_size", "learning_rate", "patience", "n_best_epochs", "val_fraction")
TREE_OPTIONS = ("n_estimators", "max_iter", "tree_learning_rate", "min_samples_leaf", "l2_regularization",
                "early_stopping")


def unused_options(opts: ClassifierOptions) -> tuple[str, ...]:
    """The options the chosen classifier ignores (the other kind's).

    >>> "max_iter" in unused_options(ClassifierOptions(classifier="mlp")), unused_options(ClassifierOptions())[0]
    (True, 'n_estimators')
    """
    return TREE_OPTIONS if opts.classifier == "mlp" else MLP_OPTIONS


def classifier_kwargs(opts: ClassifierOptions, seed: int, verbose: bool) -> dict:
    """The make_classifier arguments these options mean for the chosen kind."""
    if opts.classifier == "mlp":
        return dict(hidden=tuple(opts.hidden), epochs=opts.epochs, batch_size=opts.batch_size,
                    learning_rate=opts.learning_rate, patience=opts.patience or None,
                    n_best_epochs=opts.n_best_epochs, n_runs=opts.n_runs,
                    validation_fraction=opts.val_fraction, seed=int(seed), verbose=verbose)
    return dict(n_estimators=opts.n_estimators * opts.n_runs, max_iter=opts.max_iter,
                learning_rate=opts.tree_learning_rate, min_samples_leaf=opts.min_samples_leaf,
                l2_regularization=opts.l2_regularization, early_stopping=opts.early_stopping, seed=int(seed),
                verbose=verbose)


class Discriminator(Component):
    """Standardize the inputs, then classify: sample 1 vs sample 0.

    ``opts`` may be a method's Config that extends :class:`ClassifierOptions`;
    the discriminator keeps the classifier options of it.

    >>> import numpy as np
    >>> rng = np.random.default_rng(0)
    >>> opts = ClassifierOptions(classifier="hgb", n_estimators=2, max_iter=20)
    >>> d = Discriminator(opts, seed=0).fit(rng.normal(1, 1, (500, 2)), rng.normal(0, 1, (500, 2)))
    >>> bool(d.predict(np.array([[3.0, 3.0]]))[0] > d.predict(np.array([[-3.0, -3.0]]))[0])
    True
    """

    def __init__(self, opts: ClassifierOptions, seed: int = 0, verbose: bool = False):
        self.opts, self.seed, self.verbose = project(ClassifierOptions, opts), seed, verbose

    def fit(self, x1, x0, w1=None, w0=None) -> "Discriminator":
        """Train on x1 (label 1) vs x0 (label 0); classes are balanced by the classifier."""
        x1, x0 = np.asarray(x1), np.asarray(x0)
        if x1.ndim != 2 or x0.ndim != 2 or x1.shape[1] != x0.shape[1] or not (len(x1) and len(x0)):
            raise InputError(f"Discriminator.fit needs two non-empty (n, d) samples of equal width, "
                             f"got shapes {x1.shape} and {x0.shape}")
        x = np.concatenate([x1, x0])
        y = np.r_[np.ones(len(x1)), np.zeros(len(x0))]
        w = None
        if w1 is not None or w0 is not None:
            w = np.r_[np.ones(len(x1)) if w1 is None else w1, np.ones(len(x0)) if w0 is None else w0]
        self.scaler_ = StandardScaler().fit(x)
        kw = classifier_kwargs(self.opts, self.seed, self.verbose)
        self.classifier_ = make_classifier(self.opts.classifier, **kw)
        self.classifier_.fit(self.scaler_.transform(x), y, w)
        return self

    def predict(self, x) -> np.ndarray:
        self.check_fitted("predict()")
        return self.classifier_.predict(self.scaler_.transform(np.asarray(x, np.float64)))

    def _save_state(self, directory: pathlib.Path) -> dict:
        return {"scaler": save_part(self.scaler_, directory),
                "classifier": save_part(self.classifier_, directory / "classifier")}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.scaler_ = load_part(state["scaler"], directory)
        self.classifier_ = load_part(state["classifier"], directory / "classifier")
