#!/usr/bin/env bash
# Nothing runs between tests: each test launches its own headless chromium and closes it.
exit 0
