"""The data layer: formats, the generator, events, regions, preprocessing.

>>> from resad_tf import data
>>> sorted(data.FEATURE_SETS)[:2]
['extended', 'extended_dr']
"""

from resad_tf.data.decorrelation import ConditionalQuantileTransform
from resad_tf.data.events import Events
from resad_tf.data.features import FEATURE_SETS, add_noise_features
from resad_tf.data.loader import ToySpec, load
from resad_tf.data.preprocessing import LogitScaler, MassScaler, StandardScaler
from resad_tf.data.regions import Regions, Window, inject, make_regions, train_val_split

__all__ = [
    "ConditionalQuantileTransform", "Events", "FEATURE_SETS", "add_noise_features", "ToySpec", "load", "LogitScaler", "MassScaler",
    "StandardScaler",
    "Regions", "Window", "inject", "make_regions", "train_val_split",
]
