"""``Subscriber``: one subscription of an :class:`~libftrack.event.hub.EventHub`
(as ``ftrack_api.event.subscriber.Subscriber``)."""

import json

from .._native import ft


def event_json(event, strict=True):
    """``event`` (a mapping shaped like :class:`~libftrack.event.base.Event`)
    as the JSON text of its wire form (``inReplyToEvent`` for
    ``in_reply_to_event``), which the C library publishes and matches
    subscriptions against. With ``strict=False`` values JSON cannot hold
    (the session in ``ftrack.api.session.ready``) are written as their
    ``str()``, for matching only."""
    wire = dict(event)
    wire["inReplyToEvent"] = wire.pop("in_reply_to_event", None)
    return json.dumps(wire, default=None if strict else str)


class Subscriber(object):
    """A subscription expression, its callback, the subscriber metadata
    (``metadata['id']`` is the subscriber id) and its priority."""

    def __init__(self, subscription, callback, metadata, priority):
        self.subscription = subscription
        self.callback = callback
        self.metadata = metadata
        self.priority = priority

    def interested_in(self, event):
        """Whether the subscription matches ``event`` (evaluated by the C
        library's expression engine, as for events from the server)."""
        return ft.expression_matches(self.subscription, event_json(event, strict=False))

    def __str__(self):
        return '<%s metadata=%s subscription="%s">' % (type(self).__name__, self.metadata, self.subscription)
