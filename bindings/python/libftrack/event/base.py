"""``Event``, importable as ``from libftrack.event.base import Event`` where
scripts write ``from ftrack_api.event.base import Event``."""

import uuid

from collections.abc import MutableMapping


class Event(MutableMapping):
    """One event: a mapping with the keys ``id``, ``topic``, ``data``,
    ``source``, ``target``, ``in_reply_to_event`` and ``sent``.

    ``id`` defaults to a new ``uuid4().hex``; ``data`` and ``source`` to empty
    dicts; ``target`` (an expression over subscriber metadata) to ``""``, which
    addresses every subscriber. A handler may call :meth:`stop` so that the
    handlers after it (lower priority) are not called for this event.
    """

    def __init__(self, topic, id=None, data=None, sent=None, source=None, target="", in_reply_to_event=None):
        super(Event, self).__init__()
        self._data = {
            "id": id or uuid.uuid4().hex,
            "topic": topic,
            "data": data or {},
            "source": source or {},
            "target": target,
            "in_reply_to_event": in_reply_to_event,
            "sent": sent,
        }
        self._stopped = False

    def stop(self):
        """Handlers after the current one are not called for this event."""
        self._stopped = True

    def is_stopped(self):
        """Whether :meth:`stop` was called."""
        return self._stopped

    def __getitem__(self, key):
        return self._data[key]

    def __setitem__(self, key, value):
        self._data[key] = value

    def __delitem__(self, key):
        del self._data[key]

    def __iter__(self):
        return iter(self._data)

    def __len__(self):
        return len(self._data)

    def __str__(self):
        return "<%s %s>" % (type(self).__name__, self._data)

    __repr__ = __str__
