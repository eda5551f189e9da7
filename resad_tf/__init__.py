"""resad_tf: resonant anomaly detection for collider physics on TensorFlow/Keras.

Data flows one way::

    data.load -> regions.split -> preprocessing -> methods.<Method>.fit/score
              -> metrics / bumphunt -> outputs.write

Heavy submodules (TensorFlow) are imported lazily so that ``import resad_tf``
stays fast for the data layer and the metrics.
"""

__version__ = "0.1.0"

from resad_tf.errors import InputError  # noqa: F401


def load_model(directory):
    """Load a trained method saved by a resad_tf run (``<output_dir>/model``); see :mod:`resad_tf.saving`."""
    from resad_tf.saving import load_model as _load

    return _load(directory)
