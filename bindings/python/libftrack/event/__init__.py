"""Events, as ``ftrack_api.event``: :mod:`libftrack.event.base` (``Event``),
:mod:`libftrack.event.hub` (``EventHub``, the session's ``event_hub``) and
:mod:`libftrack.event.subscriber` (``Subscriber``)."""

from . import base, hub, subscriber  # noqa: F401
