"""resad_tf: resonant anomaly detection for collider physics on TensorFlow/Keras.

Data flows one way::

    data.load -> regions -> preprocessing -> methods.<Method>.fit/score
              -> metrics / bumphunt -> outputs      (resad_tf.pipeline runs it all)

Heavy submodules (TensorFlow) are imported lazily so that ``import resad_tf``
stays fast for the data layer and the metrics.
"""

__version__ = "0.1.0"

from resad_tf.errors import InputError, NotFittedError, ResadError, TrainingDiverged  # noqa: F401


def load_model(directory):
    """Load anything resad_tf saved, e.g. the trained method of a run (``<output_dir>/model``).

    The same as :func:`resad_tf.component.load`::

        model = resad_tf.load_model("runs/cathode/model")
        scores = model.score_arrays(x, mjj)      # x: (n, len(model.features_)), mjj in TeV
    """
    from resad_tf.component import load

    return load(directory)
