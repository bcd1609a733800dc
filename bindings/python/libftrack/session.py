"""``Session``, shaped like ``ftrack_api.Session``, on the libftrack C ABI."""

import contextlib
import json
import os
import weakref

from . import cache as _cache
from . import exception
from . import operation as _operation
from . import plugin as _plugin
from ._native import ft
from .entity import Entity, to_json
from .event.base import Event
from .event.hub import EventHub


class SessionAuthentication(object):
    """The ftrack authentication headers (``ftrack-api-key``, ``ftrack-user``)
    for a request, as ``ftrack_api.session.SessionAuthentication``: call it with a
    ``requests``-style request to attach them. libftrack sessions attach them
    themselves. Its repr never shows the key."""

    def __init__(self, api_key, api_user):
        self.api_key = api_key
        self.api_user = api_user

    def __call__(self, request):
        request.headers.update({"ftrack-api-key": self.api_key, "ftrack-user": self.api_user})
        return request

    def __repr__(self):
        return "SessionAuthentication(api_user=%r, api_key=<hidden>)" % (self.api_user,)


class QueryResult(object):
    """A lazy query result: nothing is sent until it is used; iteration fetches
    one page per request as it goes; ``all()``/``len()`` fetch every page;
    ``one()`` and ``first()`` send one request of their own."""

    def __init__(self, session, expression, page_size=None):
        self._session = session
        self._expression = expression
        self._page_size = page_size or 0
        self._fetched = []
        self._cursor = None
        self._done = False

    def _next_page(self):
        if self._done:
            return False
        with exception.translate():
            if self._cursor is None:
                self._cursor = self._session._native.query_cursor(self._expression, self._page_size)
            page = self._cursor.next_page()
        if page is None:
            self._done = True
            self._cursor.close()
            return False
        try:
            self._fetched.extend(self._session._wrap(e) for e in page)
        finally:
            page.close()
        return True

    def __iter__(self):
        i = 0
        while True:
            while i < len(self._fetched):
                yield self._fetched[i]
                i += 1
            if not self._next_page():
                return

    def all(self):
        """Every result, as a list (fetching the remaining pages)."""
        while self._next_page():
            pass
        return list(self._fetched)

    def __len__(self):
        return len(self.all())

    def __getitem__(self, index):
        return self.all()[index]

    def one(self):
        """Exactly one result: NoResultFoundError / MultipleResultsFoundError otherwise."""
        with exception.translate({ft.Status.NOT_FOUND: exception.NoResultFoundError}):
            return self._session._wrap(self._session._native.query_one(self._expression))

    def first(self):
        """The first result, or None."""
        with exception.translate():
            e = self._session._native.query_first(self._expression)
        return None if e is None else self._session._wrap(e)

    def __repr__(self):
        return "<QueryResult(%r)>" % (self._expression,)


class Session(object):
    """A connection to an ftrack server: ``ftrack_api.Session``'s arguments and
    the calls scripts use (see ``bindings/README.md`` for every difference)."""

    def __init__(
        self,
        server_url=None,
        api_key=None,
        api_user=None,
        auto_populate=True,
        plugin_paths=None,
        cache=None,
        cache_key_maker=None,
        auto_connect_event_hub=False,
        schema_cache_path=None,
        plugin_arguments=None,
        timeout=60,
        cookies=None,
        headers=None,
        strict_api=False,
    ):
        server_url = server_url or os.environ.get("FTRACK_SERVER")
        if not server_url:
            raise TypeError(
                'Required "server_url" not specified. Pass as argument or set in '
                "environment variable FTRACK_SERVER."
            )
        api_key = api_key or os.environ.get("FTRACK_API_KEY") or os.environ.get("FTRACK_APIKEY")
        if not api_key:
            raise TypeError(
                'Required "api_key" not specified. Pass as argument or set in '
                "environment variable FTRACK_API_KEY."
            )
        api_user = api_user or os.environ.get("FTRACK_API_USER")
        if not api_user:
            for name in ("LOGNAME", "USER", "LNAME", "USERNAME"):
                api_user = os.environ.get(name)
                if api_user:
                    break
        if not api_user:
            raise TypeError(
                'Required "api_user" not specified. Pass as argument, set in '
                "environment variable FTRACK_API_USER or one of the standard "
                "environment variables used by Python's getpass module."
            )
        if cache_key_maker is not None:
            raise NotImplementedError(
                "cache_key_maker is not supported by libftrack: its caches are keyed by entity type "
                "and primary key; pass cache_key_maker=None"
            )
        if not isinstance(strict_api, bool):
            raise TypeError("The strict_api argument is required to be a boolean.")
        self._server_url = server_url.rstrip("/")
        self._api_key = api_key
        self._api_user = api_user
        if plugin_paths is None:
            plugin_paths = os.environ.get("FTRACK_EVENT_PLUGIN_PATH", "").split(os.pathsep)
        self._plugin_paths = plugin_paths
        self._plugin_arguments = plugin_arguments
        self._schemas = {}
        self._entities = weakref.WeakValueDictionary()
        self._native = None
        self._event_hub = None
        options = ft.SessionOptions()
        try:
            options.server_url(self._server_url).api_key(api_key).api_user(api_user)
            options.auto_populate(bool(auto_populate)).strict_api(strict_api)
            options.timeout_ms(int(float(timeout) * 1000) if timeout else 60000)
            if schema_cache_path is False:
                options.disable_schema_cache()
            elif schema_cache_path is not None:
                options.schema_cache_path(os.fspath(schema_cache_path))
            cache_file = _cache.resolve(cache, self)
            if cache_file is not None:
                options.persistent_cache_path(cache_file)
            for name, value in dict(headers or {}).items():
                options.header(name, value)
            for name, value in dict(cookies or {}).items():
                options.cookie(name, value)
            # The C library connects in the background (the constructor does
            # not wait) and loads the shared-library plugins of the same folders.
            options.auto_connect_event_hub(bool(auto_connect_event_hub))
            native_paths = [p.strip() for p in self._plugin_paths if p and p.strip()]
            for path in native_paths or [""]:  # "": no folder, and no FTRACK_EVENT_PLUGIN_PATH fallback
                options.plugin_path(path)
            options.plugin_arguments(json.dumps(dict(plugin_arguments or {}), default=str))
            with exception.translate():
                self._native = ft.Session(options=options)
        finally:
            options.close()
        # As ftrack_api: the hub, the Python plugins (register(session,
        # **plugin_arguments)), then ftrack.api.session.ready to this hub's
        # subscribers, synchronously.
        try:
            self._event_hub = EventHub(self._native, self._server_url, api_user)
            if auto_connect_event_hub:
                self._event_hub.init_connection()
            _plugin.discover(self._plugin_paths, [self], dict(plugin_arguments or {}))
            self._event_hub.publish(
                Event(topic="ftrack.api.session.ready", data=dict(session=self)), synchronous=True
            )
        except BaseException:
            self.close()  # a plugin's register raised: do not leave the connection behind
            raise

    # ---- properties ----

    @property
    def server_url(self):
        return self._server_url

    @property
    def api_user(self):
        return self._api_user

    @property
    def api_key(self):
        return self._api_key

    @property
    def auto_populate(self):
        """Whether reads fetch attributes that are not loaded (settable; session-wide)."""
        with exception.translate():
            return self._native.auto_populate

    @auto_populate.setter
    def auto_populate(self, value):
        with exception.translate():
            self._native.auto_populate = bool(value)

    @property
    def record_operations(self):
        """Whether changes are recorded for commit (settable; session-wide)."""
        with exception.translate():
            return self._native.record_operations

    @record_operations.setter
    def record_operations(self, value):
        with exception.translate():
            self._native.record_operations = bool(value)

    @property
    def recorded_operations(self):
        """The operations pending for ``commit()``: sized, iterable."""
        return _operation.RecordedOperations(self)

    @property
    def event_hub(self):
        """The session's :class:`libftrack.event.hub.EventHub` (``ftrack_api``'s
        surface; see ``bindings/README.md``)."""
        return self._event_hub

    @property
    def closed(self):
        return self._native is None

    def __repr__(self):
        return "<libftrack.Session(server_url=%r, api_user=%r)>" % (self._server_url, self._api_user)

    # ---- schemas and wrapping ----

    def _schema(self, entity_type):
        schema = self._schemas.get(entity_type)
        if schema is None:
            try:
                with exception.translate():
                    schema = self._native.entity_schema(entity_type)
            except exception.UnrecognisedEntityTypeError:
                schema = {"id": entity_type, "primary_key": ["id"], "properties": {}}
            self._schemas[entity_type] = schema
        return schema

    def _kind(self, entity_type, attribute):
        prop = self._schema(entity_type).get("properties", {}).get(attribute)
        return None if prop is None else prop.get("kind")

    def _wrap(self, handle):
        key = (handle.entity_type, handle.id)
        found = self._entities.get(key)
        if found is not None:
            handle.close()
            return found
        entity = Entity(self, handle)
        self._entities[key] = entity
        return entity

    # ---- queries and entities ----

    def query(self, expression, page_size=None):
        """A lazy :class:`QueryResult` of ``expression``."""
        return QueryResult(self, expression, page_size)

    def get(self, entity_type, entity_key):
        """The entity with this primary key (a value, or a list for composite
        keys) from the cache, else the server; None when it does not exist."""
        if isinstance(entity_key, (list, tuple)):
            entity_key = ",".join(str(k) for k in entity_key)
        elif isinstance(entity_key, dict):
            keys = self._schema(entity_type).get("primary_key") or ["id"]
            entity_key = ",".join(str(entity_key[k]) for k in keys)
        with exception.translate():
            e = self._native.get(entity_type, str(entity_key))
        return None if e is None else self._wrap(e)

    def create(self, entity_type, data=None, reconstructing=False):
        """Creates an entity locally and records the create for ``commit()``."""
        if reconstructing:
            raise NotImplementedError("reconstructing=True is not supported by libftrack")
        with exception.translate():
            return self._wrap(self._native.create(entity_type, to_json(dict(data or {}))))

    def ensure(self, entity_type, data, identifying_keys=None):
        """The entity matching ``identifying_keys`` of ``data`` (all keys when
        None), created and committed when missing; other differing values are
        set and committed."""
        with exception.translate():
            keys = None if identifying_keys is None else list(identifying_keys)
            return self._wrap(self._native.ensure(entity_type, to_json(dict(data)), keys))

    def delete(self, entity):
        """Records the deletion of ``entity``."""
        with exception.translate():
            self._native.delete(entity._handle)

    def populate(self, entities, projections):
        """Loads ``projections`` (comma-separated) for ``entities`` (an entity, a
        list or a QueryResult), one query per entity type."""
        if isinstance(entities, Entity):
            entities = [entities]
        entities = list(entities)
        if not entities:
            return
        with exception.translate():
            self._native.populate([e._handle for e in entities], projections)

    def call(self, data):
        """Sends a raw batch (a list of operations) as is; returns the decoded answer."""
        with exception.translate():
            return self._native.call(data)

    @property
    def types(self):
        """The entity types the server describes: a dict of name to schema."""
        with exception.translate():
            names = self._native.entity_types()
        return {name: self._schema(name) for name in names}

    def commit(self):
        """Sends every recorded operation in one batch (atomic on the server)."""
        with exception.translate():
            self._native.commit()

    def rollback(self):
        """Discards recorded operations and local changes."""
        with exception.translate():
            self._native.rollback()

    def reset(self):
        """Clears the cache and the recorded operations, then publishes
        ``ftrack.api.session.reset`` to the event hub's subscribers
        (synchronously, as ftrack_api)."""
        with exception.translate():
            self._native.reset()
        self._entities = weakref.WeakValueDictionary()
        self._event_hub.publish(Event(topic="ftrack.api.session.reset", data=dict(session=self)), synchronous=True)

    # ---- host hooks (libftrack's own; ftrack_api has none) ----

    LOG_LEVELS = {"error": 1, "warning": 2, "info": 3, "debug": 4}

    def cancel(self):
        """Makes every call of this session in flight now (on any thread) raise
        an error with ``status_name == "FTRACK_STATUS_CANCELLED"``; a cancelled
        commit keeps its operations."""
        with exception.translate():
            self._native.cancel()

    def set_logger(self, callback, level="info"):
        """Sends log lines (requests, retries, failures; never the API key) of
        ``level`` ("error", "warning", "info", "debug") and more severe to
        ``callback(level_name, message)``; ``None`` stops logging. The callback
        runs on the thread of the call that logs (for the pages a paged query
        requests ahead, on the library threads that fetch them), before that
        call returns."""
        names = {v: k for k, v in self.LOG_LEVELS.items()}
        if level not in self.LOG_LEVELS:
            raise ValueError("level must be one of %s" % ", ".join(sorted(self.LOG_LEVELS)))
        with exception.translate():
            if callback is None:
                self._native.set_logger(self.LOG_LEVELS[level], None)
            else:
                self._native.set_logger(
                    self.LOG_LEVELS[level], lambda lvl, message: callback(names.get(lvl, "info"), message)
                )

    def set_progress(self, callback):
        """Reports long operations as ``callback(operation, done, total)``
        (``operation`` is "query" or "commit"; ``total`` is None when unknown);
        returning False cancels the operation. ``None`` stops reporting."""
        with exception.translate():
            if callback is None:
                self._native.set_progress(None)
            else:
                self._native.set_progress(
                    lambda operation, done, total: bool(callback(operation, done, None if total < 0 else total))
                )

    def close(self):
        """Closes the session (uncommitted operations are discarded) and its
        event hub's connection."""
        if self._native is not None:
            if self._event_hub is not None:
                self._event_hub._close()
            self._native.close()
            self._native = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    @contextlib.contextmanager
    def auto_populating(self, auto_populate):
        """``with session.auto_populating(False):`` — auto-populate for the block."""
        before = self.auto_populate
        self.auto_populate = auto_populate
        try:
            yield
        finally:
            self.auto_populate = before

    @contextlib.contextmanager
    def operation_recording(self, record_operations):
        """``with session.operation_recording(False):`` — recording for the block."""
        before = self.record_operations
        self.record_operations = record_operations
        try:
            yield
        finally:
            self.record_operations = before

    def _recorded_operations(self):
        with exception.translate():
            raw = self._native.recorded_operations()
        out = []
        for op in raw:
            kind, ty = op["kind"], op["entity_type"]
            key = None
            if ty is not None:
                names = self._schema(ty).get("primary_key") or ["id"]
                values = op["entity_key"].split(",") if len(names) > 1 else [op["entity_key"]]
                key = dict(zip(names, values))
            if kind == "create":
                out.append(_operation.CreateEntityOperation(ty, key, op["value"]))
            elif kind == "update":
                out.append(_operation.UpdateEntityOperation(ty, key, op["attribute"], None, op["value"]))
            elif kind == "delete":
                out.append(_operation.DeleteEntityOperation(ty, key))
            else:
                out.append(_operation.ActionOperation(kind, op["value"]))
        return out
