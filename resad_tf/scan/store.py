"""The scan's output directory: one JSON file per finished or failed task, written atomically.

``DIR/tasks/<id>.json`` marks a finished task (a rerun skips it);
``DIR/tasks/<id>.failed.json`` holds the traceback of a failed one (a rerun retries it).
"""

from __future__ import annotations

import json
import pathlib

from resad_tf.errors import InputError
from resad_tf.outputs import to_json
from resad_tf.outputs import write_json_atomic as write_json


class TaskStore:
    def __init__(self, out_dir):
        self.dir = pathlib.Path(out_dir)
        self.tasks = self.dir / "tasks"

    def done_path(self, task_id: str) -> pathlib.Path:
        return self.tasks / f"{task_id}.json"

    def failed_path(self, task_id: str) -> pathlib.Path:
        return self.tasks / f"{task_id}.failed.json"

    def is_done(self, task_id: str) -> bool:
        return self.done_path(task_id).exists()

    def write_done(self, task_id: str, record: dict) -> None:
        write_json(self.done_path(task_id), record)
        self.failed_path(task_id).unlink(missing_ok=True)

    def write_failed(self, task_id: str, error: str) -> None:
        write_json(self.failed_path(task_id), {"id": task_id, "traceback": error})

    def read_done(self, task_id: str) -> dict:
        return json.loads(self.done_path(task_id).read_text())

    def check_settings(self, settings: dict) -> None:
        """Record the scan settings; refuse to resume into a directory made with different ones.

        A setting missing from the recorded ones counts as None (a setting added later with that default).
        """
        path = self.dir / "scan_config.json"
        settings = json.loads(to_json(settings))  # as it reads back: tuples become lists
        if path.exists():
            old = json.loads(path.read_text())
            diff = sorted(k for k in set(old) | set(settings) if old.get(k) != settings.get(k))
            if diff:
                raise InputError(
                    f"{self.dir} holds a scan made with different settings ({', '.join(diff)}); "
                    "use a new --output_dir or the same settings to resume"
                )
        else:
            write_json(path, settings)
