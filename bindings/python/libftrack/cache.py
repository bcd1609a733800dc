"""Caches a ``Session`` accepts as ``cache=``.

libftrack always keeps an in-memory identity map; ``cache`` only chooses what
lies under it: ``None`` or :class:`MemoryCache` (nothing more), or
:class:`FileCache` (the persistent cache: a file that outlives the process). A
callable is called with the session and must return one of these. Anything
else raises ``TypeError``: an ftrack_api cache object (``LayeredCache``,
``SerialisedCache``, a DBM cache) cannot be plugged into the native cache, and
silently ignoring it would hide that.
"""

import os


class Cache(object):
    """Base of the caches libftrack accepts."""


class MemoryCache(Cache):
    """The in-memory identity map only (what ``cache=None`` gives)."""

    def __repr__(self):
        return "MemoryCache()"


class FileCache(Cache):
    """The persistent cache in the file ``path`` (created when missing)."""

    def __init__(self, path):
        self.path = os.fspath(path)

    def __repr__(self):
        return "FileCache(%r)" % self.path


def resolve(cache, session):
    """The cache file to use (or None) for the ``cache`` argument."""
    if cache is None:
        return None
    if callable(cache) and not isinstance(cache, Cache):
        cache = cache(session)
        if cache is None:
            return None
    if isinstance(cache, FileCache):
        return cache.path
    if isinstance(cache, MemoryCache):
        return None
    raise TypeError(
        "cache=%r is not supported by libftrack: pass None, libftrack.cache.MemoryCache(), "
        "libftrack.cache.FileCache(path) (the persistent cache), or a callable returning one"
        % (cache,)
    )
