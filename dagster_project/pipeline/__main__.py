import sys

from dagster_project.pipeline.cli import main

sys.exit(main())
