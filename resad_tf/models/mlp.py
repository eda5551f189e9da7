"""A Keras 3 multilayer perceptron with k-best-epoch and multi-run ensembling.

The literature default for weakly supervised classifiers (CWoLa, CATHODE,
SALAD, IAD): 3 x 64 ReLU, sigmoid output, binary cross-entropy, Adam with
learning rate 1e-3, batch 128, up to 100 epochs with early stopping on the
validation loss, class-balancing weights.  CATHODE averages the models of
the 10 epochs with the lowest validation loss (``n_best_epochs=10``); several
independent trainings can be averaged too (``n_runs``).

Every ensemble member is a plain Keras model; :meth:`MLPClassifier.save`
writes each as a ``.keras`` file that ``keras.saving.load_model`` reads
without resad_tf.

>>> import numpy as np
>>> rng = np.random.default_rng(0)
>>> x = np.concatenate([rng.normal(0, 1, (200, 2)), rng.normal(1, 1, (200, 2))])
>>> y = np.repeat([0, 1], 200)
>>> clf = MLPClassifier(hidden=(8,), epochs=3, seed=1).fit(x, y)
>>> p = clf.predict(x)
>>> p.shape, bool(0 <= p.min() and p.max() <= 1)
((400,), True)
"""

from __future__ import annotations

import os
import pathlib

os.environ.setdefault("KERAS_BACKEND", "tensorflow")

import keras  # noqa: E402
import numpy as np  # noqa: E402
from tqdm.auto import tqdm  # noqa: E402

from resad_tf.errors import InputError, TrainingDiverged  # noqa: E402
from resad_tf.models.base import (  # noqa: E402
    Classifier,
    atomic_path,
    balanced_weights,
    check_training_data,
    member_seeds,
    validation_data,
)


def predict_member(model: keras.Model, x: np.ndarray, batch_size: int = 65536) -> np.ndarray:
    """One member's sigmoid output as float64, shape (n,).

    Calls the model eagerly in large batches: ``model.predict`` would trace a
    new graph for every member, which dominates on the samples used here.
    """
    out = [
        keras.ops.convert_to_numpy(model(x[i : i + batch_size], training=False))
        for i in range(0, len(x), batch_size)
    ]
    return np.concatenate(out)[:, 0].astype(np.float64) if out else np.zeros(0)


class KeepBestEpochs(keras.callbacks.Callback):
    """Record every epoch's validation loss and keep the weights of the ``k`` best epochs.

    After training, ``val_loss`` is the per-epoch history and ``best`` a list
    of ``(val_loss, epoch, weights)`` sorted by loss, at most ``k`` long (so
    memory stays bounded however many epochs run).
    """

    def __init__(self, k: int):
        super().__init__()
        self.k = k
        self.val_loss: list[float] = []
        self.best: list[tuple[float, int, list[np.ndarray]]] = []

    def on_epoch_end(self, epoch, logs=None):
        loss = float(logs["val_loss"])
        self.val_loss.append(loss)
        if not np.isfinite(loss):
            return
        if len(self.best) < self.k or loss < self.best[-1][0]:
            self.best.append((loss, epoch, self.model.get_weights()))
            self.best.sort(key=lambda item: (item[0], item[1]))
            del self.best[self.k :]


class MLPClassifier(Classifier):
    """Fully connected binary classifier; prediction = mean over k best epochs x n runs.

    Parameters
    ----------
    hidden : sizes of the ReLU hidden layers.
    learning_rate, batch_size, epochs : Adam learning rate, minibatch size, maximum epochs.
    patience : early-stopping patience in epochs on the validation loss (None: no early stop).
    n_best_epochs : number of lowest-validation-loss epochs whose models are averaged.
    n_runs : independent trainings (different initialisation and shuffling) averaged.
    balance_classes : rescale weights so both classes carry equal total weight
        (in training and in the validation loss).
    validation_fraction : share of the training data split off for validation
        when ``fit`` gets no ``x_val``.
    seed : int; fixes initialisation, shuffling and the validation split.  Note
        that training calls ``keras.utils.set_random_seed`` (global Python,
        numpy and TF seeds).
    verbose : show Keras per-epoch lines and a progress bar over runs.

    Learned state: ``members_`` (Keras models), ``member_info_`` (run, epoch,
    val_loss of each member), ``history_`` (per run, the validation loss of
    every epoch), ``best_epochs_`` (per run, the epochs kept, best first).
    """

    kind = "mlp"

    def __init__(
        self,
        hidden=(64, 64, 64),
        learning_rate=1e-3,
        batch_size=128,
        epochs=100,
        patience=10,
        n_best_epochs=1,
        n_runs=1,
        balance_classes=True,
        validation_fraction=0.2,
        seed=0,
        verbose=False,
    ):
        self.hidden = hidden
        self.learning_rate = learning_rate
        self.batch_size = batch_size
        self.epochs = epochs
        self.patience = patience
        self.n_best_epochs = n_best_epochs
        self.n_runs = n_runs
        self.balance_classes = balance_classes
        self.validation_fraction = validation_fraction
        self.seed = seed
        self.verbose = verbose
        self._check_params()

    def _check_params(self):
        if not self.hidden or any(int(h) < 1 for h in self.hidden):
            raise InputError(f"hidden must be a non-empty list of positive layer sizes, got {self.hidden}")
        for name in ("batch_size", "epochs", "n_best_epochs", "n_runs"):
            if int(getattr(self, name)) < 1:
                raise InputError(f"{name} must be >= 1, got {getattr(self, name)}")
        if self.patience is not None and int(self.patience) < 1:
            raise InputError(f"patience must be >= 1 or None, got {self.patience}")
        if not self.learning_rate > 0:
            raise InputError(f"learning_rate must be > 0, got {self.learning_rate}")
        if not isinstance(self.seed, (int, np.integer)):
            raise InputError(f"seed must be an int (it is saved with the model), got {self.seed!r}")

    def build_model(self, n_features: int) -> keras.Model:
        """A fresh, uncompiled network (weights drawn from the current Keras seed)."""
        layers = [keras.Input((n_features,))]
        layers += [keras.layers.Dense(int(h), activation="relu") for h in self.hidden]
        layers += [keras.layers.Dense(1, activation="sigmoid")]
        return keras.Sequential(layers)

    def fit(self, x, y, weight=None, x_val=None, y_val=None, weight_val=None) -> "MLPClassifier":
        x, y, w = check_training_data(x, y, weight)
        x, y, w, x_val, y_val, w_val = validation_data(
            x, y, w, x_val, y_val, weight_val, self.validation_fraction, self.seed
        )
        if self.balance_classes:
            w, w_val = balanced_weights(y, w), balanced_weights(y_val, w_val)
        data = dict(x=x.astype(np.float32), y=y.astype(np.float32), sample_weight=w.astype(np.float32))
        val = (x_val.astype(np.float32), y_val.astype(np.float32), w_val.astype(np.float32))

        self.members_, self.member_info_, self.history_, self.best_epochs_ = [], [], [], []
        runs = member_seeds(self.seed, self.n_runs)
        for run, run_seed in enumerate(tqdm(runs, desc="MLP runs", disable=not self.verbose)):
            keras.utils.set_random_seed(run_seed)
            model = self.build_model(x.shape[1])
            model.compile(
                optimizer=keras.optimizers.Adam(self.learning_rate), loss="binary_crossentropy"
            )
            keep = KeepBestEpochs(int(self.n_best_epochs))
            callbacks = [keep, keras.callbacks.TerminateOnNaN()]
            if self.patience is not None:
                callbacks.append(keras.callbacks.EarlyStopping("val_loss", patience=int(self.patience)))
            model.fit(
                **data,
                validation_data=val,
                batch_size=int(self.batch_size),
                epochs=int(self.epochs),
                shuffle=True,
                callbacks=callbacks,
                verbose=2 if self.verbose else 0,
            )
            if not keep.best:
                raise TrainingDiverged(
                    "MLP training diverged (validation loss is NaN/inf in every epoch); "
                    "check that the features are scaled and try a smaller learning_rate"
                )
            self.history_.append(keep.val_loss)
            self.best_epochs_.append([epoch for _, epoch, _ in keep.best])
            for loss, epoch, weights in keep.best:
                member = self.build_model(x.shape[1])
                member.set_weights(weights)
                self.members_.append(member)
                self.member_info_.append({"run": run, "epoch": epoch, "val_loss": loss})
        self.n_features_in_ = x.shape[1]
        return self

    def predict(self, x) -> np.ndarray:
        x = self._check_predict_input(x).astype(np.float32)
        return np.mean([predict_member(m, x) for m in self.members_], axis=0)

    def _save_state(self, directory: pathlib.Path) -> dict:
        members = []
        for member, info in zip(self.members_, self.member_info_):
            name = f"run{info['run']}_epoch{info['epoch']}.keras"
            with atomic_path(directory / name) as tmp:
                member.save(tmp)
            members.append({"file": name, **info})
        return {
            "keras_version": keras.__version__,
            "members": members,
            "history": self.history_,
            "best_epochs": self.best_epochs_,
        }

    def _load_state(self, directory: pathlib.Path, state: dict) -> None:
        self.members_, self.member_info_ = [], []
        for info in state["members"]:
            path = directory / info["file"]
            if not path.is_file():
                raise InputError(f"{path}: member file listed in the manifest is missing")
            self.members_.append(keras.saving.load_model(path, compile=False))
            self.member_info_.append({k: info[k] for k in ("run", "epoch", "val_loss")})
        self.history_ = state["history"]
        self.best_epochs_ = state["best_epochs"]
