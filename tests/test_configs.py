"""Every flagfile in configs/ parses with its script and sets what it says."""

import os
import pathlib
import subprocess
import sys

import pytest

REPO = pathlib.Path(__file__).resolve().parents[1]
FLAGFILES = sorted(p.stem for p in (REPO / "configs").glob("*.flags") if (REPO / "bin" / p.stem).exists())


def test_every_method_has_a_flagfile():
    assert set(FLAGFILES) >= {"anode", "cathode", "lacathode", "ranode", "salad", "cwola", "iad", "supervised"}


@pytest.mark.parametrize("method", FLAGFILES)
def test_flagfile_parses(method, tmp_path):
    """A bad --data after the flagfile fails on the data (exit 2), so every flag in the file was accepted."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, str(REPO / "bin" / method), f"--flagfile={REPO / 'configs' / f'{method}.flags'}",
                        f"--data={tmp_path / 'missing.h5'}", f"--output_dir={tmp_path / 'out'}"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "--data=" in r.stderr and "not found" in r.stderr, r.stderr


def test_trees_flagfile_combines(tmp_path):
    r = subprocess.run([sys.executable, str(REPO / "bin" / "iad"), f"--flagfile={REPO / 'configs' / 'iad.flags'}",
                        f"--flagfile={REPO / 'configs' / 'trees.flags'}", f"--data={tmp_path / 'missing.h5'}"],
                       capture_output=True, text=True, timeout=120)
    assert r.returncode == 2 and "not found" in r.stderr, r.stderr


PROFILES = sorted(p.stem for p in (REPO / "configs").glob("*_cpu.flags"))


def test_cpu_profiles_exist():
    assert {"cathode_cpu", "lacathode_cpu", "ranode_cpu"} <= set(PROFILES)


@pytest.mark.parametrize("profile", PROFILES)
def test_cpu_profile_parses(profile, tmp_path):
    """configs/<method>_cpu.flags is accepted by bin/<method> (it fails on the missing data, exit 2)."""
    method = profile.removesuffix("_cpu")
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="3")
    r = subprocess.run([sys.executable, str(REPO / "bin" / method), f"--flagfile={REPO / 'configs' / f'{profile}.flags'}",
                        f"--data={tmp_path / 'missing.h5'}", f"--output_dir={tmp_path / 'out'}"],
                       capture_output=True, text=True, env=env, timeout=120)
    assert r.returncode == 2 and "--data=" in r.stderr and "not found" in r.stderr, r.stderr
