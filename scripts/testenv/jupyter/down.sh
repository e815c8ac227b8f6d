#!/usr/bin/env bash
# Nothing runs between tests: the venv and the user stay (cached) for the next run.
rm -f "$(dirname "${BASH_SOURCE[0]}")/../../../.testenv/jupyter/env.json"
