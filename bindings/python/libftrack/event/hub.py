"""``EventHub``: ``session.event_hub``, with the surface of
``ftrack_api.event.hub.EventHub``, on the C library's event hub
(``ftrack_event_hub_*``: its connection, reconnection, subscriptions on the
server and expression engine).

Threads, as in ftrack_api:

* subscriber callbacks run on the thread that calls :meth:`EventHub.wait`;
* ``on_reply`` callbacks of :meth:`EventHub.publish` run there too (the C
  library queues replies with the other events);
* ``publish(event, synchronous=True)`` runs this hub's subscribers on the
  calling thread, in priority order, without the server, and returns their
  results (``None`` included);
* a subscriber that raises is logged (logger ``libftrack.event.hub.EventHub``)
  and the next one runs; :meth:`Event.stop` keeps later ones from running.

A subscriber's non-``None`` result is sent back to the publisher as a reply
(``ftrack.meta.reply``) when the event came through the server; it must be
JSON-serialisable then.
"""

import collections
import itertools
import json
import logging
import platform
import threading
import time
import urllib.parse
import uuid

from .. import exception
from .._native import ft
from .base import Event
from .subscriber import Subscriber, event_json

#: Reply callbacks kept (the oldest is forgotten past it), as the C library keeps.
MAX_REPLY_CALLBACKS = 10000

_CONNECTION_ERRORS = {
    ft.Status.CONNECTION: exception.EventHubConnectionError,
    ft.Status.TIMEOUT: exception.EventHubConnectionError,
    ft.Status.AUTHENTICATION: exception.EventHubConnectionError,
}


def _event_from_wire(wire):
    """An :class:`Event` from the C library's JSON form of an event."""
    return Event(
        wire.get("topic"),
        id=wire.get("id"),
        data=wire.get("data"),
        sent=wire.get("sent"),
        source=wire.get("source"),
        target=wire.get("target") or "",
        in_reply_to_event=wire.get("inReplyToEvent", wire.get("in_reply_to_event")),
    )


class EventHub(object):
    """The event hub of one :class:`libftrack.Session` (see the module
    documentation). ``id`` is the hub's id: the ``source.id`` of the events it
    publishes, which replies target."""

    def __init__(self, native, server_url, api_user):
        self.logger = logging.getLogger(__name__ + "." + type(self).__name__)
        self._native = native
        self._server_url = server_url
        self._api_user = api_user
        with exception.translate():
            self.id = native.event_hub_id()
        self._lock = threading.RLock()
        self._subscribers = []
        self._by_token = {}
        self._tokens = itertools.count(1)
        self._reply_callbacks = collections.OrderedDict()
        self._connection_initialised = False
        self._local = threading.local()
        self._interrupt = None
        # One C callback for every subscriber (the subscriber is found by the
        # token passed as user_data) and one for every reply: they live as
        # long as the hub, so the C library never calls a freed callback.
        self._c_handler = ft.EVENT_CALLBACK_FN(self._on_c_event)
        self._c_reply = ft.EVENT_CALLBACK_FN(self._on_c_reply)

    # ---- connection ----

    def get_server_url(self):
        """The server URL (scheme, host and port)."""
        parts = urllib.parse.urlparse(self._server_url)
        return "%s://%s" % (parts.scheme, self.get_network_location())

    def get_network_location(self):
        """``host[:port]`` of the server."""
        return urllib.parse.urlparse(self._server_url).netloc

    @property
    def secure(self):
        """Whether the connection uses TLS (``wss``)."""
        return urllib.parse.urlparse(self._server_url).scheme == "https"

    def init_connection(self):
        """Marks the connection as initialising: events published before it is
        up are queued and sent once connected (the C library's queue)."""
        self._connection_initialised = True

    def connect(self, timeout=60):
        """Connects, waiting up to ``timeout`` seconds (ftrack_api's socket
        timeout is 60). Raises ``EventHubConnectionError`` when already
        connected or when the connection fails (nothing keeps retrying then,
        as in ftrack_api; once connected the C library reconnects by itself
        after a drop, re-sending the subscriptions). On return the
        subscriptions are sent, not necessarily read by the server yet: an
        event published in that moment (``ftrack.update`` of a write made at
        once) can pass them by, as with ftrack_api."""
        native = self._live()
        if self.connected:
            raise exception.EventHubConnectionError("Already connected.")
        self.init_connection()
        try:
            native.event_hub_connect(int(float(timeout) * 1000))
        except ft.FtrackError as error:
            self._connection_initialised = False
            try:
                native.event_hub_disconnect()
            except ft.FtrackError:
                pass
            raise exception.EventHubConnectionError(
                'Failed to connect to event server at %s with error: "%s".' % (self.get_server_url(), error.message),
                status=error.status,
                details={"error": error.message, "server_url": self.get_server_url()},
            ) from None

    @property
    def connected(self):
        """Whether the hub is connected now."""
        native = self._native
        if native is None:
            return False
        with exception.translate():
            return native.event_hub_connected()

    def disconnect(self, unsubscribe=True, reconnect=False):
        """Disconnects. With ``unsubscribe`` (the default, as in ftrack_api)
        every subscriber is removed first. Raises ``EventHubConnectionError``
        when neither connected nor connecting. With ``reconnect`` events
        published meanwhile are still queued for the next connection."""
        native = self._live()
        if not self.connected and not self._connection_initialised:
            raise exception.EventHubConnectionError("Not currently connected.")
        if unsubscribe:
            for subscriber in list(self._subscribers):
                self.unsubscribe(subscriber.metadata["id"])
        with exception.translate():
            native.event_hub_disconnect()
        if not reconnect:
            self._connection_initialised = False

    def reconnect(self, attempts=10, delay=5):
        """Disconnects (keeping subscribers) and connects again, trying
        ``attempts`` times ``delay`` seconds apart."""
        try:
            self.disconnect(unsubscribe=False, reconnect=True)
        except exception.EventHubConnectionError:
            pass
        for attempt in range(attempts):
            try:
                self.connect()
                return
            except exception.EventHubConnectionError:
                if attempt + 1 < attempts:
                    time.sleep(delay)
        raise exception.EventHubConnectionError(
            "Failed to reconnect to event server at %s after %d attempts." % (self.get_server_url(), attempts)
        )

    def wait(self, duration=None):
        """Runs the subscribers (and ``on_reply`` callbacks) of arriving events
        on this thread for ``duration`` seconds (``None``: until interrupted).
        Raises ``EventHubConnectionError`` when the hub was never connected."""
        native = self._live()
        if not self._connection_initialised:
            raise exception.EventHubConnectionError(
                "Event hub does not have a connection to the event server and will therefore only be "
                "able to receive synchronous events; call session.event_hub.connect() first (or create "
                "the session with auto_connect_event_hub=True)."
            )
        started = time.monotonic()
        while True:
            left = None if duration is None else duration - (time.monotonic() - started)
            if left is not None and left <= 0:
                break
            step = 0.1 if left is None else min(0.1, left)
            before = time.monotonic()
            with exception.translate():
                handled = native.event_hub_dispatch(int(step * 1000))
            self._reraise_interrupt()
            if handled == 0 and time.monotonic() - before < step / 2:
                # Another thread is dispatching (or this is a nested wait):
                # the C library returned at once; do not spin.
                time.sleep(step)

    # ---- subscribers ----

    def get_subscriber_by_identifier(self, identifier):
        """The :class:`Subscriber` with this id, or ``None``."""
        with self._lock:
            for subscriber in self._subscribers:
                if subscriber.metadata.get("id") == identifier:
                    return subscriber
        return None

    def subscribe(self, subscription, callback, subscriber=None, priority=100):
        """Calls ``callback(event)`` for events matching ``subscription`` (e.g.
        ``"topic=ftrack.update and data.user.name=jane"``), lower ``priority``
        first. ``subscriber`` is metadata other hubs can target; its ``id`` is
        generated when absent. Returns the subscriber id. Raises
        ``NotUniqueError`` for an id already subscribed and ``ParseError`` for
        a bad expression. Works before connecting (the subscription is sent to
        the server once connected)."""
        native = self._live()
        if subscriber is None:
            subscriber = {}
        subscriber.setdefault("id", uuid.uuid4().hex)
        identifier = subscriber["id"]
        with self._lock:
            if self.get_subscriber_by_identifier(identifier) is not None:
                raise exception.NotUniqueError("Subscriber with identifier %s already exists." % identifier)
            token = next(self._tokens)
            entry = Subscriber(subscription, callback, subscriber, priority)
            entry._token = token
            self._by_token[token] = entry
            try:
                with exception.translate({ft.Status.INVALID_ARGUMENT: exception.ParseError}):
                    native.event_hub_subscribe(
                        subscription, self._c_handler, json.dumps(subscriber), int(priority), user_data=token
                    )
            except BaseException:
                del self._by_token[token]
                raise
            self._subscribers.append(entry)
        return identifier

    def unsubscribe(self, subscriber_identifier):
        """Removes the subscriber; ``NotFoundError`` when there is none with that id."""
        native = self._live()
        with self._lock:
            subscriber = self.get_subscriber_by_identifier(subscriber_identifier)
            if subscriber is None:
                raise exception.NotFoundError(
                    "Cannot unsubscribe missing subscriber with identifier %s" % subscriber_identifier
                )
            self._subscribers.remove(subscriber)
            self._by_token.pop(subscriber._token, None)
        with exception.translate():
            native.event_hub_unsubscribe(subscriber_identifier)

    def subscription(self, subscription, callback, subscriber=None, priority=100):
        """A context manager: ``callback`` is subscribed inside the ``with`` block."""
        return _SubscriptionContext(self, subscription, callback, subscriber, priority)

    # ---- publishing ----

    def publish(self, event, synchronous=False, on_reply=None, on_error="raise"):
        """Publishes ``event`` (an :class:`~libftrack.event.base.Event`).

        ``synchronous=True``: no server; this hub's subscribers run now, on
        this thread, and their results are returned as a list (as
        ftrack_api). Otherwise the event goes to the server (local-only
        topics such as ``ftrack.api.session.*`` are handled in the process)
        and ``on_reply(reply_event)`` is called for each reply, from
        :meth:`wait`. Raises ``EventHubConnectionError`` when the hub was
        never connected (while connecting, the event is queued);
        ``on_error="ignore"`` swallows errors. An event whose data JSON
        cannot hold is logged and not sent, as in ftrack_api."""
        try:
            return self._publish(event, synchronous=synchronous, on_reply=on_reply)
        except Exception:
            if on_error == "ignore":
                return None
            raise

    def publish_reply(self, source_event, data, source=None):
        """Publishes ``data`` as the reply to ``source_event`` (to the hub that
        published it); ``source`` replaces the reply's source."""
        reply = Event("ftrack.meta.reply", data=data)
        reply["target"] = "id=%s" % source_event["source"]["id"]
        reply["in_reply_to_event"] = source_event["id"]
        if source is not None:
            reply["source"] = source
        self.publish(reply)

    def _prepare_event(self, event):
        source = event["source"]
        source.setdefault("id", self.id)
        source.setdefault("user", {"username": self._api_user})
        source.setdefault("host", platform.node())

    def _publish(self, event, synchronous=False, on_reply=None):
        self._prepare_event(event)
        if synchronous:
            return self._handle_synchronously(event)
        native = self._live()
        try:
            text = event_json(event)
        except (TypeError, ValueError):
            # As ftrack_api: an event that cannot be sent is logged, not raised.
            self.logger.exception("Error sending event %s.", event)
            return None
        if on_reply is not None:
            with self._lock:
                self._reply_callbacks[event["id"]] = on_reply
                while len(self._reply_callbacks) > MAX_REPLY_CALLBACKS:
                    self._reply_callbacks.popitem(last=False)
        try:
            with exception.translate(_CONNECTION_ERRORS):
                native.event_hub_publish_event(text, None if on_reply is None else self._c_reply)
        except BaseException:
            if on_reply is not None:
                with self._lock:
                    self._reply_callbacks.pop(event["id"], None)
            raise
        return None

    def _handle_synchronously(self, event):
        with self._lock:
            subscribers = sorted(self._subscribers, key=lambda s: s.priority)
        target = event.get("target")
        if target:
            try:
                ft.expression_matches(target, "{}")
            except ft.FtrackError:
                self.logger.exception("Cannot handle event as failed to parse event target information: %s", event)
                return None
        results = []
        for subscriber in subscribers:
            if target and not ft.expression_matches(target, json.dumps(subscriber.metadata, default=str)):
                continue
            if not subscriber.interested_in(event):
                continue
            try:
                results.append(subscriber.callback(event))
            except Exception:
                self.logger.exception("Error calling subscriber %s for event %s.", subscriber, event)
            if event.is_stopped():
                break
        return results

    # ---- the C callbacks ----

    def _event_for(self, raw):
        """The Event of a C event handle; the same object for every subscriber
        of one event, so that ``stop()`` and changes carry over."""
        wire = ft.event_json(raw)
        current = getattr(self._local, "current", None)
        if current is not None and current["id"] == wire.get("id") and current["topic"] == wire.get("topic"):
            return current
        event = _event_from_wire(wire)
        self._local.current = event
        return event

    def _on_c_event(self, token, raw):
        try:
            subscriber = self._by_token.get(token)
            if subscriber is None:  # unsubscribed while the event was being handled
                return 0
            event = self._event_for(raw)
            if event.is_stopped():
                return 0
            try:
                response = subscriber.callback(event)
            except Exception:
                self.logger.exception("Error calling subscriber %s for event %s.", subscriber, event)
                return 1
            if response is not None:
                try:
                    ft.event_set_reply(raw, json.dumps(response))
                except Exception:
                    self.logger.exception(
                        "Error publishing response %r from subscriber %s for event %s.", response, subscriber, event
                    )
            return 0
        except BaseException as error:
            return self._keep_interrupt(error)

    def _on_c_reply(self, _user_data, raw):
        try:
            event = _event_from_wire(ft.event_json(raw))
            callback = self._reply_callbacks.get(event["in_reply_to_event"])
            if callback is None:
                return 0
            try:
                callback(event)
            except Exception:
                self.logger.exception("Error calling reply callback %s for event %s.", callback, event)
                return 1
            return 0
        except BaseException as error:
            return self._keep_interrupt(error)

    def _keep_interrupt(self, error):
        # Nothing may unwind through the C library: KeyboardInterrupt and
        # SystemExit are raised again by wait() once dispatch returned.
        if isinstance(error, Exception):
            self.logger.exception("Error handling an event.")
        else:
            self._interrupt = error
        return 1

    def _reraise_interrupt(self):
        error, self._interrupt = self._interrupt, None
        if error is not None:
            raise error

    # ---- the session ----

    def _live(self):
        native = self._native
        if native is None:
            raise exception.EventHubConnectionError("The session of this event hub is closed.")
        return native

    def _close(self):
        """The session closes: disconnect (entity handles may keep the C
        session alive); nothing here may be used afterwards."""
        native, self._native = self._native, None
        self._connection_initialised = False
        if native is not None:
            try:
                native.event_hub_disconnect()
            except ft.FtrackError:
                pass


class _SubscriptionContext(object):
    def __init__(self, hub, subscription, callback, subscriber, priority):
        self._hub = hub
        self._arguments = (subscription, callback, subscriber, priority)
        self._identifier = None

    def __enter__(self):
        subscription, callback, subscriber, priority = self._arguments
        self._identifier = self._hub.subscribe(subscription, callback, subscriber=subscriber, priority=priority)
        return self._identifier

    def __exit__(self, *exc):
        self._hub.unsubscribe(self._identifier)
