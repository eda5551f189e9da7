"""Ensembles of boosted decision trees (scikit-learn HGB or XGBoost).

Boosted trees are far more robust than neural networks to irrelevant extra
features (Finke et al., "Back to the roots", arXiv:2309.13111): the
literature setup averages 50 ``HistGradientBoostingClassifier`` with
``max_iter=200`` and early stopping on an internal ``validation_fraction=0.5``
split, each member with its own seed.  Because HGB is deterministic given its
data, that per-member random split is what makes the members differ.

* ``kind="hgb"``: every member early-stops on its own random half of the
  *training* data; a validation set passed to ``fit`` is not used.
* ``kind="xgb"``: every member early-stops on the validation set (given, or
  split off with ``validation_fraction``); members differ through row
  subsampling (``subsample``) with their own seeds.

In both cases the trees are grown on the training data only.  Prediction is
the mean of the members' class-1 probabilities.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(0, 1, (300, 2)), rng.normal(1, 1, (300, 2))])
>>> y = np.repeat([0, 1], 300)
>>> clf = TreeEnsembleClassifier("hgb", n_estimators=3, max_iter=20).fit(x, y)
>>> len(clf.members_), clf.predict(x[:2]).shape
(3, (2,))
"""

from __future__ import annotations

import pathlib

import joblib
import numpy as np
import sklearn
from sklearn.ensemble import HistGradientBoostingClassifier
from threadpoolctl import threadpool_limits
from tqdm.auto import tqdm

from resad_tf.errors import InputError
from resad_tf.models.base import (
    Classifier,
    atomic_path,
    balanced_weights,
    check_training_data,
    member_seeds,
    validation_data,
)


class TreeEnsembleClassifier(Classifier):
    """Mean of ``n_estimators`` boosted-tree classifiers, each with its own seed.

    Parameters
    ----------
    kind : "hgb" (scikit-learn HistGradientBoostingClassifier) or "xgb" (XGBoost).
    n_estimators : number of ensemble members.
    max_iter : boosting rounds per member (XGBoost's ``n_estimators``).
    learning_rate : shrinkage per boosting round.
    max_depth : tree depth limit (None: the library default, i.e. 31 leaves for
        hgb, depth 6 for xgb).
    min_samples_leaf : hgb: least (weighted-count) events per leaf; xgb: ignored.
    l2_regularization : L2 penalty on the leaf values (hgb ``l2_regularization``,
        xgb ``reg_lambda``).  Larger leaves and a penalty keep a weak signal's
        classifier from fitting the statistical noise of a large background.
    early_stopping : stop a member when its validation loss has not improved
        for ``n_iter_no_change`` rounds.
    validation_fraction : hgb: each member's internal validation share of the
        training data; xgb: share split off when ``fit`` gets no ``x_val``.
    subsample : xgb only: row fraction per tree (what makes xgb members differ).
    balance_classes : rescale weights so both classes carry equal total weight.
    n_jobs : members fitted in parallel with joblib (-1: all cores); each member
        runs single-threaded, which on small samples beats threading inside a
        member and never oversubscribes a shared node.
    seed : int from which every member's seed is derived.
    verbose : progress bar over members.

    Learned state: ``members_`` (fitted library estimators), ``n_iter_``
    (boosting rounds each member kept).
    """

    def __init__(
        self,
        kind="hgb",
        n_estimators=50,
        max_iter=200,
        learning_rate=0.1,
        max_depth=None,
        min_samples_leaf=20,
        l2_regularization=0.0,
        early_stopping=True,
        n_iter_no_change=10,
        validation_fraction=0.5,
        subsample=0.8,
        balance_classes=True,
        n_jobs=1,
        seed=0,
        verbose=False,
    ):
        self.kind = kind
        self.n_estimators = n_estimators
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_depth = max_depth
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.early_stopping = early_stopping
        self.n_iter_no_change = n_iter_no_change
        self.validation_fraction = validation_fraction
        self.subsample = subsample
        self.balance_classes = balance_classes
        self.n_jobs = n_jobs
        self.seed = seed
        self.verbose = verbose
        self._check_params()

    def _check_params(self):
        if self.kind not in ("hgb", "xgb"):
            raise InputError(f"tree ensemble kind must be 'hgb' or 'xgb', got {self.kind!r}")
        for name in ("n_estimators", "max_iter", "n_iter_no_change", "min_samples_leaf"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if not self.l2_regularization >= 0:
            raise InputError(f"l2_regularization must be >= 0, got {self.l2_regularization}")
        if not 0 < self.validation_fraction < 1:
            raise InputError(f"validation_fraction must be in (0, 1), got {self.validation_fraction}")
        if not 0 < self.subsample <= 1:
            raise InputError(f"subsample must be in (0, 1], got {self.subsample}")
        if not isinstance(self.seed, (int, np.integer)):
            raise InputError(f"seed must be an int (it is saved with the model), got {self.seed!r}")

    def _member(self, seed: int):
        """One unfitted library estimator with this ensemble's parameters."""
        if self.kind == "hgb":
            return HistGradientBoostingClassifier(
                max_iter=int(self.max_iter),
                learning_rate=self.learning_rate,
                max_depth=self.max_depth,
                min_samples_leaf=int(self.min_samples_leaf),
                l2_regularization=float(self.l2_regularization),
                early_stopping=bool(self.early_stopping),
                n_iter_no_change=int(self.n_iter_no_change),
                validation_fraction=self.validation_fraction,
                random_state=seed,
            )
        import xgboost  # imported only for kind='xgb'

        return xgboost.XGBClassifier(
            n_estimators=int(self.max_iter),
            learning_rate=self.learning_rate,
            max_depth=self.max_depth,
            subsample=self.subsample,
            reg_lambda=float(self.l2_regularization) or 1.0,  # 0: XGBoost's own default
            early_stopping_rounds=int(self.n_iter_no_change) if self.early_stopping else None,
            tree_method="hist",
            eval_metric="logloss",
            random_state=seed,
            n_jobs=1,
        )

    def fit(self, x, y, weight=None, x_val=None, y_val=None, weight_val=None) -> "TreeEnsembleClassifier":
        x, y, w = check_training_data(x, y, weight)
        eval_set = None
        if self.kind == "xgb" and self.early_stopping:
            x, y, w, x_val, y_val, w_val = validation_data(
                x, y, w, x_val, y_val, weight_val, self.validation_fraction, self.seed
            )
            if self.balance_classes:
                w_val = balanced_weights(y_val, w_val)
            eval_set = dict(eval_set=[(x_val, y_val)], sample_weight_eval_set=[w_val], verbose=False)
        if self.balance_classes:
            w = balanced_weights(y, w)

        def fit_member(seed):
            with threadpool_limits(1):
                return self._member(seed).fit(x, y, sample_weight=w, **(eval_set or {}))

        seeds = member_seeds(self.seed, int(self.n_estimators))
        fitted = joblib.Parallel(n_jobs=self.n_jobs, return_as="generator")(
            joblib.delayed(fit_member)(s) for s in seeds
        )
        self.members_ = list(
            tqdm(fitted, total=len(seeds), desc=f"{self.kind} members", disable=not self.verbose)
        )
        self.n_features_in_ = x.shape[1]
        return self

    @property
    def n_iter_(self) -> list[int]:
        if self.kind == "hgb":
            return [int(m.n_iter_) for m in self.members_]
        return [int(getattr(m, "best_iteration", m.n_estimators - 1)) + 1 for m in self.members_]

    def predict(self, x) -> np.ndarray:
        x = self._check_predict_input(x)
        with threadpool_limits(1):
            return np.mean([m.predict_proba(x)[:, 1] for m in self.members_], axis=0)

    def _save_state(self, directory: pathlib.Path) -> dict:
        directory.mkdir(parents=True, exist_ok=True)
        if self.kind == "hgb":
            # HGB has no portable format: pickle, and refuse other sklearn versions on load.
            with atomic_path(directory / "members.joblib") as tmp:
                joblib.dump(self.members_, tmp)
            return {"n_features": int(self.n_features_in_), "sklearn_version": sklearn.__version__,
                    "files": ["members.joblib"]}
        files = []
        for i, member in enumerate(self.members_):
            files.append(f"member_{i:03d}.json")
            with atomic_path(directory / files[-1]) as tmp:
                member.save_model(tmp)
        import xgboost

        return {"n_features": int(self.n_features_in_), "xgboost_version": xgboost.__version__, "files": files}

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.n_features_in_ = int(state["n_features"])
        paths = [directory / f for f in state["files"]]
        missing = [str(p) for p in paths if not p.is_file()]
        if missing:
            raise InputError(f"member files of the {self.kind} ensemble are missing: {missing}")
        if self.kind == "hgb":
            if state["sklearn_version"] != sklearn.__version__:
                raise InputError(
                    f"{directory}: HGB members were pickled with scikit-learn {state['sklearn_version']} "
                    f"but {sklearn.__version__} is installed; install that version or retrain"
                )
            self.members_ = joblib.load(paths[0])
            return
        self.members_ = []
        for path in paths:
            import xgboost

            member = xgboost.XGBClassifier(n_jobs=1)
            member.load_model(path)
            self.members_.append(member)
