"""Jet physics on raw particles: clustering (FastJet anti-kT), N-subjettiness,
jet images, constituent sequences, and the raw -> v2 features preparation.

Modules: ``clustering`` (cluster_jets, Jets), ``nsubjettiness``, ``images``
(jet_images, SparseImages), ``sequences`` (constituent_sequences), ``prepare``
(prepare_lhco, jet_features; the engine of ``bin/prepare_lhco``).
"""
