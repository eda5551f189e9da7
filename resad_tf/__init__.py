"""resad_tf: resonant anomaly detection for collider physics on TensorFlow/Keras.

Data flows one way::

    data.load -> regions.split -> preprocessing -> methods.<Method>.fit/score
              -> metrics / bumphunt -> outputs.write

Heavy submodules (TensorFlow) are imported lazily so that ``import resad_tf``
stays fast for the data layer and the metrics.
"""

__version__ = "0.1.0"

from resad_tf.errors import InputError  # noqa: F401
