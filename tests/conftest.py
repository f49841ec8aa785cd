"""Shared test configuration.

``pytester`` runs throwaway pytest sessions for the plugin's tests. Under CI
(``CI`` set, as ``.ci/run`` runs) Hypothesis is derandomized, so a landing never
depends on the luck of one run; local runs explore new examples every time.
"""

import os

from hypothesis import settings

pytest_plugins = ["pytester"]

settings.register_profile("ci", derandomize=True, print_blob=True)
if os.environ.get("CI"):
    settings.load_profile("ci")
