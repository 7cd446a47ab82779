"""Load a module of ``services/`` by file path, without importing the Odoo addon.

The plain tests run without Odoo: importing ``halo_helpdesk_billing`` would import its
models. This folder has no ``__init__.py``, so its files are imported by base name.
"""

import importlib.util
import sys
import types
from pathlib import Path

SERVICES = Path(__file__).resolve().parents[1]
ADDON = SERVICES.parent

# pytest sets up the package nodes above a test file by importing their __init__.py; the
# addon's imports Odoo models. A placeholder (only if the real addon is not loaded) avoids it.
if ADDON.name not in sys.modules:
    placeholder = types.ModuleType(ADDON.name, "Placeholder: the Odoo addon is not loaded in plain tests.")
    placeholder.__file__ = str(ADDON / "__init__.py")
    placeholder.__path__ = [str(ADDON)]
    sys.modules[ADDON.name] = placeholder


def load_service(name):
    module_name = f"halo_helpdesk_billing_{name}_under_test"
    if module_name not in sys.modules:
        spec = importlib.util.spec_from_file_location(module_name, SERVICES / f"{name}.py")
        module = importlib.util.module_from_spec(spec)
        sys.modules[module_name] = module
        spec.loader.exec_module(module)
    return sys.modules[module_name]
