"""Discovery of Python plugins, as ``ftrack_api.plugin``.

:func:`discover` walks each search path recursively, loads every ``.py`` file
as a module of its own (a new unique name each time; not added to
``sys.modules``) and calls its module-level ``register`` with the positional
and keyword arguments (a session passes itself and its
``plugin_arguments``). The rules are ftrack_api's:

* empty paths are skipped (they would mean the current directory);
* folders and files are visited in sorted order (ftrack_api: in the order
  the file system lists them);
* a file that fails to load (syntax error, failing import) is logged as a
  warning (with the traceback at debug level) and skipped;
* a module without ``register`` is logged as a warning and skipped;
* when ``register`` cannot take the arguments (no ``*args`` and fewer
  parameters than positional arguments; or no ``**kwargs`` and keyword
  arguments it does not name as parameters with defaults), the extra keyword
  arguments are dropped with a "Culling passed arguments" warning;
* an exception raised by ``register`` itself is logged as an error (with the
  traceback) and that plugin skipped: one broken plugin in a studio's shared
  folder must not stop every tool from starting. (ftrack_api lets it
  propagate, so ``Session()`` fails there.)

Shared-library plugins (``.so``, ``.dylib``, ``.dll``) in the same folders are
the C library's: it loads them itself when the session is created.
"""

import importlib.util
import inspect
import logging
import os
import traceback
import uuid


def load_source(module_name, path):
    """Loads the Python file ``path`` as a new module named ``module_name``."""
    spec = importlib.util.spec_from_file_location(module_name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _accepted_arguments(register, positional, keywords, logger):
    """The (positional, keyword) arguments to call ``register`` with."""
    spec = inspect.getfullargspec(register)
    if spec.varargs is None and len(positional) > len(spec.args):
        logger.warning("Culling passed arguments to match register function signature.")
        return positional[len(spec.args):], {}
    if spec.varkw is None:
        # Keyword arguments may only fill parameters with defaults that the
        # positional arguments leave free.
        free = spec.args[len(positional):]
        with_defaults = spec.args[len(spec.args) - len(spec.defaults or ()):]
        accepted = set(name for name in with_defaults if name in free)
        if not set(keywords).issubset(accepted):
            logger.warning("Culling passed arguments to match register function signature.")
            return positional, dict((k, v) for k, v in keywords.items() if k in accepted)
    return positional, keywords


def discover(paths, positional_arguments=None, keyword_arguments=None):
    """Finds the ``.py`` plugins under ``paths`` and calls their ``register``
    (see the module documentation for the rules)."""
    logger = logging.getLogger(__name__ + ".discover")
    positional = list(positional_arguments or [])
    keywords = dict(keyword_arguments or {})
    for path in paths:
        path = path.strip()
        if not path:
            continue
        for folder, folders, files in os.walk(path):
            folders.sort()
            for name in sorted(files):
                if os.path.splitext(name)[1] != ".py":
                    continue
                module_path = os.path.join(folder, name)
                try:
                    module = load_source(uuid.uuid4().hex, module_path)
                except Exception as error:
                    logger.warning('Failed to load plugin from "%s": %s', module_path, error)
                    logger.debug(traceback.format_exc())
                    continue
                register = getattr(module, "register", None)
                if register is None:
                    logger.warning(
                        'Failed to load plugin that did not define a "register" function at the module level: %s',
                        module_path,
                    )
                    continue
                args, kwargs = _accepted_arguments(register, positional, keywords, logger)
                try:
                    register(*args, **kwargs)
                except Exception as error:
                    logger.error(
                        'Plugin "%s" failed to register and was skipped: %s\n%s',
                        module_path,
                        error,
                        traceback.format_exc(),
                    )
