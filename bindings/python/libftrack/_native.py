"""The ctypes layer: the bundled copy of ``ftrack_ctypes`` in an installed
package (``libftrack.so`` beside it), else ``bindings/python/ftrack_ctypes.py``
when running from a checkout (then ``FTRACK_LIBRARY`` names the library)."""

try:
    from . import _ftrack_ctypes as ft  # noqa: F401  (installed wheel)
except ImportError:  # a checkout: bindings/python/libftrack next to ftrack_ctypes.py
    import os
    import sys

    sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    import ftrack_ctypes as ft  # noqa: F401,E402
