"""pyspark installed beside Great Expectations must not end other processes.

Great Expectations imports ``pyspark.sql.connect`` whenever pyspark is importable; pyspark
4 takes a ``python -c`` process (whose ``__main__`` has neither a spec nor a file) for a
doctest run and, if Spark Connect's packages are missing, prints "Skipping doctests" and
exits with code 0. Every ``python -c`` that loads the definitions would then stop
silently, reporting success. The ``spark`` extra installs ``pyspark[connect]`` for this.
"""

import subprocess
import sys


def test_a_python_c_process_importing_great_expectations_runs_to_its_end():
    done = subprocess.run(
        [sys.executable, "-c", "import great_expectations, pyspark.sql.connect.utils\n"
         "print('reached the end')"],
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    assert done.stdout.strip() == "reached the end", done.stderr[-2000:]
