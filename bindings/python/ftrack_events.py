"""The libftrack event hub for Python, over the C ABI (ctypes), with the
surface of ``ftrack_api.event.hub.EventHub``.

A separate module so the ``libftrack`` package can wire it without this
file knowing the package: given a libftrack session handle (the
``ftrack_session *`` as an int or ``c_void_p``) and the loaded library::

    from ftrack_events import EventHub, Event
    session.event_hub = EventHub(session_raw_pointer, library)

    session.event_hub.connect()
    session.event_hub.subscribe("topic=ftrack.update", on_update)
    session.event_hub.publish(Event("my.topic", data={"x": 1}), on_reply=print)
    session.event_hub.wait(5)          # runs handlers on this thread

Threading: handlers run on the thread that calls ``wait`` (libftrack's
``ftrack_event_hub_dispatch``). A handler's non-None return value is sent
back as the reply. An exception in a handler is reported to libftrack as a
failure (it logs it through the session's logger) and the next handler runs.

Differences from ftrack_api: ``publish(..., synchronous=True)`` runs local
handlers only for local topics (``ftrack.api.session.*``) and returns an empty
list; ``on_reply`` is called from a helper thread that waits for the first
reply (up to ``reply_timeout`` seconds), not from ``wait``.
"""

import ctypes
import json
import threading
import time
import uuid
from ctypes import POINTER, byref, c_bool, c_char, c_char_p, c_int, c_int32, c_size_t, c_uint32, c_uint64, c_void_p

__all__ = ["Event", "EventHub", "EventHubError"]

_OK = 0
_BUFFER_TOO_SMALL = 103
_TIMEOUT = 201

_CALLBACK = ctypes.CFUNCTYPE(c_int, c_void_p, c_void_p)


class EventHubError(Exception):
    """A libftrack event hub call failed: ``status``, ``name`` and ``message``."""

    def __init__(self, status, name, message):
        self.status = status
        self.name = name
        self.message = message
        super().__init__("%s: %s" % (name, message))


class Event(dict):
    """An event: a dict with ``id``, ``topic``, ``data``, ``source``, ``target``,
    ``in_reply_to_event``, as ``ftrack_api.event.base.Event``."""

    def __init__(self, topic, id=None, data=None, sent=None, source=None, target="", in_reply_to_event=None, **kw):
        super().__init__(
            id=id or uuid.uuid4().hex,
            topic=topic,
            data=data if data is not None else {},
            sent=sent,
            source=source if source is not None else {},
            target=target,
            in_reply_to_event=in_reply_to_event,
        )
        self.update(kw)


class _Api:
    """The C functions, typed."""

    def __init__(self, lib):
        buf = (POINTER(c_char), c_size_t, POINTER(c_size_t))

        def fn(name, restype, *argtypes):
            f = getattr(lib, name)
            f.restype = restype
            f.argtypes = list(argtypes)
            return f

        self.status_name = fn("ftrack_status_name", c_char_p, c_uint32)
        self.last_error_message = fn("ftrack_last_error_message", c_uint32, *buf)
        self.connect = fn("ftrack_event_hub_connect", c_uint32, c_void_p, c_uint64)
        self.disconnect = fn("ftrack_event_hub_disconnect", c_uint32, c_void_p)
        self.is_connected = fn("ftrack_event_hub_is_connected", c_uint32, c_void_p, POINTER(c_bool))
        self.subscribe = fn(
            "ftrack_event_hub_subscribe", c_uint32, c_void_p, c_char_p, c_char_p, c_int32, _CALLBACK, c_void_p, *buf
        )
        self.unsubscribe = fn("ftrack_event_hub_unsubscribe", c_uint32, c_void_p, c_char_p)
        self.publish = fn("ftrack_event_hub_publish", c_uint32, c_void_p, c_char_p, c_char_p, c_char_p)
        self.publish_and_wait = fn(
            "ftrack_event_hub_publish_and_wait", c_uint32, c_void_p, c_char_p, c_char_p, c_char_p, c_uint64,
            POINTER(c_void_p),
        )
        self.dispatch = fn("ftrack_event_hub_dispatch", c_uint32, c_void_p, c_uint64, POINTER(c_size_t))
        self.topic = fn("ftrack_event_topic", c_uint32, c_void_p, *buf)
        self.id = fn("ftrack_event_id", c_uint32, c_void_p, *buf)
        self.data_json = fn("ftrack_event_data_json", c_uint32, c_void_p, *buf)
        self.source_json = fn("ftrack_event_source_json", c_uint32, c_void_p, *buf)
        self.set_reply = fn("ftrack_event_set_reply", c_uint32, c_void_p, c_char_p)
        self.destroy = fn("ftrack_event_destroy", None, c_void_p)

    def read(self, fill):
        size = 256
        for _ in range(2):
            buffer = ctypes.create_string_buffer(size)
            needed = c_size_t(0)
            status = fill(buffer, size, byref(needed))
            if status != _BUFFER_TOO_SMALL:
                self.check(status)
                return buffer.raw[: max(needed.value - 1, 0)].decode("utf-8")
            size = needed.value
        self.check(status)
        return ""

    def check(self, status):
        if status != _OK:
            buffer = ctypes.create_string_buffer(2048)
            self.last_error_message(buffer, 2048, None)
            raise EventHubError(status, self.status_name(status).decode("ascii"), buffer.value.decode("utf-8", "replace"))

    def event(self, raw):
        text = lambda f: self.read(lambda b, n, o: f(raw, b, n, o))  # noqa: E731
        return Event(
            text(self.topic),
            id=text(self.id),
            data=json.loads(text(self.data_json)),
            source=json.loads(text(self.source_json)),
        )


def _text(value):
    return None if value is None else str(value).encode("utf-8")


class EventHub:
    """The event hub of one libftrack session (see the module documentation)."""

    def __init__(self, session, library, reply_timeout=60.0):
        self._session = c_void_p(session if isinstance(session, int) else getattr(session, "value", session))
        self._api = _Api(library)
        self._reply_timeout = reply_timeout
        self._callbacks = {}
        self._lock = threading.Lock()

    def connect(self, timeout=30.0):
        """Connects and waits up to ``timeout`` seconds; raises EventHubError on failure."""
        self._api.check(self._api.connect(self._session, int(timeout * 1000)))

    def disconnect(self, unsubscribe=True):
        """Disconnects; subscriptions are kept for the next connect (``unsubscribe`` is accepted for compatibility)."""
        self._api.check(self._api.disconnect(self._session))

    @property
    def connected(self):
        """Whether the hub is connected now."""
        out = c_bool(False)
        self._api.check(self._api.is_connected(self._session, byref(out)))
        return out.value

    def subscribe(self, subscription, callback, subscriber=None, priority=100):
        """Calls ``callback(event)`` for events matching ``subscription``; returns the subscriber id."""
        api = self._api

        def trampoline(_user_data, raw):
            try:
                result = callback(api.event(raw))
                if result is not None:
                    api.check(api.set_reply(raw, json.dumps(result).encode("utf-8")))
                return 0
            except Exception:  # reported to libftrack, which logs it
                return 1

        c_callback = _CALLBACK(trampoline)
        metadata = json.dumps(subscriber).encode("utf-8") if subscriber else None
        identifier = api.read(
            lambda b, n, o: api.subscribe(
                self._session, _text(subscription), metadata, int(priority), c_callback, None, b, n, o
            )
        )
        with self._lock:
            self._callbacks[identifier] = c_callback  # keep the C callback alive
        return identifier

    def unsubscribe(self, subscriber_identifier):
        """Removes the subscriber."""
        self._api.check(self._api.unsubscribe(self._session, _text(subscriber_identifier)))
        with self._lock:
            self._callbacks.pop(subscriber_identifier, None)

    def publish(self, event, synchronous=False, on_reply=None, on_error="raise"):
        """Publishes ``event``; with ``on_reply`` the first reply is passed to it (from a helper thread)."""
        try:
            topic = _text(event["topic"])
            data = json.dumps(event.get("data") or {}).encode("utf-8")
            target = _text(event.get("target") or "")
            if on_reply is None:
                self._api.check(self._api.publish(self._session, topic, data, target))
                return [] if synchronous else None

            def wait_reply():
                raw = c_void_p()
                status = self._api.publish_and_wait(
                    self._session, topic, data, target, int(self._reply_timeout * 1000), byref(raw)
                )
                if status == _OK:
                    try:
                        reply = self._api.event(raw)
                        reply["in_reply_to_event"] = event.get("id")
                        on_reply(reply)
                    finally:
                        self._api.destroy(raw)

            threading.Thread(target=wait_reply, daemon=True).start()
            return None
        except EventHubError:
            if on_error == "raise":
                raise
            return None

    def publish_reply(self, source_event, data, source=None):
        """Sends ``data`` as the reply to ``source_event`` (targeted at its publisher)."""
        target = "id=%s" % source_event["source"]["id"]
        self._api.check(
            self._api.publish(self._session, b"ftrack.meta.reply", json.dumps(data).encode("utf-8"), _text(target))
        )

    def wait(self, duration=None):
        """Runs handlers of arriving events on this thread for ``duration`` seconds (None: forever)."""
        end = None if duration is None else time.monotonic() + duration
        handled = c_size_t(0)
        while end is None or time.monotonic() < end:
            left = 0.2 if end is None else max(0.0, min(0.2, end - time.monotonic()))
            self._api.check(self._api.dispatch(self._session, int(left * 1000), byref(handled)))
