"""The Docker image's recipe and entrypoint, checked without a Docker engine.

The Dockerfile must agree with setup.cfg and the locks (pins, Python) and with
.dockerignore; the entrypoint runs here on the repository's bin/ (RESAD_BIN,
RESAD_OUT point it away from the container paths); hadolint and shellcheck
lint both files when they are installed.
"""

import fnmatch
import json
import os
import pathlib
import re
import shutil
import subprocess
import sys
import warnings

import pytest
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).resolve().parents[1]
DOCKER = REPO / "docker"
DOCKERFILE = DOCKER / "Dockerfile"
ENTRYPOINT = DOCKER / "entrypoint.sh"
VENV_BIN = os.path.dirname(sys.executable)


# ----------------------------------------------------------------------------- helpers
def _instructions():
    """(KEYWORD, arguments) of every Dockerfile instruction, continuation lines joined."""
    out, buf = [], ""
    for line in DOCKERFILE.read_text().splitlines():
        if line.lstrip().startswith("#"):
            continue
        if line.endswith("\\"):
            buf += line[:-1] + " "
            continue
        buf = (buf + line).strip()
        if buf:
            keyword, _, rest = buf.partition(" ")
            out.append((keyword.upper(), rest.strip()))
        buf = ""
    return out


def _args():
    args = {}
    for keyword, rest in _instructions():
        if keyword == "ARG" and "=" in rest:
            name, value = rest.split("=", 1)
            args.setdefault(name, value)
    return args


def _expand(text, args):
    while "${" in text:
        text = re.sub(r"\$\{(\w+)\}", lambda m: args[m.group(1)], text)
    return text


def _stages():
    """Stage name -> its base image, with the build ARGs at their defaults."""
    args = _args()
    stages = {}
    for keyword, rest in _instructions():
        if keyword == "FROM":
            image, _, name = _expand(rest, args).partition(" AS ")
            stages[name.strip()] = image.strip()
    return stages


def _test_lock():
    import importlib.util

    spec = importlib.util.spec_from_file_location("_test_lock", REPO / "tests" / "test_lock.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _setup_cfg():
    from setuptools.config.setupcfg import read_configuration

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return read_configuration(str(REPO / "setup.cfg"))


def _entrypoint(*args, out=None, bin_dir=None):
    env = dict(os.environ, PATH=f"{VENV_BIN}{os.pathsep}{os.environ['PATH']}",
               TF_CPP_MIN_LOG_LEVEL="3", PYTHONWARNINGS="ignore")
    env.pop("RESAD_BIN", None)
    if bin_dir is not None:
        env["RESAD_BIN"] = str(bin_dir)
    env["RESAD_OUT"] = str(out) if out is not None else "/nonexistent/out"
    return subprocess.run(["bash", str(ENTRYPOINT), *args], capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=120)


def _listed_scripts(usage):
    block = usage.split("scripts:\n", 1)[1].split("\n\n", 1)[0]
    return [line.strip() for line in block.splitlines()]


def _tool(name):
    path = shutil.which(name) or shutil.which(name, path=VENV_BIN)
    if path is None:
        pytest.skip(f"{name} not installed (pip install {name}-{'bin' if name == 'hadolint' else 'py'})")
    return path


# ----------------------------------------------------------------------------- the recipe
def test_tensorflow_and_python_match_setup_cfg():
    cfg = _setup_cfg()
    pins = {Requirement(r).name: Requirement(r) for r in cfg["options"]["install_requires"]}
    tf_pin = str(pins["tensorflow"].specifier)
    assert tf_pin.startswith("=="), "setup.cfg must pin tensorflow exactly"
    tf_version = tf_pin[2:]
    args, stages = _args(), _stages()
    assert args["TF_VERSION"] == tf_version
    assert stages["gpu"] == f"tensorflow/tensorflow:{tf_version}-gpu"
    read_lock = _test_lock().read_lock
    for lock in ("lock.txt", "lock-gpu.txt"):  # the images install these; TF_VERSION must agree
        assert read_lock(REPO / "requirements" / lock)["tensorflow"] == tf_version, lock
    python = args["PYTHON_VERSION"]
    assert stages["cpu"] == f"python:{python}-slim-bookworm"
    # plain parsing: packaging's SpecifierSet breaks when setuptools' vendored copy is loaded alongside
    minimum = str(cfg["options"]["python_requires"]).strip()
    assert minimum.startswith(">="), minimum
    assert tuple(map(int, python.split("."))) >= tuple(map(int, minimum[2:].split(".")))
    assert f"Programming Language :: Python :: {python}" in cfg["metadata"]["classifiers"]
    for name, image in stages.items():  # every external base carries an explicit, non-latest tag
        if image not in stages:
            assert re.search(r":[\w.\-]+$", image) and not image.endswith(":latest"), (name, image)
    assert stages["image"] == args["VARIANT"] == "gpu"


def test_each_variant_installs_its_lock_with_hashes():
    """The dependency layer is the lock (hash-checked): the CPU base names lock.txt, the GPU base lock-gpu.txt."""
    stage_env, stage = {}, None
    for keyword, rest in _instructions():
        if keyword == "FROM":
            stage = rest.split(" AS ")[-1].strip()
        elif keyword == "ENV" and rest.startswith("RESAD_LOCK="):
            stage_env[stage] = rest.split("=", 1)[1]
    assert stage_env == {"gpu": "requirements/lock-gpu.txt", "cpu": "requirements/lock.txt"}
    run = next(rest for keyword, rest in _instructions() if keyword == "RUN" and "RESAD_LOCK" in rest)
    assert '--require-hashes -r "${RESAD_LOCK}"' in run
    assert "COPY" in dict(_instructions()) and ["requirements/", "requirements/"] in [
        rest.split() for keyword, rest in _instructions() if keyword == "COPY"]
    install = next(rest for keyword, rest in _instructions() if keyword == "RUN" and "--no-deps" in rest)
    assert "--no-build-isolation" in install  # nothing outside the lock is fetched for the package itself


def test_image_runs_entrypoint_as_non_root_with_data_and_out_volumes():
    instructions = _instructions()
    last = {keyword: rest for keyword, rest in instructions}  # the final value of each keyword
    args = _args()
    assert _expand(last["USER"], args) not in ("root", "0")
    assert json.loads(last["VOLUME"]) == ["/data", "/out"]
    assert "RESAD_OUT=/out" in last["ENV"]
    workdir = last["WORKDIR"]
    entrypoint = json.loads(last["ENTRYPOINT"])
    assert entrypoint[-1] == f"{workdir}/docker/entrypoint.sh"
    copies = [rest.split() for keyword, rest in instructions if keyword == "COPY"]
    assert ["docker/", "docker/"] in copies and ["bin/", "bin/"] in copies  # bin/ sits next to docker/
    assert os.access(ENTRYPOINT, os.X_OK)


def _dockerignored(path, patterns):
    excluded = False
    for pattern in patterns:
        negate = pattern.startswith("!")
        pattern = pattern.lstrip("!").rstrip("/")
        parts = path.split("/")
        if any(fnmatch.fnmatch("/".join(parts[:i]), pattern) for i in range(1, len(parts) + 1)):
            excluded = not negate
    return excluded


def test_dockerignore_admits_every_copy_source_and_nothing_heavy():
    patterns = [line.strip() for line in (REPO / ".dockerignore").read_text().splitlines()
                if line.strip() and not line.startswith("#")]
    sources = [src.rstrip("/") for keyword, rest in _instructions() if keyword == "COPY"
               for src in rest.split()[:-1] if not src.startswith("--")]
    assert "resad_tf" in sources and "setup.cfg" in sources
    for src in sources:
        assert (REPO / src).exists(), src
        assert not _dockerignored(src, patterns), f"{src} is copied but .dockerignore excludes it"
    for heavy in (".venv/bin/python", ".git/HEAD", "runs/demo/metrics.json", "data.h5",
                  "resad_tf/__pycache__/cli.cpython-311.pyc", "bench/results/x.md"):
        assert _dockerignored(heavy, patterns), heavy


# ----------------------------------------------------------------------------- the entrypoint
def test_help_lists_every_script_in_bin():
    files = [p for p in (REPO / "bin").iterdir() if p.is_file() and not p.name.startswith(".")]
    not_executable = [p.name for p in files if not os.access(p, os.X_OK)]
    assert not not_executable, f"chmod +x bin/{not_executable[0]}: the image would not offer it"
    expected = sorted(p.name for p in files)
    assert "salad" in expected and "cathode" in expected
    for args in (["help"], []):
        r = _entrypoint(*args)
        assert r.returncode == 0, r.stderr
        listed = _listed_scripts(r.stdout)
        assert listed == expected
    for name in listed:
        assert os.access(REPO / "bin" / name, os.X_OK), name


def test_help_lists_only_executables_of_resad_bin(tmp_path):
    (tmp_path / "tool").write_text("#!/bin/sh\n")
    (tmp_path / "tool").chmod(0o755)
    (tmp_path / "notes.txt").write_text("not a script\n")
    r = _entrypoint("--help", bin_dir=tmp_path)
    assert r.returncode == 0 and _listed_scripts(r.stdout) == ["tool"]


@pytest.fixture
def fake_bin(tmp_path):
    """Two scripts: an absl program with --output_dir, and one without flags (echoes its args)."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    (bin_dir / "method").write_text(f"""#!{sys.executable}
import json
from absl import app, flags
flags.DEFINE_string("output_dir", None, "where results go")
flags.DEFINE_string("note", None, "free text")
def main(argv):
    print(json.dumps({{"output_dir": flags.FLAGS.output_dir, "note": flags.FLAGS.note}}))
app.run(main)
""")
    (bin_dir / "plain").write_text(f"#!{sys.executable}\nimport json, sys\nprint(json.dumps(sys.argv[1:]))\n")
    for script in bin_dir.iterdir():
        script.chmod(0o755)
    return bin_dir


def test_output_dir_defaults_to_out_and_the_user_value_wins(fake_bin, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    flagfile = tmp_path / "run.flags"
    flagfile.write_text("--output_dir=/from/flagfile\n")

    def method(*args):
        r = _entrypoint("method", *args, out=out, bin_dir=fake_bin)
        assert r.returncode == 0, r.stderr
        return json.loads(r.stdout)

    assert method()["output_dir"] == f"{out}/method"
    assert method("--output_dir=/elsewhere")["output_dir"] == "/elsewhere"
    assert method("--output_dir", "/spaced")["output_dir"] == "/spaced"
    assert method(f"--flagfile={flagfile}")["output_dir"] == "/from/flagfile"
    assert method("--note", "two words; $HOME")["note"] == "two words; $HOME"
    r = _entrypoint("plain", "a", "b c", "--x=1", out=out, bin_dir=fake_bin)  # no --output_dir flag
    assert r.returncode == 0 and json.loads(r.stdout) == ["a", "b c", "--x=1"]


def test_real_scripts_get_the_default_only_when_they_take_it(tmp_path):
    # salad (cli.main) accepts the injected --output_dir: the only complaint is the bad flag
    r = _entrypoint("salad", "--no_such_flag=1", out=tmp_path)
    assert r.returncode == 2
    assert "salad: error: Unknown command line flag 'no_such_flag'" in r.stderr
    assert "output_dir" not in r.stderr
    # scan defines --output_dir itself; download has none and must not be given one
    r = _entrypoint("scan", "--no_such_flag=1", out=tmp_path)
    assert r.returncode == 2 and "Unknown command line flag 'no_such_flag'" in r.stderr
    r = _entrypoint("download", out=tmp_path)
    assert r.returncode == 2 and "--name is required" in r.stderr
    assert "output_dir" not in r.stderr


def test_rerun_into_the_default_directory_needs_overwrite(tmp_path):
    """The entrypoint does not pass --overwrite: a rerun never silently replaces a container's earlier results."""
    previous = tmp_path / "salad"
    previous.mkdir()
    (previous / "metrics.json").write_text('{"auc": 0.9}')
    r = _entrypoint("salad", "--sr=3.3,3.7", out=tmp_path)
    lines = [ln for ln in r.stderr.splitlines() if ln.startswith("salad:")]
    assert r.returncode == 2 and len(lines) == 1, r.stderr
    assert f"--output_dir={previous}: holds the results of a previous run; pass --overwrite" in lines[0]
    assert [p.name for p in tmp_path.iterdir()] == ["salad"] and (previous / "metrics.json").exists()


def test_other_commands_run_as_given():
    r = _entrypoint("bash", "-c", "echo \"$0 $1\"; exit 7", "hello", "there")
    assert r.returncode == 7 and r.stdout == "hello there\n"
    r = _entrypoint("--sr=3.3,3.7")
    assert r.returncode == 2 and "name a script first" in r.stderr
    r = _entrypoint("no_such_command_xyz")
    assert r.returncode == 127 and "neither a script" in r.stderr and "salad" in r.stderr


# ----------------------------------------------------------------------------- linters
def test_hadolint_passes():
    hadolint = _tool("hadolint")
    bad = subprocess.run([hadolint, "--no-color", "-"], input="FROM ubuntu:latest\n",
                         capture_output=True, text=True)
    assert "DL3007" in bad.stdout, "hadolint does not report a :latest base; is it working?"
    r = subprocess.run([hadolint, "--no-color", str(DOCKERFILE)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr


def test_shellcheck_passes():
    shellcheck = _tool("shellcheck")
    r = subprocess.run([shellcheck, str(ENTRYPOINT)], capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr
