"""`python tests/helpers/stall_add.py POINT MARKER INDEX FILE...`: run `python -m qa add`
over INDEX, but stop dead at POINT, touch MARKER and wait to be killed (kill -9 by
tests/test_faults.py). Nothing else is changed: the real CLI, model and store run.

POINT is where the write stands when it stops:
- `generation`: the new data-NNNNNN/ is half written (its first files saved, not the rest);
- `manifest`: the new generation is complete and fsynced, the new manifest is written
  aside and fsynced, but not yet renamed over manifest.json.
"""

import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

point, marker, index, *files = sys.argv[1:]


def stall():
    Path(marker).touch()
    while True:  # until SIGKILL
        time.sleep(60)


if point == "generation":
    import numpy
    _save = numpy.save

    def save(path, *args, **kwargs):
        _save(path, *args, **kwargs)
        stall()

    numpy.save = save
elif point == "manifest":
    _replace = os.replace

    def replace(src, dst, *args, **kwargs):
        if Path(dst).name == "manifest.json":
            stall()
        return _replace(src, dst, *args, **kwargs)

    os.replace = replace
else:
    sys.exit(f"unknown point {point!r}")

from qa.cli import main  # noqa: E402

sys.exit(main(["add", "--index", index, *files]))
