"""The bad-input catalogue: malformed files, regions, flags and outputs through every script of bin/.

The README promises that bad input gives one line naming the problem and exit
status 2, and that nothing half-written is left.  Each row of the tables
below is one malformed input; it runs through every script it applies to, in
this process (``runpy``, exactly as ``python bin/<script>`` runs it, with
absl's flags removed again afterwards, so a case costs milliseconds instead of
a TensorFlow import), and must end with

* exit status 2,
* exactly one line on stderr, ``<script>: error: ...``, containing the
  fragments the row names (no traceback, no warning),
* the output (directory or file) and everything around it as they were.

Model training (every method's ``_fit``, called by ``Method.fit`` after it has
checked the regions) is replaced by a sentinel that fails the case: bad input
must be refused before any training starts.  The network is replaced by a failing
``urlopen``.  The method flags' range cases are generated from the ranges the
Config dataclasses declare (``option(..., ge=1)``); a separate test checks
that every numeric option declares one.

To extend the catalogue: add a row to the table of its kind; for a new script,
add it to ``SCRIPTS`` (its base arguments and output flag) and give it a table.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import os
import pathlib
import runpy
import sys
import urllib.error
import urllib.request

import numpy as np
import pandas as pd
import pytest
from absl import app, flags

from resad_tf.data import features, raw, toy
from resad_tf.data.toy_constituents import generate_raw

REPO = pathlib.Path(__file__).resolve().parents[1]
BIN = REPO / "bin"
FLAGS = flags.FLAGS

V2_METHODS = ("anode", "autoencoder", "cathode", "cwola", "iad", "lacathode", "ranode", "salad", "supervised",
              "vae")
METHODS = V2_METHODS + ("sparse_ae",)
SIDEBAND_METHODS = ("anode", "cathode", "cwola", "lacathode", "ranode", "salad")  # declare uses_sidebands
UNWRITABLE = "/proc/self/resad_out"  # cannot be created, by root or anyone else


@dataclasses.dataclass(frozen=True)
class Script:
    """How a script is run in the catalogue: arguments every case gets, and where its output goes."""

    base: tuple[str, ...]  # templated with the files below ({good_h5}, ...)
    out_flag: str  # the flag naming the output
    out_name: str = "out"  # the output's name inside the case's tmp_path


SCRIPTS = {
    **{m: Script(("--data={good_h5}", "--n_sig=200", "--quiet"), "--output_dir") for m in V2_METHODS},
    "salad": Script(("--data={good_h5}", "--n_sig=200", "--simulation={good_h5}", "--quiet"), "--output_dir"),
    "sparse_ae": Script(("--data={raw}", "--max_events=150", "--quiet"), "--output_dir"),
    "prepare_lhco": Script(("--input={raw}", "--quiet"), "--output", "out.h5"),
    "make_dataset": Script(("--n_background=2000", "--n_signal=100", "--quiet"), "--out", "out.h5"),
    "download": Script(("--name=events_anomalydetection_v2.features.h5",), "--dir"),
    "scan": Script(("--toy_n_background=20000", "--cluster=none", "--n_toys=0", "--quiet"), "--output_dir"),
}
NOT_YET = set()  # scripts without cases yet (every script has its cases now)


#: the output's state before a case (prepare_output): fresh (absent), a user's file, below a user's file, a
#: previous run's results, results to which the user added notes.txt, a foreign directory, unwritable, a dangling link
OUT_STATES = ("fresh", "file", "below_file", "results", "results_with_notes", "foreign", "unwritable", "dangling")
LONG_NAME = "r" * 300  # a path component over the 255 bytes file systems allow


@dataclasses.dataclass(frozen=True)
class Case:
    """One malformed input: extra arguments, fragments of the expected line, the output's prior state."""

    name: str
    args: tuple[str, ...]
    expect: tuple[str, ...]
    scripts: tuple[str, ...]
    out: str = "fresh"  # one of OUT_STATES

    def __post_init__(self):
        assert self.out in OUT_STATES, self.out


def cases(scripts, *rows, out="fresh"):
    return [Case(name, tuple(args), tuple(expect), tuple(scripts), out) for name, args, expect in rows]


# ----------------------------------------------------------------------------- the tables
FILE_CASES = cases(
    V2_METHODS,
    ("missing_h5", ["--data={dir}/nope.h5"], ["--data=", "nope.h5: file or directory not found"]),
    ("empty_bytes_h5", ["--data={empty_bytes_h5}"], ["empty_bytes.h5", "cannot be read as a pandas HDF5"]),
    ("text_as_h5", ["--data={text_h5}"], ["text.h5", "cannot be read as a pandas HDF5"]),
    ("csv_suffix", ["--data={good_csv}"], ["unknown format '.csv'"]),
    ("wrong_key", ["--data={wrong_key_h5}"], ["wrong_key.h5", "no key 'df'", "events"]),
    ("series_under_df", ["--data={series_h5}"], ["series.h5", "Series"]),
    ("missing_column", ["--data={missing_column_h5}"], ["missing_column.h5", "missing columns ['mj2']"]),
    ("renamed_column", ["--data={renamed_column_h5}"], ["renamed_column.h5", "missing columns ['mj1']"]),
    ("extra_column", ["--data={extra_column_h5}"], ["extra_column.h5", "unexpected columns ['weight']"]),
    ("no_events", ["--data={no_events_h5}"], ["no_events.h5", "contains no events"]),
    ("nan_feature", ["--data={nan_feature_h5}"], ["nan_feature.h5", "column 'tau2j1'", "3 NaN/inf"]),
    ("inf_momentum", ["--data={inf_momentum_h5}"], ["inf_momentum.h5", "column 'pzj2'", "2 NaN/inf"]),
    ("nan_label", ["--data={nan_label_h5}"], ["nan_label.h5", "column 'label'", "1 NaN/inf"]),
    ("string_feature", ["--data={string_feature_h5}"], ["string_feature.h5", "column 'tau1j2'", "text"]),
    ("string_label", ["--data={string_label_h5}"], ["string_label.h5", "column 'label'", "text"]),
    ("numeric_strings", ["--data={numeric_strings_h5}"], ["numeric_strings.h5", "column 'mj1'", "text"]),
    ("negative_mass", ["--data={negative_mass_h5}"], ["negative_mass.h5", "column 'mj2'", "7 of 3300 events"]),
    ("negative_tau", ["--data={negative_tau_h5}"], ["negative_tau.h5", "column 'tau3j1'", "2 of 3300 events"]),
    ("label_2", ["--data={label_2_h5}"], ["label_2.h5", "column 'label'", "5 of 3300 events"]),
    ("raw_as_features", ["--data={raw}"], ["raw.h5", "raw constituents", "bin/prepare_lhco"]),
    ("tiny_file", ["--data={tiny_h5}", "--n_sig=-1"], ["tiny.h5", "at least"]),
    ("background_only_file", ["--data={background_only_h5}", "--n_sig=100"], ["holds only 0 signal events"]),
    ("unlabelled_with_n_sig", ["--data={unlabelled_h5}", "--n_sig=500"], ["unlabelled.h5", "no truth labels"]),
    ("dir_without_arrays", ["--data={empty_dir}"], ["no innerdata_"]),
    # the fresh probe of issue 26
    ("h5py_dataset_df", ["--data={h5py_df_h5}"], ["h5py_df.h5", "'df' is a plain HDF5 dataset", "not a pandas table",
                                                  "DataFrame.to_hdf"]),
    ("huge_momentum", ["--data={huge_momentum_h5}"], ["huge_momentum.h5", "column 'pzj1'", "3 of 3300 events",
                                                      "rows 4, 5, 6", "1e+200"]),
    ("duplicated_events", ["--data={duplicated_h5}", "--n_sig=-1"], ["duplicated.h5", "only 3 of its 21000 events",
                                                                      "drop_duplicates"]),
    ("no_background_in_sr", ["--data={no_sr_background_h5}", "--n_sig=-1"],
     ["no background event in the signal region 3.3,3.7 TeV", "has 0 background events there", "choose an --sr"]),
    # CATHODE-style arrays
    ("missing_npy", ["--data={dir}/nope.npy"], ["nope.npy: file or directory not found"]),
    ("corrupt_npy", ["--data={corrupt_npy}"], ["corrupt.npy", "cannot be read as a .npy"]),
    ("pickled_npy", ["--data={pickled_npy}"], ["pickled.npy", "cannot be read as a .npy"]),
    ("five_columns_npy", ["--data={five_columns_npy}"], ["five_columns.npy", "shape (50, 5)"]),
    ("one_dim_npy", ["--data={one_dim_npy}"], ["one_dim.npy", "shape (60,)"]),
    ("empty_npy", ["--data={empty_npy}"], ["empty.npy", "contains no events"]),
    ("string_npy", ["--data={string_npy}"], ["string.npy", "text"]),
    ("numeric_string_npy", ["--data={numeric_string_npy}"], ["numeric_string.npy", "text"]),
    ("nan_npy", ["--data={nan_npy}"], ["nan.npy", "column 'tau21_light'", "4 NaN/inf"]),
    ("negative_mjj_npy", ["--data={negative_mjj_npy}"], ["negative_mjj.npy", "column 'mjj'", "3 of 3300 events"]),
    ("negative_mass_npy", ["--data={negative_mass_npy}"], ["negative_mass.npy", "column 'mj_light'", "6 of"]),
    ("label_3_npy", ["--data={label_3_npy}"], ["label_3.npy", "column 'label'", "2 of 3300 events"]),
    ("npy_extended_features", ["--data={good_npy}", "--feature_set=extended"], ["only carry the standard"]),
    ("npy_masses_in_gev", ["--data={masses_gev_npy}"], ["masses_gev.npy", "column 'mj_light'", "more than m_jj",
                                                        "in GeV", "divide GeV by 1000"]),
    ("dir_inner_only_outside_sr", ["--data={inner_only_dir}"], ["innerdata_train.npy", "outside the signal region",
                                                                 "no outerdata_* files", "--sr"]),
    # the companion samples
    ("missing_test", ["--test={dir}/nope.h5"], ["--test=", "not found"]),
    ("missing_background", ["--background={dir}/nope.h5"], ["--background=", "not found"]),
    ("missing_signal", ["--signal={dir}/nope.h5"], ["--signal=", "not found"]),
    ("missing_simulation", ["--simulation={dir}/nope.h5"], ["--simulation=", "not found"]),
    ("nan_test", ["--test={nan_feature_h5}"], ["nan_feature.h5", "column 'tau2j1'"]),
    ("unlabelled_test", ["--test={unlabelled_h5}"], ["unlabelled.h5", "no truth labels"]),
    ("test_without_signal", ["--test={background_only_h5}"], ["evaluation set", "signal"]),
    ("negative_mass_simulation", ["--simulation={negative_mass_h5}"], ["negative_mass.h5", "column 'mj2'"]),
)

REGION_CASES = cases(
    METHODS,
    ("sr_reversed", ["--sr=3.7,3.3"], ["signal region 3.7,3.3 TeV is impossible"]),
    ("sr_empty", ["--sr=3.3,3.3"], ["signal region 3.3,3.3 TeV is impossible"]),
    ("sr_negative", ["--sr=-1,3"], ["is impossible"]),
    ("sr_text", ["--sr=abc"], ["--sr='abc' is not two numbers"]),
    ("sr_one_number", ["--sr=3.3"], ["--sr='3.3' is not two numbers"]),
    ("sr_three_numbers", ["--sr=3.3,3.5,3.7"], ["is not two numbers"]),
    ("sr_nan", ["--sr=nan,3.7"], ["must be finite"]),
    ("sr_outside_data", ["--sr=20,21"], ["lies outside the m_jj range"]),
    ("sr_without_events", ["--sr=3.40001,3.40002"], ["holds no event"]),
    ("sb_width_zero", ["--sb_width=0"], ["--sb_width=0.0", "> 0"]),
    ("sb_width_negative", ["--sb_width=-0.2"], ["--sb_width=-0.2", "> 0"]),
    ("sb_width_text", ["--sb_width=wide"], ["sb_width"]),
) + cases(
    SIDEBAND_METHODS,
    ("sr_covers_everything", ["--sr=0.5,50"], ["no event outside the signal region"]),
)

FLAG_CASES = cases(
    METHODS,
    ("holdout_one", ["--holdout=1.0"], ["--holdout=1.0", "(0, 1)"]),
    ("holdout_zero", ["--holdout=0"], ["--holdout=0.0", "(0, 1)"]),
    ("holdout_negative", ["--holdout=-0.5"], ["--holdout=-0.5", "(0, 1)"]),
    ("holdout_above_one", ["--holdout=1.5"], ["--holdout=1.5", "(0, 1)"]),
    ("seed_negative", ["--seed=-1"], ["--seed=-1", "in [0, 4294967295]"]),
    ("seed_too_large", ["--seed=4294967296"], ["--seed=4294967296", "in [0, 4294967295]"]),
    ("seed_text", ["--seed=abc"], ["seed"]),
    ("min_bkg_negative", ["--min_bkg=-5"], ["--min_bkg=-5", ">= 1"]),
    ("min_bkg_zero", ["--min_bkg=0"], ["--min_bkg=0", ">= 1"]),
    ("noise_features_negative", ["--noise_features=-1"], ["--noise_features=-1", ">= 0"]),
    ("toy_n_background_small", ["--toy_n_background=10"], ["--toy_n_background=10", ">= 100"]),
    ("toy_n_background_negative", ["--toy_n_background=-1"], ["--toy_n_background=-1"]),
    ("toy_n_signal_negative", ["--toy_n_signal=-1"], ["--toy_n_signal=-1", ">= 0"]),
    ("toy_reference_factor_negative", ["--toy_reference_factor=-1"], ["--toy_reference_factor=-1", ">= 0"]),
    ("toy_simulation_factor_zero", ["--toy_simulation_factor=0"], ["--toy_simulation_factor=0", ">= 1"]),
    ("n_sig_negative", ["--n_sig=-5"], ["--n_sig=-5", ">= -1"]),
    ("n_sig_text", ["--n_sig=many"], ["n_sig"]),
    ("n_sig_too_many", ["--n_sig=10000000"], ["--n_sig=10000000", "holds only"]),
    ("intra_op_threads_negative", ["--intra_op_threads=-1"], ["intra_op_threads=-1"]),
    ("inter_op_threads_negative", ["--inter_op_threads=-2"], ["inter_op_threads=-2"]),
    ("device_unknown", ["--device=tpu"], ["device='tpu'"]),
    ("feature_set_unknown", ["--feature_set=bogus"], ["--feature_set='bogus'", "'standard'"]),
    ("quiet_not_bool", ["--quiet=maybe"], ["quiet"]),
    ("unknown_flag", ["--no_such_flag=1"], ["no_such_flag"]),
    ("positional_argument", ["stray"], ["unexpected arguments ['stray']"]),
    ("overwrite_not_bool", ["--overwrite=perhaps"], ["overwrite"]),
    ("missing_flagfile", ["--flagfile={dir}/nope.flags"], ["nope.flags"]),
)

OUTPUT_CASES = (
    cases(METHODS, ("output_is_file", [], ["--output_dir=", "is a file"]), out="file")
    + cases(METHODS, ("output_below_file", [], ["--output_dir=", "is a file"]), out="below_file")
    + cases(METHODS, ("output_unwritable", [], ["--output_dir=", "cannot"]), out="unwritable")
    + cases(METHODS, ("output_has_results", [], ["previous run", "--overwrite"]), out="results")
    + cases(METHODS, ("output_foreign_dir", ["--overwrite"], ["not a results directory"]), out="foreign")
    + cases(METHODS, ("output_results_with_notes", ["--overwrite"], ["notes.txt", "which no run wrote"]),
            out="results_with_notes")
    + cases(METHODS, ("output_dangling_link", [], ["--output_dir=", "is a dangling symbolic link"]), out="dangling")
    + cases(METHODS, ("output_name_too_long", [f"--output_dir={{tmp}}/{LONG_NAME}"],
                      ["is 300 bytes long", "at most 231 bytes"]))
)

# sizes that cannot fit: the toy's memory is estimated before it is generated (the data-set methods' toy)
MEMORY_CASES = cases(
    V2_METHODS,
    ("toy_beyond_memory", ["--data=toy", "--toy_n_background=99999999999999999999999"],
     ["--toy_n_background=99999999999999999999999", "GB are available"]),
)

RAW_CASES = [  # the raw constituents layout: bin/prepare_lhco --input and bin/sparse_ae --data
    Case(name, tuple(a.replace("FLAG", flag) for a in args), tuple(expect), (script,))
    for script, flag in (("prepare_lhco", "--input"), ("sparse_ae", "--data"))
    for name, args, expect in (
        ("raw_missing", ["FLAG={dir}/nope.h5"], ["nope.h5", "not found"]),
        ("raw_empty_bytes", ["FLAG={empty_bytes_h5}"], ["empty_bytes.h5", "pandas HDF5"]),
        ("raw_text", ["FLAG={text_h5}"], ["text.h5", "pandas HDF5"]),
        ("raw_wrong_key", ["FLAG={raw_wrong_key}"], ["raw_wrong_key.h5", "no key 'df'"]),
        ("raw_features_file", ["FLAG={good_h5}"], ["good.h5", "jet features"]),
        ("raw_bad_column_count", ["FLAG={raw_eight_columns}"], ["raw_eight_columns.h5", "8 columns"]),
        ("raw_no_events", ["FLAG={raw_no_events}"], ["raw_no_events.h5", "contains no events"]),
        ("raw_nan", ["FLAG={raw_nan}"], ["raw_nan.h5", "NaN/inf"]),
        ("raw_negative_pt", ["FLAG={raw_negative_pt}"], ["raw_negative_pt.h5", "pT", "3 of"]),
        ("raw_label_2", ["FLAG={raw_label_2}"], ["raw_label_2.h5", "label", "4 of"]),
        ("raw_strings", ["FLAG={raw_strings}"], ["raw_strings.h5", "text"]),
    )
]

PREPARE_CASES = cases(
    ("prepare_lhco",),
    ("input_missing_flag", ["--input="], ["--input and --output are required"]),
    ("chunksize_zero", ["--chunksize=0"], ["--chunksize=0", "positive integer"]),
    ("workers_zero", ["--workers=0"], ["--workers=0", "positive integer"]),
    ("start_negative", ["--start=-1"], ["--start=-1", "non-negative integer"]),
    ("stop_before_start", ["--start=50", "--stop=20"], ["--stop=20", "--start=50"]),
    ("start_beyond_file", ["--start=100000"], ["--start=100000", "events"]),
    ("output_suffix", ["--output={tmp}/out.csv"], ["out.csv", ".h5"]),
    ("output_is_input", ["--output={raw}"], ["is the input"]),
    ("output_folder_missing", ["--output={tmp}/nowhere/out.h5"], ["does not exist"]),
    ("output_name_too_long", [f"--output={{tmp}}/{LONG_NAME}.h5"], ["is 303 bytes long"]),
    ("positional_argument", ["stray"], ["unexpected arguments ['stray']"]),
) + cases(("prepare_lhco",), ("output_is_dir", [], ["is a directory"]), out="foreign") + cases(
    ("prepare_lhco",), ("output_below_file", [], ["is a file"]), out="below_file") + cases(
    ("prepare_lhco",), ("output_exists", [], ["--output=", "the file exists", "--overwrite"]), out="file")

MAKE_DATASET_CASES = cases(
    ("make_dataset",),
    ("out_missing_flag", ["--out="], ["--out is required"]),
    ("out_suffix", ["--out={tmp}/toy.csv"], ["toy.csv", ".h5"]),
    ("n_background_negative", ["--n_background=-1"], ["--n_background=-1", "non-negative integer"]),
    ("n_signal_negative", ["--n_signal=-5"], ["--n_signal=-5", "non-negative integer"]),
    ("no_events", ["--n_background=0", "--n_signal=0"], ["no events"]),
    ("seed_negative", ["--seed=-1"], ["--seed=-1", "range [0, 4294967295]"]),
    ("background_unknown", ["--background=sherpa"], ["sherpa"]),
    ("signal_masses_text", ["--signal_masses=a,b,c"], ["--signal_masses=a,b,c"]),
    ("signal_masses_two", ["--signal_masses=3.5,0.5"], ["--signal_masses=3.5,0.5"]),
    ("signal_masses_gev", ["--signal_masses=3500,500,100"], ["not GeV"]),
    ("signal_masses_swapped", ["--signal_masses=3.5,0.1,0.5"], ["swap them"]),
    ("signal_masses_negative", ["--signal_masses=3.5,-0.5,0.1"], ["positive"]),
    ("unknown_flag", ["--n_events=5"], ["n_events"]),
    ("positional_argument", ["stray"], ["unexpected arguments ['stray']"]),
) + cases(("make_dataset",), ("out_is_dir", [], ["is a directory"]), out="foreign") + cases(
    ("make_dataset",), ("out_below_file", [], ["is a file"]), out="below_file") + cases(
    ("make_dataset",), ("out_exists", [], ["--out=", "the file exists", "--overwrite"]), out="file") + cases(
    ("make_dataset",), ("out_name_too_long", [f"--out={{tmp}}/{LONG_NAME}.h5"], ["is 303 bytes long"]))

DOWNLOAD_CASES = cases(
    ("download",),
    ("name_missing", ["--name="], ["--name is required"]),
    ("name_unknown", ["--name=events.h5"], ["unknown file 'events.h5'"]),
    ("md5_malformed", ["--md5=xyz"], ["--md5=xyz", "32 hexadecimal"]),
    ("offline", [], ["cannot reach"]),
    ("positional_argument", ["stray"], ["unexpected arguments ['stray']"]),
) + cases(("download",), ("dir_is_file", [], ["--dir=", "is a file"]), out="file") + cases(
    ("download",), ("dir_below_file", [], ["--dir=", "is a file"]), out="below_file") + cases(
    ("download",), ("dir_unwritable", [], ["--dir=", "cannot"]), out="unwritable")


def _method_config(script):
    from resad_tf import methods

    return methods.get(script).Config


def _outside(rng):
    """A value just outside a declared range."""
    if rng.gt is not None:
        return rng.gt
    if rng.ge is not None:
        return rng.ge - 1 if isinstance(rng.ge, int) else rng.ge - 0.5
    if rng.lt is not None:
        return rng.lt
    return rng.le + 1 if isinstance(rng.le, int) else rng.le + 0.5


def config_cases():
    """Per method script: one value outside each declared range, a bad choice, a malformed list."""
    from resad_tf.validation import declared

    out = []
    for script in METHODS:
        for field in dataclasses.fields(_method_config(script)):
            rule = declared(field)
            if rule.range is not None:
                value = _outside(rule.range)
                out.append(Case(f"{field.name}_out_of_range", (f"--{field.name}={value}",),
                                (f"--{field.name}={value}", str(rule.range)), (script,)))
            if rule.choices:
                out.append(Case(f"{field.name}_unknown_choice", (f"--{field.name}=bogus",),
                                (f"--{field.name}='bogus'", repr(rule.choices[0])), (script,)))
            if field.type.startswith("tuple[int"):
                out.append(Case(f"{field.name}_not_integers", (f"--{field.name}=a,b",),
                                (f"--{field.name}=a,b",), (script,)))
                if rule.range is not None:
                    out.append(Case(f"{field.name}_empty", (f"--{field.name}=",),
                                    (f"--{field.name} is empty",), (script,)))
    return out


# hand-written: the ranges the issue names must be declared (config_cases() covers every declared one)
MUST_DECLARE = {
    "epochs": 0, "batch_size": 0, "learning_rate": 0.0, "val_fraction": 1.0, "flow_epochs": 0,
    "flow_batch_size": 0, "flow_learning_rate": 0.0, "flow_val_fraction": 0.0, "n_blocks": 0, "k_folds": 2,
    "n_checkpoints": 0, "n_runs": 0, "n_best_epochs": 0, "oversampling": 0, "latent_dim": 0, "patience": -1,
    "closure_fraction": 1.0, "max_weight": 0.0, "w_init": 1.0, "signal_fraction": 1.0, "beta": -1.0,
    "n_samples": 0, "npix": 0, "max_events": 0, "n_estimators": 0, "max_iter": 0, "dctr_iterations": 0,
}
MUST_DECLARE_CASES = [
    Case(f"{name}_{value}", (f"--{name}={value}",), (f"--{name}={value}",), (script,))
    for script in METHODS for name, value in MUST_DECLARE.items()
    if name in {f.name for f in dataclasses.fields(_method_config(script))}
]

# hand-written: counts of epochs and iterations are bounded above too (an absurd value would start a training
# that never ends); the largest int64 + 1, as a typo or a script's overflow gives
MUST_BOUND = ("epochs", "flow_epochs", "dctr_epochs", "signal_epochs", "max_iter", "n_estimators",
              "dctr_iterations")
MUST_BOUND_CASES = [
    Case(f"{name}_absurd", (f"--{name}={2**63}",), (f"--{name}={2**63}", "100000"), (script,))
    for script in METHODS for name in MUST_BOUND
    if name in {f.name for f in dataclasses.fields(_method_config(script))}
]

SCAN_CASES = cases(
    ("scan",),
    ("missing_h5", ["--data={dir}/nope.h5"], ["--data=", "nope.h5: file or directory not found"]),
    ("text_as_h5", ["--data={text_h5}"], ["text.h5", "cannot be read as a pandas HDF5"]),
    ("nan_feature", ["--data={nan_feature_h5}"], ["nan_feature.h5", "column 'tau2j1'", "NaN/inf"]),
    ("negative_mass", ["--data={negative_mass_h5}"], ["negative_mass.h5", "column 'mj2'"]),
    ("string_label", ["--data={string_label_h5}"], ["string_label.h5", "column 'label'", "text"]),
    ("file_too_small", ["--data={good_h5}", "--n_sig=100"], ["too few for 5 folds"]),
    ("file_short_of_signal", ["--data={good_h5}"], ["--n_sig=1000", "holds only 300 signal events"]),
    ("toy_too_small", ["--toy_n_background=3000", "--n_sig=0"], ["too few for 5 folds"]),
    ("window_width_negative", ["--window_width=-1"], ["--window_width=-1.0", "> 0"]),
    ("step_zero", ["--step=0"], ["--step=0.0", "> 0"]),
    ("efficiencies_text", ["--efficiencies=1,abc"], ["--efficiencies=1,abc", "list of float"]),
    ("efficiencies_above_one", ["--efficiencies=1,2"], ["--efficiencies=1.0,2.0", "in (0, 1]"]),
    ("scan_range_narrower_than_a_window", ["--scan_range=3.0,3.2"], ["narrower than one window"]),
    ("scan_range_outside_fit_range", ["--scan_range=2.7,7"], ["must lie strictly inside --fit_range"]),
    ("scan_range_one_value", ["--scan_range=3.5"], ["--scan_range needs lo,hi"]),
    ("fit_range_reversed", ["--fit_range=6,2.8"], ["--fit_range needs lo,hi", "lo < hi"]),
    ("fit_gap_outside_fit_range", ["--fit_range=3.3,3.5", "--scan_range=3.35,3.45", "--window_width=0.1"],
     ["less than 3 bins of 0.1 TeV to fit beyond its fit gap (0.1 TeV)", "widen the fit range"]),
    ("method_unknown", ["--method=nope"], ["unknown method 'nope'"]),
    ("method_needs_a_reference", ["--method=iad"], ["--method=iad needs ['reference'] besides the data"]),
    ("method_option_out_of_range", ["--method=cwola", "--sideband_gap=-1"], ["--sideband_gap=-1"]),
    ("n_params_six", ["--n_params=6"], ["--n_params='6'", "choose one of"]),
    ("ftest_alpha_one", ["--ftest_alpha=1"], ["--ftest_alpha=1.0", "in (0, 1)"]),
    ("significance_unknown", ["--significance=root"], ["--significance='root'"]),
    ("fit_margin_negative", ["--fit_margin=-0.5"], ["--fit_margin=-0.5", "> 0"]),
    ("seed_negative", ["--seeds=-1"], ["--seeds=-1", ">= 0"]),
    ("n_sig_below_minus_one", ["--n_sig=-2"], ["--n_sig=-2", ">= -1"]),
    ("signal_masses_two", ["--toy_signal_masses=3.5,0.5"], ["--toy_signal_masses=3.5,0.5", "three masses"]),
    ("signal_masses_gev", ["--toy_signal_masses=3500,500,100"], ["not GeV"]),
    ("folds_one", ["--k=1"], ["--k=1", ">= 2"]),
    ("toys_negative", ["--n_toys=-1"], ["--n_toys=-1", ">= 0"]),
    ("cluster_unknown", ["--cluster=moon"], ["--cluster='moon'"]),
    ("output_dir_missing", ["--output_dir="], ["--output_dir is required"]),
    ("positional_argument", ["stray"], ["unexpected arguments ['stray']"]),
) + cases(("scan",), ("output_is_file", [], ["is a file"]), out="file") + cases(
    ("scan",), ("output_below_file", [], ["is a file"]), out="below_file") + cases(
    ("scan",), ("output_foreign_dir", [], ["not a scan's"]), out="foreign") + cases(
    ("scan",), ("output_unwritable", [], ["cannot"]), out="unwritable") + cases(
    ("scan",),
    ("huge_momentum", ["--data={huge_momentum_h5}"], ["huge_momentum.h5", "column 'pzj1'"]),
    ("duplicated_events", ["--data={duplicated_h5}", "--n_sig=-1"], ["duplicated.h5", "only 3 of its 21000 events"]),
    ("toy_beyond_memory", ["--toy_n_background=99999999999999999999999"], ["GB are available"]),
)

TABLE = (FILE_CASES + REGION_CASES + FLAG_CASES + MEMORY_CASES + OUTPUT_CASES + RAW_CASES + PREPARE_CASES
         + MAKE_DATASET_CASES + DOWNLOAD_CASES + MUST_DECLARE_CASES + MUST_BOUND_CASES + SCAN_CASES)


def _params():
    try:
        generated = config_cases()
    except ImportError:  # before resad_tf.validation existed: the hand-written cases only
        generated = []
    return [pytest.param(script, case, id=f"{script}-{case.name}")
            for case in TABLE + generated for script in case.scripts]


# ----------------------------------------------------------------------------- the files
def _write_h5(path, frame, key="df"):
    frame.to_hdf(path, key=key, mode="w", format="fixed")
    return path


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """Every malformed file of the tables, made once from a small toy (3300 events, GeV)."""
    d = tmp_path_factory.mktemp("bad_input")
    good = toy.generate(3000, 300, seed=1, quiet=True)
    f = {"dir": str(d)}

    def h5(name, frame, key="df"):
        f[f"{name}_h5"] = str(_write_h5(d / f"{name}.h5", frame, key))

    def variant(name, column, rows, value, dtype=None):
        frame = good.copy()
        if dtype is not None:
            frame[column] = frame[column].astype(dtype)
        frame.loc[frame.index[rows], column] = value
        h5(name, frame)

    h5("good", good)
    (d / "good.csv").write_text(good.to_csv())
    f["good_csv"] = str(d / "good.csv")
    (d / "empty_bytes.h5").write_bytes(b"")
    f["empty_bytes_h5"] = str(d / "empty_bytes.h5")
    (d / "text.h5").write_text("pxj1,pyj1\n1,2\n")
    f["text_h5"] = str(d / "text.h5")
    h5("wrong_key", good, key="events")
    h5("series", good["mj1"])
    h5("missing_column", good.drop(columns=["mj2"]))
    h5("renamed_column", good.rename(columns={"mj1": "m_j1"}))
    h5("extra_column", good.assign(weight=1.0))
    h5("no_events", good.iloc[:0])
    variant("nan_feature", "tau2j1", [3, 50, 99], np.nan)
    variant("inf_momentum", "pzj2", [7, 8], np.inf)
    variant("nan_label", "label", [11], np.nan)
    h5("string_feature", good.assign(tau1j2=np.where(np.arange(len(good)) % 2, "abc", "0.5")))
    h5("string_label", good.assign(label=np.where(good.label == 1, "signal", "background")))
    h5("numeric_strings", good.assign(mj1=good.mj1.map(lambda v: f"{v:.3f}")))
    variant("negative_mass", "mj2", list(range(0, 70, 10)), -50.0)
    variant("negative_tau", "tau3j1", [4, 5], -0.1)
    variant("label_2", "label", [1, 2, 3, 4, 5], 2.0)
    h5("tiny", toy.generate(36, 4, seed=2, quiet=True))
    h5("background_only", good[good.label == 0])
    h5("unlabelled", good.drop(columns=["label"]))
    (d / "empty_dir").mkdir()
    f["empty_dir"] = str(d / "empty_dir")
    import h5py

    with h5py.File(d / "h5py_df.h5", "w") as hf:  # a plain dataset under the pandas key
        hf.create_dataset("df", data=good.to_numpy())
    f["h5py_df_h5"] = str(d / "h5py_df.h5")
    variant("huge_momentum", "pzj1", [4, 5, 6], 1e200)
    h5("duplicated", pd.concat([good.iloc[[0, 1, 2]]] * 7000, ignore_index=True))  # 21,000 rows, 3 events
    sr = (features.dijet_mass(good) >= 3.3) & (features.dijet_mass(good) < 3.7)
    h5("no_sr_background", good[~(sr & (good.label == 0).to_numpy())])

    ev = features.from_v2(good)
    arr = np.column_stack([ev.mjj, ev.x, ev.label]).astype(np.float64)

    def npy(name, array, **kwargs):
        np.save(d / f"{name}.npy", array, **kwargs)
        f[f"{name}_npy"] = str(d / f"{name}.npy")

    def npy_variant(name, column, rows, value):
        a = arr.copy()
        a[rows, column] = value
        npy(name, a)

    npy("good", arr)
    (d / "corrupt.npy").write_bytes(b"\x93NUMPY garbage")
    f["corrupt_npy"] = str(d / "corrupt.npy")
    npy("pickled", np.array([{"mjj": 3.5}] * 3, dtype=object), allow_pickle=True)
    npy("five_columns", arr[:50, :5])
    npy("one_dim", arr[:10].ravel())
    npy("empty", arr[:0])
    npy("string", np.full((20, 6), "abc"))
    npy("numeric_string", arr[:100].astype(str))
    npy_variant("nan", 3, [1, 2, 3, 4], np.nan)
    npy_variant("negative_mjj", 0, [5, 6, 7], -3.5)
    npy_variant("negative_mass", 1, list(range(6)), -0.2)
    npy_variant("label_3", 5, [8, 9], 3.0)
    gev = arr.copy()
    gev[:, 1:3] *= 1000  # jet masses in GeV next to an m_jj in TeV
    npy("masses_gev", gev)
    (d / "inner_only").mkdir()  # all events in innerdata_train.npy, most of them outside the SR; no outerdata
    np.save(d / "inner_only" / "innerdata_train.npy", arr)
    f["inner_only_dir"] = str(d / "inner_only")

    # the raw constituents layout (pT in GeV, 3 x 700 columns + label)
    particles, labels = generate_raw(80, 40, seed=3)

    def raw_file(name, values=None, frame=None, key="df"):
        path = d / f"{name}.h5"
        if frame is None:
            frame = pd.DataFrame(values, columns=np.arange(values.shape[1]))
        frame.to_hdf(path, key=key, mode="w", format="fixed")
        f[name] = str(path)

    raw.write_raw(d / "raw.h5", particles, labels)
    f["raw"] = str(d / "raw.h5")
    values = pd.read_hdf(d / "raw.h5", "df").to_numpy()

    def raw_variant(name, rows, column, value):
        v = values.copy()
        v[rows, column] = value
        raw_file(name, v)

    raw_file("raw_wrong_key", values, key="particles")
    raw_file("raw_eight_columns", values[:, :8])
    raw_file("raw_no_events", values[:0])
    raw_variant("raw_nan", [2, 3], 4, np.nan)
    raw_variant("raw_negative_pt", [1, 2, 3], 3, -10.0)
    raw_variant("raw_label_2", [0, 1, 2, 3], -1, 2.0)
    raw_file("raw_strings", frame=pd.DataFrame(values[:5].astype(str), columns=np.arange(values.shape[1])))
    return f


# ----------------------------------------------------------------------------- running a script
class ReachedTraining(Exception):
    """Raised instead of training: bad input must be refused before."""


def _refuse_training(self, *args, **kwargs):
    raise ReachedTraining(f"{type(self).__name__}._fit was called: the bad input reached training")


@pytest.fixture
def no_training_no_network(monkeypatch):
    import importlib

    from resad_tf.methods.base import Method

    for module in ("anode", "autoencoder", "cathode", "cwola", "iad", "ranode", "salad", "sparse_ae"):
        importlib.import_module(f"resad_tf.methods.{module}")
    todo = [Method]
    while todo:  # Method.fit checks the regions (Regions.check_needs), then calls the subclass's _fit
        cls = todo.pop()
        todo += cls.__subclasses__()
        if "_fit" in vars(cls):
            monkeypatch.setattr(cls, "_fit", _refuse_training)

    from resad_tf.scan import scan

    monkeypatch.setattr(scan._Runner, "windows", _refuse_training)  # the scan trains per window

    def offline(*args, **kwargs):
        raise urllib.error.URLError("the test suite has no network")

    monkeypatch.setattr(urllib.request, "urlopen", offline)


def run_script(script, argv, monkeypatch) -> tuple[object, str]:
    """Run bin/<script> with ``argv`` in this process; (exit status or exception, its stderr is captured)."""
    path = BIN / script
    app.define_help_flags()  # absl defines them on its first run; keep them out of the clean-up
    before = set(FLAGS)
    monkeypatch.setattr(sys, "argv", [str(path), *argv])
    try:
        runpy.run_path(str(path), run_name="__main__")
        return 0
    except SystemExit as exc:
        return 0 if exc.code is None else exc.code
    except Exception as exc:  # noqa: BLE001 - a traceback is what the catalogue reports
        return exc
    finally:
        FLAGS.unparse_flags()
        for name in set(FLAGS) - before:
            delattr(FLAGS, name)


def _snapshot(root: pathlib.Path) -> dict:
    """Everything under ``root``: path -> content hash (None for directories, the target for links)."""
    def state(p):
        if p.is_symlink():
            return f"-> {os.readlink(p)}"
        return None if p.is_dir() else hashlib.md5(p.read_bytes()).hexdigest()

    return {str(p.relative_to(root)): state(p) for p in sorted(root.rglob("*"))}


def prepare_output(state: str, tmp_path: pathlib.Path, name: str) -> str:
    """Put the output in the case's prior state; return the path the script is given."""
    out = tmp_path / name
    if state == "file":
        out.write_text("a user's file, not results\n")
    elif state == "below_file":
        (tmp_path / "a_file").write_text("a user's file\n")
        out = tmp_path / "a_file" / name
    elif state in ("results", "results_with_notes"):
        out.mkdir()
        (out / "metrics.json").write_text('{"auc": 0.9}\n')
        (out / "scores.h5").write_bytes(b"previous scores")
        if state == "results_with_notes":
            (out / "notes.txt").write_text("a user's notes on this run\n")
    elif state == "dangling":
        out.symlink_to(tmp_path / "gone")
    elif state == "foreign":
        out.mkdir()
        (out / "thesis.tex").write_text("\\documentclass{article}\n")
    elif state == "unwritable":
        return UNWRITABLE
    return str(out)


# ----------------------------------------------------------------------------- the tests
@pytest.mark.parametrize("script, case", _params())
def test_bad_input(script, case, files, tmp_path, monkeypatch, capsys, no_training_no_network):
    spec = SCRIPTS[script]
    out = prepare_output(case.out, tmp_path, spec.out_name)
    values = dict(files, tmp=str(tmp_path))
    # a flag given by the case replaces the script's base flag of that name (absl: the last one wins)
    argv = [a.format(**values) for a in (*spec.base, f"{spec.out_flag}={out}", *case.args)]
    before = _snapshot(tmp_path)
    status = run_script(script, argv, monkeypatch)
    err = capsys.readouterr().err
    if isinstance(status, BaseException):
        pytest.fail(f"traceback: {type(status).__name__}: {status}\n{err}")
    assert status == 2, f"exit status {status} (expected 2); stderr:\n{err}"
    lines = [line for line in err.splitlines() if line.strip()]
    assert len(lines) == 1, f"{len(lines)} lines on stderr (expected 1):\n{err}"
    assert lines[0].startswith(f"{script}: error: "), lines[0]
    assert _snapshot(tmp_path) == before, "the run changed its output or left files behind"
    missing = [frag for frag in case.expect if frag.format(**values) not in lines[0]]
    assert not missing, f"message lacks {missing}: {lines[0]}"


def test_every_script_is_in_the_catalogue():
    scripts = {p.name for p in BIN.iterdir() if p.is_file() and p.stat().st_mode & 0o111}
    assert scripts == set(SCRIPTS) | NOT_YET
    covered = {script for case in TABLE for script in case.scripts}
    assert covered == set(SCRIPTS)


def test_training_fault_is_not_bad_input(files, tmp_path, monkeypatch, capsys):
    """A loss that turns NaN (here: an absurd learning rate) is TrainingDiverged: one line, exit status 1."""
    out = tmp_path / "out"
    status = run_script("iad", [f"--data={files['good_h5']}", "--n_sig=200", "--classifier=mlp", "--hidden=8",
                                "--epochs=1", "--learning_rate=1e30", f"--output_dir={out}", "--quiet"],
                        monkeypatch)
    lines = [line for line in capsys.readouterr().err.splitlines() if line.strip()]
    assert status == 1, (status, lines)
    assert lines == ["iad: error: MLP classifier training diverged: the validation loss was NaN/inf in every epoch "
                     "of run 0 (learning_rate=1e+30); try a smaller learning_rate and check that the features are "
                     "finite and standardized"]
    assert list(tmp_path.iterdir()) == []


def test_every_numeric_option_declares_its_range():
    """A new Config option cannot skip validation: every int/float/tuple-of-int field has a range."""
    from resad_tf.validation import declared

    missing = sorted({f"{_method_config(s).__name__}.{f.name}" for s in METHODS
                      for f in dataclasses.fields(_method_config(s))
                      if f.type in ("int", "float", "tuple[int, ...]") and declared(f).range is None})
    assert missing == []


# ----------------------------------------------------------------------------- outputs beyond the table
def _clean_env(repo_root) -> dict:
    """A user's environment (not the Makefile's): the scripts must be quiet on their own."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("TF_", "PYTHONWARNINGS"))}
    return dict(env, PYTHONPATH=str(repo_root))


def test_ctrl_c_during_training_is_one_line_and_exit_130(repo_root, tmp_path):
    """SIGINT while the MLP trains: one line, exit status 130, nothing written (not a 78-line traceback)."""
    import signal
    import subprocess

    out = tmp_path / "results" / "out"
    p = subprocess.Popen([sys.executable, str(BIN / "iad"), "--toy_n_background=5000", "--n_sig=300",
                          "--toy_reference_factor=0", "--classifier=mlp", "--epochs=100000", "--hidden=8",
                          f"--output_dir={out}"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                         cwd=repo_root, env=_clean_env(repo_root))
    try:
        for line in p.stdout:  # Keras prints "Epoch k/N" on stdout: wait until training is under way
            if line.startswith("Epoch 2/"):
                break
        p.send_signal(signal.SIGINT)
        _, err = p.communicate(timeout=120)
    finally:
        p.kill()
    assert p.returncode == 130, err[-3000:]
    assert "Traceback" not in err and "KeyboardInterrupt" not in err, err[-3000:]
    lines = [ln for ln in err.splitlines() if ln.strip() and not ln.startswith(("toy events:", "MLP runs:"))]
    assert lines == ["iad: error: interrupted (Ctrl-C); nothing half-written was left: outputs are only moved into "
                     "place when complete"], err[-3000:]
    assert not (tmp_path / "results").exists() or list((tmp_path / "results").iterdir()) == []


def test_ctrl_c_during_a_dask_scan_is_one_line(repo_root, tmp_path):
    """A terminal's Ctrl-C reaches the local Dask workers too: still one line (no worker tracebacks), exit 130."""
    import signal
    import subprocess
    import time

    out = tmp_path / "scan"
    p = subprocess.Popen([sys.executable, str(BIN / "scan"), f"--output_dir={out}", "--toy_n_background=60000",
                          "--n_sig=100", "--k=3", "--max_iter=100", "--n_toys=0", "--cluster=local", "--n_workers=2",
                          "--quiet"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=repo_root,
                         env=_clean_env(repo_root), start_new_session=True)
    try:
        deadline = time.time() + 240
        while not list(out.glob("tasks/*.json")) and p.poll() is None and time.time() < deadline:
            time.sleep(0.5)  # until the first window is done: the workers are busy with the next ones
        assert p.poll() is None, p.communicate()[1][-3000:]
        os.killpg(p.pid, signal.SIGINT)  # as the terminal does: to the whole process group
        _, err = p.communicate(timeout=120)
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGKILL)
    assert p.returncode == 130, err[-3000:]
    assert err.splitlines() == ["scan: error: interrupted (Ctrl-C); nothing half-written was left: outputs are only "
                                "moved into place when complete"], err[-3000:]
    assert (out / "scan_config.json").is_file()  # the finished windows stay, to resume


def _tiny_iad(out, *extra):
    return ("--data={good_h5}", "--n_sig=200", "--classifier=hgb", "--n_estimators=1", "--max_iter=5", "--quiet",
            f"--output_dir={out}", *extra)


def test_output_dir_symlink_is_written_through(files, tmp_path, monkeypatch, capsys):
    """A link as --output_dir stays a link: its target receives the results, nothing is left beside them."""
    target = tmp_path / "store" / "results"
    target.mkdir(parents=True)
    link = tmp_path / "link"
    link.symlink_to(target)
    for extra in ((), ("--overwrite",)):  # an empty target, then a previous run's results
        argv = [a.format(**files) for a in _tiny_iad(link, *extra)]
        status = run_script("iad", argv, monkeypatch)
        assert status == 0, capsys.readouterr().err
        assert link.is_symlink() and os.readlink(link) == str(target)
        assert (target / "metrics.json").is_file() and (target / "model").is_dir()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["link", "store"]  # no .link.old-PID
        assert [p.name for p in (tmp_path / "store").iterdir()] == ["results"]  # no temporary sibling


def test_results_follow_the_umask(files, tmp_path, monkeypatch, capsys):
    """Results are as readable as the user's other files (mkdtemp/mkstemp alone would make them private)."""
    old = os.umask(0o002)
    try:
        status = run_script("iad", [a.format(**files) for a in _tiny_iad(tmp_path / "out")], monkeypatch)
    finally:
        os.umask(old)
    assert status == 0, capsys.readouterr().err
    assert (tmp_path / "out").stat().st_mode & 0o777 == 0o775
    assert (tmp_path / "out" / "metrics.json").stat().st_mode & 0o777 == 0o664
