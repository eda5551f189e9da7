"""Print resad_tf's pip requirements from setup.cfg: install_requires plus the named extras.

The image installs these before it copies the package, so that the slow
dependency layer is rebuilt only when setup.cfg changes::

    python docker/requirements.py setup.cfg test hpc hpsearch > /tmp/requirements.txt
"""

import configparser
import sys


def requirements(setup_cfg: str, extras=()) -> list[str]:
    cfg = configparser.ConfigParser(interpolation=None)
    if not cfg.read(setup_cfg):
        sys.exit(f"{setup_cfg}: not found")
    lines = cfg["options"]["install_requires"].splitlines()
    for extra in extras:
        lines += cfg["options.extras_require"][extra].splitlines()
    return [line.strip() for line in lines if line.strip()]


if __name__ == "__main__":
    print("\n".join(requirements(sys.argv[1], sys.argv[2:])))
