"""The locked environment (requirements/): complete, consistent and what this suite runs on.

``make install`` installs requirements/lock.txt with hashes checked; the GPU image installs
requirements/lock-gpu.txt.  These tests fail when setup.cfg asks for something the lock does
not satisfy, when the two locks disagree, or when the running environment is not the lock's.
"""

import importlib.metadata
import pathlib
import re
import sys
import warnings

import pytest
from packaging.markers import Marker
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

REPO = pathlib.Path(__file__).resolve().parents[1]
LOCK, GPU_LOCK = REPO / "requirements" / "lock.txt", REPO / "requirements" / "lock-gpu.txt"
_PIN = re.compile(r"^([A-Za-z0-9_.\-]+)==([^\s;\\]+)\s*(?:;\s*([^\\]+?))?\s*\\?$")


def read_lock(path, environment=None) -> dict[str, str]:
    """{canonical name: version} of the pins whose environment marker holds here (or in ``environment``).

    >>> read_lock(LOCK)["tensorflow"]
    '2.21.0'
    """
    pins, hashed = {}, set()
    name = None
    for line in pathlib.Path(path).read_text().splitlines():
        m = _PIN.match(line)
        if m:
            name = None
            marker = m.group(3)
            if marker is None or Marker(marker).evaluate(environment):
                name = canonicalize_name(m.group(1))
                pins[name] = m.group(2)
        elif name and line.strip().startswith("--hash=sha256:"):
            hashed.add(name)
    missing = sorted(set(pins) - hashed)
    assert not missing, f"{path.name}: pins without hashes: {missing}"
    return pins


def _setup_cfg_requirements() -> list[Requirement]:
    from setuptools.config.setupcfg import read_configuration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cfg = read_configuration(str(REPO / "setup.cfg"))
    reqs = list(cfg["options"]["install_requires"])
    for extra in cfg["options"]["extras_require"].values():
        reqs += extra
    return [Requirement(r) for r in reqs]


def test_lock_satisfies_every_requirement_of_setup_cfg():
    pins = read_lock(LOCK)
    for req in _setup_cfg_requirements():
        name = canonicalize_name(req.name)
        assert name in pins, f"{req} is in setup.cfg but not in the lock: run `make lock`"
        assert Version(pins[name]) in req.specifier, f"lock pins {name}=={pins[name]}, setup.cfg asks {req}"


def test_gpu_lock_is_the_cpu_lock_plus_the_cuda_wheels():
    linux = {"sys_platform": "linux", "platform_system": "Linux", "platform_machine": "x86_64",
             "python_version": "3.11", "python_full_version": "3.11.7"}
    cpu, gpu = read_lock(LOCK, linux), read_lock(GPU_LOCK, linux)
    shared = set(cpu) & set(gpu)
    assert {n: (cpu[n], gpu[n]) for n in shared if cpu[n] != gpu[n]} == {}
    assert set(cpu) <= set(gpu), sorted(set(cpu) - set(gpu))
    extra = set(gpu) - set(cpu)
    assert extra and all(n.startswith("nvidia-") for n in extra), sorted(extra)
    assert "nvidia-cudnn-cu12" in extra


@pytest.mark.skipif(sys.version_info[:2] != (3, 11), reason="the lock's reference interpreter is Python 3.11")
def test_this_environment_is_the_lock():
    """The suite runs on exactly the locked versions (make install), so its numbers are the lock's."""
    wrong = {}
    for name, version in read_lock(LOCK).items():
        try:
            installed = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            wrong[name] = (version, None)
            continue
        if Version(installed) != Version(version):
            wrong[name] = (version, installed)
    assert wrong == {}, f"(locked, installed) differ: {wrong}; reinstall with `make clean install`"
