"""ftrack_ctypes: a thin ctypes binding of the libftrack C ABI (include/ftrack.h).

The library is loaded from ``$FTRACK_LIBRARY`` (a path to ``libftrack.so``), else
from ``libftrack.so`` beside this file, else from the system search path.

Every failing call raises :class:`FtrackError` with ``.status`` (the numeric
``ftrack_status``), ``.name`` (e.g. ``"FTRACK_STATUS_NOT_FOUND"``) and
``.message`` (this thread's last error: what failed and what to do; never the
API key). Handles are freed by ``close()``, by ``with`` blocks, or when garbage
collected. Strings are ``str`` in and out (UTF-8)::

    import ftrack_ctypes as ft
    with ft.Session() as session:            # FTRACK_SERVER / FTRACK_API_KEY / FTRACK_API_USER
        for user in session.query("select username from User"):
            print(user.get_string("username"))
"""

import ctypes
import json
import os
from ctypes import POINTER, byref, c_bool, c_char, c_char_p, c_double, c_int64, c_size_t, c_uint32, c_uint64, c_void_p

__all__ = [
    "EVENT_CALLBACK_FN", "FtrackError", "Session", "SessionOptions", "Entity", "EntityList", "Status", "event_json",
    "event_set_reply", "expression_matches", "library", "version",
]


class Status:
    """The ftrack_status values of ftrack.h."""

    OK = 0
    INVALID_ARGUMENT = 100
    NULL_POINTER = 101
    INVALID_UTF8 = 102
    BUFFER_TOO_SMALL = 103
    MISSING_CONFIGURATION = 104
    CONNECTION = 200
    TIMEOUT = 201
    TLS = 202
    PROTOCOL = 203
    CANCELLED = 204
    SERVER = 300
    AUTHENTICATION = 301
    PERMISSION_DENIED = 302
    VALIDATION = 303
    INCOMPATIBLE_SERVER = 304
    QUERY_SYNTAX = 400
    NOT_FOUND = 401
    MULTIPLE_RESULTS = 402
    UNKNOWN_ATTRIBUTE = 403
    TYPE_MISMATCH = 404
    UNKNOWN_ENTITY_TYPE = 405
    ROLE_ALREADY_ASSIGNED = 500
    ROLE_NOT_ASSIGNED = 501
    ROLE_NOT_ASSIGNABLE = 502
    PROJECT_ALREADY_GRANTED = 503
    PROJECT_NOT_GRANTED = 504
    PANIC = 900
    POISONED = 901
    INTERNAL = 999


def _load():
    candidates = []
    if os.environ.get("FTRACK_LIBRARY"):
        candidates.append(os.environ["FTRACK_LIBRARY"])
    candidates.append(os.path.join(os.path.dirname(os.path.abspath(__file__)), "libftrack.so"))
    candidates.append("libftrack.so")
    errors = []
    for path in candidates:
        try:
            return ctypes.CDLL(path)
        except OSError as e:
            errors.append("%s: %s" % (path, e))
    raise OSError("libftrack not found; set FTRACK_LIBRARY to the path of libftrack.so (" + "; ".join(errors) + ")")


library = _load()

_status = c_uint32
_session_p = c_void_p
_handle_p = c_void_p


def _fn(name, restype, *argtypes):
    f = getattr(library, name)
    f.restype = restype
    f.argtypes = list(argtypes)
    return f


_buffer = (POINTER(c_char), c_size_t, POINTER(c_size_t))

_f = {
    "status_name": _fn("ftrack_status_name", c_char_p, c_uint32),
    "last_error_message": _fn("ftrack_last_error_message", _status, *_buffer),
    "last_call_reply": _fn("ftrack_last_call_reply", _status, *_buffer),
    "version_string": _fn("ftrack_version_string", c_char_p),
    "version_number": _fn("ftrack_version_number", c_uint32),
    # options
    "options_create": _fn("ftrack_session_options_create", _status, POINTER(c_void_p)),
    "options_destroy": _fn("ftrack_session_options_destroy", None, c_void_p),
    "options_set_server_url": _fn("ftrack_session_options_set_server_url", _status, c_void_p, c_char_p),
    "options_set_api_key": _fn("ftrack_session_options_set_api_key", _status, c_void_p, c_char_p),
    "options_set_api_user": _fn("ftrack_session_options_set_api_user", _status, c_void_p, c_char_p),
    "options_set_timeout_ms": _fn("ftrack_session_options_set_timeout_ms", _status, c_void_p, c_uint64),
    "options_add_header": _fn("ftrack_session_options_add_header", _status, c_void_p, c_char_p, c_char_p),
    "options_add_cookie": _fn("ftrack_session_options_add_cookie", _status, c_void_p, c_char_p, c_char_p),
    "options_set_strict_api": _fn("ftrack_session_options_set_strict_api", _status, c_void_p, c_bool),
    "options_set_auto_populate": _fn("ftrack_session_options_set_auto_populate", _status, c_void_p, c_bool),
    "options_set_idempotent_role_changes": _fn("ftrack_session_options_set_idempotent_role_changes", _status, c_void_p, c_bool),
    "options_set_record_operations": _fn("ftrack_session_options_set_record_operations", _status, c_void_p, c_bool),
    "options_set_schema_cache_path": _fn("ftrack_session_options_set_schema_cache_path", _status, c_void_p, c_char_p),
    "options_disable_schema_cache": _fn("ftrack_session_options_disable_schema_cache", _status, c_void_p),
    "options_set_page_size": _fn("ftrack_session_options_set_page_size", _status, c_void_p, c_size_t),
    "options_set_max_concurrent_pages": _fn("ftrack_session_options_set_max_concurrent_pages", _status, c_void_p, c_size_t),
    "options_set_max_attempts": _fn("ftrack_session_options_set_max_attempts", _status, c_void_p, c_uint32),
    "options_set_retry_delay_ms": _fn("ftrack_session_options_set_retry_delay_ms", _status, c_void_p, c_uint64),
    "options_set_ca_bundle_path": _fn("ftrack_session_options_set_ca_bundle_path", _status, c_void_p, c_char_p),
    "options_set_persistent_cache_path": _fn(
        "ftrack_session_options_set_persistent_cache_path", _status, c_void_p, c_char_p
    ),
    # session
    "session_create": _fn("ftrack_session_create", _status, c_char_p, c_char_p, c_char_p, POINTER(c_void_p)),
    "session_create_with_options": _fn(
        "ftrack_session_create_with_options", _status, c_void_p, POINTER(c_void_p)
    ),
    "session_destroy": _fn("ftrack_session_destroy", None, c_void_p),
    "session_query": _fn("ftrack_session_query", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "session_query_first": _fn("ftrack_session_query_first", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "session_query_one": _fn("ftrack_session_query_one", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "session_create_entity": _fn(
        "ftrack_session_create_entity", _status, c_void_p, c_char_p, c_char_p, POINTER(c_void_p)
    ),
    "session_delete_entity": _fn("ftrack_session_delete_entity", _status, c_void_p, c_void_p),
    "session_commit": _fn("ftrack_session_commit", _status, c_void_p),
    "session_rollback": _fn("ftrack_session_rollback", _status, c_void_p),
    "session_pending_count": _fn("ftrack_session_pending_count", _status, c_void_p, POINTER(c_size_t)),
    "session_pending_json": _fn("ftrack_session_pending_json", _status, c_void_p, *_buffer),
    "session_call": _fn("ftrack_session_call", _status, c_void_p, c_char_p, *_buffer),
    # lists
    "list_len": _fn("ftrack_entity_list_len", c_size_t, c_void_p),
    "list_get": _fn("ftrack_entity_list_get", _status, c_void_p, c_size_t, POINTER(c_void_p)),
    "list_destroy": _fn("ftrack_entity_list_destroy", None, c_void_p),
    # entities
    "entity_destroy": _fn("ftrack_entity_destroy", None, c_void_p),
    "entity_type_name": _fn("ftrack_entity_type_name", _status, c_void_p, *_buffer),
    "entity_id": _fn("ftrack_entity_id", _status, c_void_p, *_buffer),
    "entity_get_string": _fn("ftrack_entity_get_string", _status, c_void_p, c_char_p, *_buffer),
    "entity_get_json": _fn("ftrack_entity_get_json", _status, c_void_p, c_char_p, *_buffer),
    "entity_get_bool": _fn("ftrack_entity_get_bool", _status, c_void_p, c_char_p, POINTER(c_bool)),
    "entity_get_int64": _fn("ftrack_entity_get_int64", _status, c_void_p, c_char_p, POINTER(c_int64)),
    "entity_get_double": _fn("ftrack_entity_get_double", _status, c_void_p, c_char_p, POINTER(c_double)),
    "entity_get_datetime": _fn("ftrack_entity_get_datetime", _status, c_void_p, c_char_p, POINTER(c_int64)),
    "entity_is_null": _fn("ftrack_entity_is_null", _status, c_void_p, c_char_p, POINTER(c_bool)),
    "entity_get_entity": _fn("ftrack_entity_get_entity", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "entity_get_list": _fn("ftrack_entity_get_list", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "entity_set_string": _fn("ftrack_entity_set_string", _status, c_void_p, c_char_p, c_char_p),
    "entity_set_bool": _fn("ftrack_entity_set_bool", _status, c_void_p, c_char_p, c_bool),
    "entity_set_int64": _fn("ftrack_entity_set_int64", _status, c_void_p, c_char_p, c_int64),
    "entity_set_double": _fn("ftrack_entity_set_double", _status, c_void_p, c_char_p, c_double),
    "entity_set_datetime": _fn("ftrack_entity_set_datetime", _status, c_void_p, c_char_p, c_int64),
    "entity_set_null": _fn("ftrack_entity_set_null", _status, c_void_p, c_char_p),
    "entity_set_entity": _fn("ftrack_entity_set_entity", _status, c_void_p, c_char_p, c_void_p),
    "entity_set_json": _fn("ftrack_entity_set_json", _status, c_void_p, c_char_p, c_char_p),
    "entity_collection_append": _fn("ftrack_entity_collection_append", _status, c_void_p, c_char_p, c_void_p),
    "entity_collection_remove": _fn("ftrack_entity_collection_remove", _status, c_void_p, c_char_p, c_void_p),
    # security roles (issue 4)
    "security_roles": _fn("ftrack_security_roles", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "security_role_find": _fn("ftrack_security_role_find", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "user_find": _fn("ftrack_user_find", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "project_find": _fn("ftrack_project_find", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "user_security_roles": _fn("ftrack_user_security_roles", _status, c_void_p, c_void_p, POINTER(c_void_p)),
    "user_role_append": _fn("ftrack_user_role_append", _status, c_void_p, c_void_p, c_void_p, c_bool),
    "user_role_remove": _fn("ftrack_user_role_remove", _status, c_void_p, c_void_p, c_void_p),
    "user_role_replace": _fn("ftrack_user_role_replace", _status, c_void_p, c_void_p, c_void_p, c_void_p),
    "user_role_grant_project": _fn("ftrack_user_role_grant_project", _status, c_void_p, c_void_p, c_void_p, c_void_p),
    "user_role_revoke_project": _fn(
        "ftrack_user_role_revoke_project", _status, c_void_p, c_void_p, c_void_p, c_void_p
    ),
    "security_role_audit_json": _fn("ftrack_security_role_audit_json", _status, c_void_p, *_buffer),
    # the ftrack_api-shaped surface (issue 8)
    "session_get": _fn("ftrack_session_get", _status, c_void_p, c_char_p, c_char_p, POINTER(c_void_p)),
    "session_ensure": _fn(
        "ftrack_session_ensure", _status, c_void_p, c_char_p, c_char_p, c_char_p, POINTER(c_void_p)
    ),
    "session_populate": _fn("ftrack_session_populate", _status, c_void_p, POINTER(c_void_p), c_size_t, c_char_p),
    "session_reset": _fn("ftrack_session_reset", _status, c_void_p),
    "session_set_auto_populate": _fn("ftrack_session_set_auto_populate", _status, c_void_p, c_bool),
    "session_get_auto_populate": _fn("ftrack_session_get_auto_populate", _status, c_void_p, POINTER(c_bool)),
    "session_set_record_operations": _fn("ftrack_session_set_record_operations", _status, c_void_p, c_bool),
    "session_get_record_operations": _fn(
        "ftrack_session_get_record_operations", _status, c_void_p, POINTER(c_bool)
    ),
    "session_recorded_operations_json": _fn(
        "ftrack_session_recorded_operations_json", _status, c_void_p, *_buffer
    ),
    "session_entity_schema_json": _fn("ftrack_session_entity_schema_json", _status, c_void_p, c_char_p, *_buffer),
    "session_entity_types_json": _fn("ftrack_session_entity_types_json", _status, c_void_p, *_buffer),
    "options_set_security_roles_all_open_projects": _fn(
        "ftrack_session_options_set_security_roles_all_open_projects", _status, c_void_p, c_bool
    ),
    "session_query_cursor": _fn(
        "ftrack_session_query_cursor", _status, c_void_p, c_char_p, c_size_t, POINTER(c_void_p)
    ),
    "query_cursor_next_page": _fn("ftrack_query_cursor_next_page", _status, c_void_p, POINTER(c_void_p)),
    "query_cursor_destroy": _fn("ftrack_query_cursor_destroy", None, c_void_p),
    # library-owned strings, host hooks, client limits, bulk users, entity clones
    "string_data": _fn("ftrack_string_data", ctypes.c_void_p, c_void_p),
    "string_len": _fn("ftrack_string_len", c_size_t, c_void_p),
    "string_destroy": _fn("ftrack_string_destroy", None, c_void_p),
    "session_pending_json_string": _fn("ftrack_session_pending_json_string", _status, c_void_p, POINTER(c_void_p)),
    "session_call_string": _fn("ftrack_session_call_string", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "security_role_audit_json_string": _fn(
        "ftrack_security_role_audit_json_string", _status, c_void_p, POINTER(c_void_p)
    ),
    "entity_clone": _fn("ftrack_entity_clone", _status, c_void_p, POINTER(c_void_p)),
    "users": _fn("ftrack_users", _status, c_void_p, c_char_p, POINTER(c_void_p)),
    "session_cancel": _fn("ftrack_session_cancel", _status, c_void_p),
    "session_set_logger": _fn("ftrack_session_set_logger", _status, c_void_p, c_uint32, c_void_p, c_void_p),
    "session_set_progress": _fn("ftrack_session_set_progress", _status, c_void_p, c_void_p, c_void_p),
    "options_set_logger": _fn("ftrack_session_options_set_logger", _status, c_void_p, c_uint32, c_void_p, c_void_p),
    "options_set_connect_timeout_ms": _fn("ftrack_session_options_set_connect_timeout_ms", _status, c_void_p, c_uint64),
    "options_set_request_deadline_ms": _fn(
        "ftrack_session_options_set_request_deadline_ms", _status, c_void_p, c_uint64
    ),
    "options_set_max_reply_bytes": _fn("ftrack_session_options_set_max_reply_bytes", _status, c_void_p, c_uint64),
    "options_set_allow_insecure_http": _fn("ftrack_session_options_set_allow_insecure_http", _status, c_void_p, c_bool),
    # events and plugins (the Session methods event_hub_* below wrap them; the
    # libftrack package builds ftrack_api's EventHub on those)
    "options_set_auto_connect_event_hub": _fn(
        "ftrack_session_options_set_auto_connect_event_hub", _status, c_void_p, c_bool
    ),
    "options_set_event_dispatch_thread": _fn(
        "ftrack_session_options_set_event_dispatch_thread", _status, c_void_p, c_bool
    ),
    "options_add_plugin_path": _fn("ftrack_session_options_add_plugin_path", _status, c_void_p, c_char_p),
    "options_set_plugin_arguments": _fn("ftrack_session_options_set_plugin_arguments", _status, c_void_p, c_char_p),
    "event_hub_connect": _fn("ftrack_event_hub_connect", _status, c_void_p, c_uint64),
    "event_hub_disconnect": _fn("ftrack_event_hub_disconnect", _status, c_void_p),
    "event_hub_is_connected": _fn("ftrack_event_hub_is_connected", _status, c_void_p, POINTER(c_bool)),
    "event_hub_dispatch": _fn("ftrack_event_hub_dispatch", _status, c_void_p, c_uint64, POINTER(c_size_t)),
    "event_hub_publish": _fn("ftrack_event_hub_publish", _status, c_void_p, c_char_p, c_char_p, c_char_p),
    "event_hub_publish_and_wait": _fn(
        "ftrack_event_hub_publish_and_wait", _status, c_void_p, c_char_p, c_char_p, c_char_p, c_uint64,
        POINTER(c_void_p),
    ),
    "event_hub_subscribe": _fn(
        "ftrack_event_hub_subscribe", _status, c_void_p, c_char_p, c_char_p, ctypes.c_int32, c_void_p, c_void_p,
        *_buffer
    ),
    "event_hub_unsubscribe": _fn("ftrack_event_hub_unsubscribe", _status, c_void_p, c_char_p),
    "event_hub_id": _fn("ftrack_event_hub_id", _status, c_void_p, *_buffer),
    "event_hub_publish_event": _fn(
        "ftrack_event_hub_publish_event", _status, c_void_p, c_char_p, c_void_p, c_void_p, *_buffer
    ),
    "event_json": _fn("ftrack_event_json", _status, c_void_p, *_buffer),
    "event_expression_matches": _fn("ftrack_event_expression_matches", _status, c_char_p, c_char_p, POINTER(c_bool)),
    "event_id": _fn("ftrack_event_id", _status, c_void_p, *_buffer),
    "event_topic": _fn("ftrack_event_topic", _status, c_void_p, *_buffer),
    "event_data_json": _fn("ftrack_event_data_json", _status, c_void_p, *_buffer),
    "event_data_get": _fn("ftrack_event_data_get", _status, c_void_p, c_char_p, *_buffer),
    "event_source_json": _fn("ftrack_event_source_json", _status, c_void_p, *_buffer),
    "event_set_reply": _fn("ftrack_event_set_reply", _status, c_void_p, c_char_p),
    "event_destroy": _fn("ftrack_event_destroy", None, c_void_p),
}

#: ``ftrack_event_callback_fn``: (user_data, event) -> int.
EVENT_CALLBACK_FN = ctypes.CFUNCTYPE(ctypes.c_int, c_void_p, c_void_p)

#: ``ftrack_log_fn``: (user_data, level, message).
LOG_FN = ctypes.CFUNCTYPE(None, c_void_p, c_uint32, c_char_p)
#: ``ftrack_progress_fn``: (user_data, operation, done, total) -> non-zero to cancel.
PROGRESS_FN = ctypes.CFUNCTYPE(ctypes.c_int, c_void_p, c_char_p, c_uint64, c_int64)


def _take_string(call):
    """Runs a call that returns a library-owned ftrack_string; returns its text."""
    out = c_void_p()
    status = call(byref(out))
    try:
        _check(status)
        data = _f["string_data"](out.value)
        return ctypes.string_at(data, _f["string_len"](out.value)).decode("utf-8")
    finally:
        if out.value:
            _f["string_destroy"](out.value)


def status_name(status):
    """The name of a status, e.g. ``"FTRACK_STATUS_NOT_FOUND"``."""
    return _f["status_name"](status).decode("ascii")


def version():
    """The library version string (e.g. ``"0.1.0"``)."""
    return _f["version_string"]().decode("ascii")


def _read(fill):
    """Runs a buffer-pattern call, growing the buffer once; returns (status, text)."""
    size = 256
    for _ in range(2):
        buffer = ctypes.create_string_buffer(size)
        needed = c_size_t(0)
        status = fill(buffer, size, byref(needed))
        if status != Status.BUFFER_TOO_SMALL:
            return status, buffer.raw[: max(needed.value - 1, 0)].decode("utf-8")
        size = needed.value
    return status, ""


def event_json(event):
    """An ``ftrack_event *`` (as handed to an event callback) decoded from
    ``ftrack_event_json``: a dict with ``id``, ``topic``, ``data``, ``source``,
    ``target``, ``inReplyToEvent`` and ``sent`` (the wire form)."""
    return json.loads(_text(lambda b, n, o: _f["event_json"](event, b, n, o)))


def event_set_reply(event, data_json):
    """Sets the reply (JSON text) an event callback sends back for ``event``."""
    _check(_f["event_set_reply"](event, _utf8(data_json)))


def expression_matches(expression, value_json):
    """Whether a subscription expression matches a JSON value (text): an event
    in the form of :func:`event_json`, or subscriber metadata for a target."""
    out = c_bool(False)
    _check(_f["event_expression_matches"](_utf8(expression), _utf8(value_json), byref(out)))
    return out.value


def last_error_message():
    """This thread's last error message."""
    status, text = _read(lambda b, n, o: _f["last_error_message"](b, n, o))
    return text if status == Status.OK else ""


class FtrackError(Exception):
    """A libftrack call failed: ``status``, ``name`` and ``message``."""

    def __init__(self, status, message):
        self.status = status
        self.name = status_name(status)
        self.message = message
        super().__init__("%s: %s" % (self.name, message))


def _check(status):
    if status != Status.OK:
        raise FtrackError(status, last_error_message())


def _text(fill):
    status, text = _read(fill)
    _check(status)
    return text


def _utf8(value, what="argument"):
    if value is None:
        return None
    if isinstance(value, bytes):
        return value
    return str(value).encode("utf-8")


class _Handle:
    """Owns one C handle; freed by close(), ``with`` or garbage collection."""

    _destroy = None

    def __init__(self, raw):
        self._raw = raw

    @property
    def raw(self):
        if not self._raw:
            raise ValueError("%s is closed" % type(self).__name__)
        return self._raw

    def close(self):
        raw, self._raw = getattr(self, "_raw", None), None
        if raw:
            _f[self._destroy](raw)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    def __del__(self):
        try:
            self.close()
        except Exception:
            pass


class Entity(_Handle):
    """One entity of a session's cache (the handle, not the server entity)."""

    _destroy = "entity_destroy"

    def __repr__(self):
        return "Entity(%s, %s)" % (self.entity_type, self.id) if self._raw else "Entity(closed)"

    @property
    def entity_type(self):
        return _text(lambda b, n, o: _f["entity_type_name"](self.raw, b, n, o))

    @property
    def id(self):
        return _text(lambda b, n, o: _f["entity_id"](self.raw, b, n, o))

    def get_string(self, attribute):
        return _text(lambda b, n, o: _f["entity_get_string"](self.raw, _utf8(attribute), b, n, o))

    def get_json(self, attribute):
        """Any attribute, decoded from its wire JSON."""
        return json.loads(_text(lambda b, n, o: _f["entity_get_json"](self.raw, _utf8(attribute), b, n, o)))

    def _scalar(self, fn, ctype, attribute):
        value = ctype()
        _check(_f[fn](self.raw, _utf8(attribute), byref(value)))
        return value.value

    def get_bool(self, attribute):
        return self._scalar("entity_get_bool", c_bool, attribute)

    def get_int64(self, attribute):
        return self._scalar("entity_get_int64", c_int64, attribute)

    def get_double(self, attribute):
        return self._scalar("entity_get_double", c_double, attribute)

    def get_datetime(self, attribute):
        """Microseconds since the Unix epoch, UTC."""
        return self._scalar("entity_get_datetime", c_int64, attribute)

    def is_null(self, attribute):
        return self._scalar("entity_is_null", c_bool, attribute)

    def get_entity(self, attribute):
        """The referenced entity, or None for a null reference."""
        out = c_void_p()
        _check(_f["entity_get_entity"](self.raw, _utf8(attribute), byref(out)))
        return Entity(out.value) if out.value else None

    def get_list(self, attribute):
        out = c_void_p()
        _check(_f["entity_get_list"](self.raw, _utf8(attribute), byref(out)))
        return EntityList(out.value)

    def set_string(self, attribute, value):
        _check(_f["entity_set_string"](self.raw, _utf8(attribute), _utf8(value)))

    def set_bool(self, attribute, value):
        _check(_f["entity_set_bool"](self.raw, _utf8(attribute), bool(value)))

    def set_int64(self, attribute, value):
        _check(_f["entity_set_int64"](self.raw, _utf8(attribute), int(value)))

    def set_double(self, attribute, value):
        _check(_f["entity_set_double"](self.raw, _utf8(attribute), float(value)))

    def set_datetime(self, attribute, microseconds_utc):
        _check(_f["entity_set_datetime"](self.raw, _utf8(attribute), int(microseconds_utc)))

    def set_null(self, attribute):
        _check(_f["entity_set_null"](self.raw, _utf8(attribute)))

    def set_entity(self, attribute, value):
        _check(_f["entity_set_entity"](self.raw, _utf8(attribute), value.raw))

    def set_json(self, attribute, value):
        """Sets any attribute from a Python value (encoded as JSON)."""
        _check(_f["entity_set_json"](self.raw, _utf8(attribute), _utf8(json.dumps(value))))

    def clone(self):
        """A new handle to the same entity (sharing its data)."""
        out = c_void_p()
        _check(_f["entity_clone"](self.raw, byref(out)))
        return Entity(out.value)

    def append(self, attribute, item):
        _check(_f["entity_collection_append"](self.raw, _utf8(attribute), item.raw))

    def remove(self, attribute, item):
        _check(_f["entity_collection_remove"](self.raw, _utf8(attribute), item.raw))


class EntityList(_Handle):
    """An immutable list of entities; indexing returns new Entity handles."""

    _destroy = "list_destroy"

    def __len__(self):
        return _f["list_len"](self.raw)

    def __getitem__(self, index):
        if index < 0:
            index += len(self)
        if not 0 <= index < len(self):
            raise IndexError(index)
        out = c_void_p()
        _check(_f["list_get"](self.raw, index, byref(out)))
        return Entity(out.value)

    def __iter__(self):
        for i in range(len(self)):
            yield self[i]


class QueryCursor(_Handle):
    """A lazy query result: ``next_page()`` sends one request per page."""

    _destroy = "query_cursor_destroy"

    def next_page(self):
        """The next page as an EntityList, or None when every page has been read."""
        out = c_void_p()
        _check(_f["query_cursor_next_page"](self.raw, byref(out)))
        return EntityList(out.value) if out.value else None


class SessionOptions(_Handle):
    """Session options; every setter returns self for chaining."""

    _destroy = "options_destroy"

    def __init__(self):
        out = c_void_p()
        _check(_f["options_create"](byref(out)))
        super().__init__(out.value)

    def _set(self, fn, *args):
        _check(_f[fn](self.raw, *args))
        return self

    def server_url(self, v):
        return self._set("options_set_server_url", _utf8(v))

    def api_key(self, v):
        return self._set("options_set_api_key", _utf8(v))

    def api_user(self, v):
        return self._set("options_set_api_user", _utf8(v))

    def timeout_ms(self, v):
        return self._set("options_set_timeout_ms", int(v))

    def header(self, name, value):
        return self._set("options_add_header", _utf8(name), _utf8(value))

    def cookie(self, name, value):
        return self._set("options_add_cookie", _utf8(name), _utf8(value))

    def strict_api(self, v):
        return self._set("options_set_strict_api", bool(v))

    def auto_populate(self, v):
        return self._set("options_set_auto_populate", bool(v))

    def idempotent_role_changes(self, v):
        return self._set("options_set_idempotent_role_changes", bool(v))

    def record_operations(self, v):
        return self._set("options_set_record_operations", bool(v))

    def schema_cache_path(self, v):
        return self._set("options_set_schema_cache_path", _utf8(v))

    def disable_schema_cache(self):
        return self._set("options_disable_schema_cache")

    def page_size(self, v):
        return self._set("options_set_page_size", int(v))

    def max_concurrent_pages(self, v):
        return self._set("options_set_max_concurrent_pages", int(v))

    def max_attempts(self, v):
        return self._set("options_set_max_attempts", int(v))

    def retry_delay_ms(self, v):
        return self._set("options_set_retry_delay_ms", int(v))

    def ca_bundle_path(self, v):
        return self._set("options_set_ca_bundle_path", _utf8(v))

    def persistent_cache_path(self, v):
        return self._set("options_set_persistent_cache_path", _utf8(v))

    def connect_timeout_ms(self, v):
        return self._set("options_set_connect_timeout_ms", int(v))

    def request_deadline_ms(self, v):
        return self._set("options_set_request_deadline_ms", int(v))

    def max_reply_bytes(self, v):
        return self._set("options_set_max_reply_bytes", int(v))

    def allow_insecure_http(self, v):
        return self._set("options_set_allow_insecure_http", bool(v))

    def logger(self, level, callback):
        """Log lines of ``level`` (0 error .. 4 trace) and more severe go to
        ``callback(level, message)`` from session start-up on."""
        self._log_fn = LOG_FN(lambda _u, lvl, msg: callback(lvl, msg.decode("utf-8", "replace")))
        return self._set("options_set_logger", int(level), ctypes.cast(self._log_fn, c_void_p), None)

    def auto_connect_event_hub(self, v):
        """Connect the event hub in the background when the session starts."""
        return self._set("options_set_auto_connect_event_hub", bool(v))

    def event_dispatch_thread(self, v):
        """Run event callbacks on a library thread instead of in dispatch."""
        return self._set("options_set_event_dispatch_thread", bool(v))

    def plugin_path(self, path):
        """Adds a folder searched for plugin libraries ("" for none: turns off
        the FTRACK_EVENT_PLUGIN_PATH fallback)."""
        return self._set("options_add_plugin_path", _utf8(path))

    def plugin_arguments(self, arguments_json):
        """The arguments (a JSON object, as text) handed to plugin libraries."""
        return self._set("options_set_plugin_arguments", _utf8(arguments_json))

    def security_roles_all_open_projects(self, v):
        """Scope of roles appended through User.security_roles (default False: no project)."""
        return self._set("options_set_security_roles_all_open_projects", bool(v))


class Session(_Handle):
    """A connection to an ftrack server. Arguments left None come from the environment."""

    _destroy = "session_destroy"

    def __init__(self, server_url=None, api_key=None, api_user=None, options=None):
        out = c_void_p()
        if options is not None:
            _check(_f["session_create_with_options"](options.raw, byref(out)))
        else:
            _check(_f["session_create"](_utf8(server_url), _utf8(api_key), _utf8(api_user), byref(out)))
        super().__init__(out.value)

    def query(self, expression):
        out = c_void_p()
        _check(_f["session_query"](self.raw, _utf8(expression), byref(out)))
        return EntityList(out.value)

    def query_first(self, expression):
        """The first match, or None."""
        out = c_void_p()
        status = _f["session_query_first"](self.raw, _utf8(expression), byref(out))
        if status == Status.NOT_FOUND:
            return None
        _check(status)
        return Entity(out.value)

    def query_one(self, expression):
        out = c_void_p()
        _check(_f["session_query_one"](self.raw, _utf8(expression), byref(out)))
        return Entity(out.value)

    def create(self, entity_type, data=None):
        out = c_void_p()
        payload = _utf8(json.dumps(data or {}))
        _check(_f["session_create_entity"](self.raw, _utf8(entity_type), payload, byref(out)))
        return Entity(out.value)

    def delete(self, entity):
        _check(_f["session_delete_entity"](self.raw, entity.raw))

    def commit(self):
        _check(_f["session_commit"](self.raw))

    def rollback(self):
        _check(_f["session_rollback"](self.raw))

    @property
    def pending_count(self):
        out = c_size_t()
        _check(_f["session_pending_count"](self.raw, byref(out)))
        return out.value

    def pending(self):
        """The batch commit would send, decoded."""
        return json.loads(_text(lambda b, n, o: _f["session_pending_json"](self.raw, b, n, o)))

    def call(self, batch):
        """Sends a raw batch (a list of operations) once; returns the decoded answer."""
        encoded = _utf8(json.dumps(batch))
        sent = []

        def fill(b, n, o):
            if sent:
                return _f["last_call_reply"](b, n, o)
            sent.append(True)
            return _f["session_call"](self.raw, encoded, b, n, o)

        return json.loads(_text(fill))

    def pending_text(self):
        """The batch commit would send, as JSON text in one library-owned string."""
        return _take_string(lambda out: _f["session_pending_json_string"](self.raw, out))

    def call_text(self, batch_json):
        """Sends a raw batch (JSON text) once; returns the answer text."""
        return _take_string(lambda out: _f["session_call_string"](self.raw, _utf8(batch_json), out))

    def security_role_audit_text(self):
        """The audit JSON as text, in one library-owned string."""
        return _take_string(lambda out: _f["security_role_audit_json_string"](self.raw, out))

    def users(self, criteria=None):
        """Users (optionally matching a query condition) with their roles loaded."""
        out = c_void_p()
        _check(_f["users"](self.raw, _utf8(criteria), byref(out)))
        return EntityList(out.value)

    def cancel(self):
        """Cancels every call of this session in flight now, from any thread."""
        _check(_f["session_cancel"](self.raw))

    def set_logger(self, level, callback):
        """``callback(level, message)`` for log lines of ``level`` and more severe; None stops."""
        if callback is None:
            self._log_fn = None
            _check(_f["session_set_logger"](self.raw, int(level), None, None))
            return
        self._log_fn = LOG_FN(lambda _u, lvl, msg: callback(lvl, msg.decode("utf-8", "replace")))
        _check(_f["session_set_logger"](self.raw, int(level), ctypes.cast(self._log_fn, c_void_p), None))

    def set_progress(self, callback):
        """``callback(operation, done, total)`` returning True to go on; None stops."""
        if callback is None:
            self._progress_fn = None
            _check(_f["session_set_progress"](self.raw, None, None))
            return
        self._progress_fn = PROGRESS_FN(lambda _u, op, done, total: 0 if callback(op.decode(), done, total) else 1)
        _check(_f["session_set_progress"](self.raw, ctypes.cast(self._progress_fn, c_void_p), None))

    # ---- the event hub (ftrack_event_hub_*); callbacks are EVENT_CALLBACK_FN
    # objects the caller keeps alive as long as the session ----

    def event_hub_connect(self, timeout_ms):
        """Connects and waits up to ``timeout_ms`` (0: in the background)."""
        _check(_f["event_hub_connect"](self.raw, int(timeout_ms)))

    def event_hub_disconnect(self):
        """Disconnects; subscriptions are kept for the next connection."""
        _check(_f["event_hub_disconnect"](self.raw))

    def event_hub_connected(self):
        """Whether the event hub is connected now."""
        out = c_bool(False)
        _check(_f["event_hub_is_connected"](self.raw, byref(out)))
        return out.value

    def event_hub_id(self):
        """The hub's id: the ``source.id`` of what it publishes."""
        return _text(lambda b, n, o: _f["event_hub_id"](self.raw, b, n, o))

    def event_hub_subscribe(self, subscription, callback, subscriber_json=None, priority=100, user_data=None):
        """Subscribes ``callback`` (an EVENT_CALLBACK_FN, called with ``user_data``
        (an int or None) and the event); returns the subscriber id."""
        encoded = _utf8(subscriber_json)
        # Room for any id the metadata names, so the call is never repeated.
        size = 256 + (len(encoded) if encoded else 0)
        buffer = ctypes.create_string_buffer(size)
        _check(
            _f["event_hub_subscribe"](
                self.raw, _utf8(subscription), encoded, int(priority), ctypes.cast(callback, c_void_p), user_data,
                buffer, size, None,
            )
        )
        return buffer.value.decode("utf-8")

    def event_hub_unsubscribe(self, subscriber_id):
        _check(_f["event_hub_unsubscribe"](self.raw, _utf8(subscriber_id)))

    def event_hub_publish(self, topic, data_json=None, target=None):
        """Publishes ``topic`` with ``data_json`` (JSON text) to ``target`` (an expression)."""
        _check(_f["event_hub_publish"](self.raw, _utf8(topic), _utf8(data_json), _utf8(target)))

    def event_hub_publish_event(self, event_json, on_reply=None):
        """Publishes a whole event (JSON text); ``on_reply`` (an EVENT_CALLBACK_FN
        or None) runs for each reply where callbacks run. Returns the event id."""
        encoded = _utf8(event_json)
        # The id is the one in the event or a generated one: this always fits.
        size = len(encoded) + 64
        buffer = ctypes.create_string_buffer(size)
        reply = None if on_reply is None else ctypes.cast(on_reply, c_void_p)
        _check(_f["event_hub_publish_event"](self.raw, encoded, reply, None, buffer, size, None))
        return buffer.value.decode("utf-8")

    def event_hub_publish_and_wait(self, topic, data_json=None, target=None, timeout_ms=30000):
        """Publishes and waits for the first reply; returns it as :func:`event_json` does."""
        out = c_void_p()
        _check(
            _f["event_hub_publish_and_wait"](
                self.raw, _utf8(topic), _utf8(data_json), _utf8(target), int(timeout_ms), byref(out)
            )
        )
        try:
            return event_json(out.value)
        finally:
            _f["event_destroy"](out.value)

    def event_hub_dispatch(self, timeout_ms):
        """Runs the callbacks of arrived events on this thread; returns how many events."""
        handled = c_size_t(0)
        _check(_f["event_hub_dispatch"](self.raw, int(timeout_ms), byref(handled)))
        return handled.value

    # ---- the ftrack_api-shaped surface (issue 8) ----

    def get(self, entity_type, entity_id):
        """The entity with this id (cache first), or None."""
        out = c_void_p()
        status = _f["session_get"](self.raw, _utf8(entity_type), _utf8(entity_id), byref(out))
        if status == Status.NOT_FOUND:
            return None
        _check(status)
        return Entity(out.value)

    def ensure(self, entity_type, data, identifying_keys=None):
        """Gets or creates (and commits) the entity whose identifying values match."""
        out = c_void_p()
        keys = None if identifying_keys is None else _utf8(json.dumps(list(identifying_keys)))
        _check(_f["session_ensure"](self.raw, _utf8(entity_type), _utf8(json.dumps(data)), keys, byref(out)))
        return Entity(out.value)

    def populate(self, entities, projections):
        """Loads projections for the entities, one query per type."""
        entities = list(entities)
        array = (c_void_p * len(entities))(*[e.raw for e in entities])
        _check(_f["session_populate"](self.raw, array, len(entities), _utf8(projections)))

    def reset(self):
        """Clears the cache and the pending operations."""
        _check(_f["session_reset"](self.raw))

    def query_cursor(self, expression, page_size=0):
        """A lazy result (QueryCursor); page_size 0 uses the session's page size."""
        out = c_void_p()
        _check(_f["session_query_cursor"](self.raw, _utf8(expression), int(page_size), byref(out)))
        return QueryCursor(out.value)

    def _flag(self, fn):
        out = c_bool()
        _check(_f[fn](self.raw, byref(out)))
        return out.value

    @property
    def auto_populate(self):
        return self._flag("session_get_auto_populate")

    @auto_populate.setter
    def auto_populate(self, on):
        _check(_f["session_set_auto_populate"](self.raw, bool(on)))

    @property
    def record_operations(self):
        return self._flag("session_get_record_operations")

    @record_operations.setter
    def record_operations(self, on):
        _check(_f["session_set_record_operations"](self.raw, bool(on)))

    def recorded_operations(self):
        """The recorded operations, decoded (see ftrack_session_recorded_operations_json)."""
        return json.loads(_text(lambda b, n, o: _f["session_recorded_operations_json"](self.raw, b, n, o)))

    def entity_schema(self, entity_type):
        """The schema of one type, decoded; derived collections are marked."""
        return json.loads(
            _text(lambda b, n, o: _f["session_entity_schema_json"](self.raw, _utf8(entity_type), b, n, o))
        )

    def entity_types(self):
        """The names of the entity types the server describes."""
        return json.loads(_text(lambda b, n, o: _f["session_entity_types_json"](self.raw, b, n, o)))

    # ---- security roles (issue 4); changes are recorded and sent by commit() ----

    def _find(self, fn, name):
        out = c_void_p()
        _check(_f[fn](self.raw, _utf8(name), byref(out)))
        return Entity(out.value)

    def security_roles(self, role_type=None):
        """Security roles, optionally of one type ("PROJECT", "ASSIGNED", "API")."""
        out = c_void_p()
        _check(_f["security_roles"](self.raw, _utf8(role_type), byref(out)))
        return EntityList(out.value)

    def find_security_role(self, name):
        return self._find("security_role_find", name)

    def find_user(self, username):
        return self._find("user_find", username)

    def find_project(self, name):
        return self._find("project_find", name)

    def user_security_roles(self, user):
        """The user's UserSecurityRole entities with role and granted projects loaded."""
        out = c_void_p()
        _check(_f["user_security_roles"](self.raw, user.raw, byref(out)))
        return EntityList(out.value)

    def role_append(self, user, role, all_open_projects=False):
        _check(_f["user_role_append"](self.raw, user.raw, role.raw, bool(all_open_projects)))

    def role_remove(self, user, role):
        _check(_f["user_role_remove"](self.raw, user.raw, role.raw))

    def role_replace(self, user, old_role, new_role):
        _check(_f["user_role_replace"](self.raw, user.raw, old_role.raw, new_role.raw))

    def grant_project(self, user, role, project):
        _check(_f["user_role_grant_project"](self.raw, user.raw, role.raw, project.raw))

    def revoke_project(self, user, role, project):
        _check(_f["user_role_revoke_project"](self.raw, user.raw, role.raw, project.raw))

    def security_role_audit(self):
        """Every user x role x scope, decoded (see ftrack_security_role_audit_json)."""
        return json.loads(_text(lambda b, n, o: _f["security_role_audit_json"](self.raw, b, n, o)))
