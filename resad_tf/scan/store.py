"""The scan's output directory: one file per finished step, written atomically.

``DIR/tasks/<id>.json`` marks a finished task (a rerun skips it);
``DIR/tasks/<id>.failed.json`` holds the traceback of a failed one (a rerun retries it);
``DIR/background/<data set>/<lo>-<hi>_fold<f>/`` an amortized background model;
``DIR/summary/<data set>.json`` a data set's local and global significance, where ``<data set>`` is
``nsig<N>_seed<S>`` (N signal events injected) or ``data_seed<S>`` (the data's own composition,
:func:`~resad_tf.scan.tasks.dataset_name`).
"""

from __future__ import annotations

import json
import pathlib

from resad_tf.errors import InputError
from resad_tf.outputs import to_json
from resad_tf.outputs import write_json_atomic as write_json
from resad_tf.scan.tasks import dataset_name


class TaskStore:
    def __init__(self, out_dir):
        self.dir = pathlib.Path(out_dir)
        self.tasks = self.dir / "tasks"

    def done_path(self, task_id: str) -> pathlib.Path:
        return self.tasks / f"{task_id}.json"

    def check_directory(self) -> None:
        """Refuse (InputError) an output directory that is a file, lies below one, cannot be created, or is
        a non-empty directory that is not a scan's (a scan's own directory is resumed, never replaced)."""
        from resad_tf.outputs import check_writable_dir

        where = f"--output_dir={self.dir}"
        if self.dir.exists():
            if not self.dir.is_dir():
                raise InputError(f"{where}: is a file, not a directory; choose another --output_dir (the file is "
                                 "left alone)")
            if any(self.dir.iterdir()) and not (self.dir / "scan_config.json").is_file():
                raise InputError(f"{where}: is a non-empty directory but not a scan's (no scan_config.json); it is "
                                 "left alone: choose another --output_dir")
        check_writable_dir(self.dir, flag="--output_dir", where=where)

    def background_path(self, data_key, region, fold: int) -> pathlib.Path:
        return self.dir / "background" / dataset_name(data_key) / f"{region[0]:.3f}-{region[1]:.3f}_fold{fold}"

    def summary_path(self, data_key) -> pathlib.Path:
        return self.dir / "summary" / f"{dataset_name(data_key)}.json"

    def write_summary(self, data_key, summary: dict) -> None:
        write_json(self.summary_path(data_key), summary)

    def read_summary(self, data_key) -> dict:
        return json.loads(self.summary_path(data_key).read_text())

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

    def check_settings(self, settings: dict, record: bool = True) -> None:
        """Refuse to resume into a directory made with different settings; ``record`` them if new.

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
        elif record:
            write_json(path, settings)
