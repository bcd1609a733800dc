"""Entities and collections, shaped like ``ftrack_api``'s: ``entity['name']``,
``entity['name'] = value``, ``keys()``, ``items()``, ``entity.entity_type``,
and list-like collections."""

import collections.abc
import datetime

from . import exception
from ._native import ft

_EPOCH = datetime.datetime(1970, 1, 1, tzinfo=datetime.timezone.utc)


def to_micros(value):
    """Microseconds since the epoch, UTC; a naive datetime is taken as UTC."""
    if isinstance(value, datetime.datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=datetime.timezone.utc)
        delta = value - _EPOCH
    else:  # a date
        delta = datetime.datetime(value.year, value.month, value.day, tzinfo=datetime.timezone.utc) - _EPOCH
    return (delta.days * 86400 + delta.seconds) * 1000000 + delta.microseconds


def from_micros(micros):
    """A timezone-aware (UTC) datetime."""
    return _EPOCH + datetime.timedelta(microseconds=micros)


def to_json(value):
    """A Python value as the wire JSON the C ABI takes."""
    if isinstance(value, Entity):
        return value._reference()
    if isinstance(value, (datetime.datetime, datetime.date)):
        return {"__type__": "datetime", "value": from_micros(to_micros(value)).isoformat()}
    if isinstance(value, (list, tuple, Collection)):
        return [to_json(v) for v in value]
    if isinstance(value, dict):
        return {k: to_json(v) for k, v in value.items()}
    return value


class Entity(collections.abc.Mapping):
    """One entity of a session. Two Entity objects of the same session and
    primary key are equal (and the session hands out one object per entity
    while it is in use)."""

    __slots__ = ("_session", "_handle", "_type", "_id", "__weakref__")

    def __init__(self, session, handle):
        self._session = session
        self._handle = handle
        with exception.translate():
            self._type = handle.entity_type
            self._id = handle.id

    @property
    def entity_type(self):
        """The entity type name, e.g. ``"User"``."""
        return self._type

    @property
    def session(self):
        return self._session

    @property
    def primary_key_condition(self):
        return self._reference()

    def _reference(self):
        keys = self._session._schema(self._type).get("primary_key") or ["id"]
        values = self._id.split(",") if len(keys) > 1 else [self._id]
        ref = {"__entity_type__": self._type}
        ref.update(zip(keys, values))
        return ref

    # ---- mapping ----

    def __getitem__(self, key):
        kind = self._session._kind(self._type, key)
        with exception.translate():
            if kind == "collection":
                return Collection(self, key)
            if kind == "reference":
                e = self._handle.get_entity(key)
                return None if e is None else self._session._wrap(e)
            if kind == "datetime":
                if self._handle.is_null(key):
                    return None
                return from_micros(self._handle.get_datetime(key))
            return self._handle.get_json(key)

    def __setitem__(self, key, value):
        kind = self._session._kind(self._type, key)
        with exception.translate():
            if value is None:
                self._handle.set_null(key)
            elif isinstance(value, Entity):
                self._handle.set_entity(key, value._handle)
            elif kind == "datetime" and isinstance(value, (datetime.datetime, datetime.date)):
                self._handle.set_datetime(key, to_micros(value))
            else:
                self._handle.set_json(key, to_json(value))

    def keys(self):
        """The attribute names of the type (derived collections included)."""
        return list(self._session._schema(self._type).get("properties", {}).keys())

    def __iter__(self):
        return iter(self.keys())

    def __len__(self):
        return len(self.keys())

    def __contains__(self, key):
        return key in self._session._schema(self._type).get("properties", {})

    def values(self):
        return [self[k] for k in self.keys()]

    def items(self):
        return [(k, self[k]) for k in self.keys()]

    def get(self, key, default=None):
        try:
            return self[key]
        except KeyError:
            return default

    # ---- identity ----

    def __eq__(self, other):
        return (
            isinstance(other, Entity)
            and other._session is self._session
            and other._type == self._type
            and other._id == self._id
        )

    def __ne__(self, other):
        return not self == other

    def __hash__(self):
        return hash((id(self._session), self._type, self._id))

    def __repr__(self):
        return "<%s(%s)>" % (self._type, self._id)


class Collection(collections.abc.Sequence):
    """A collection attribute as a list: ``len``, iteration, ``in``, indexing,
    ``append``, ``remove``, ``extend``. Each read reflects the session's current
    value (pending changes included); ``append``/``remove`` record the change
    for ``commit``."""

    def __init__(self, entity, attribute):
        self.entity = entity
        self.attribute = attribute

    def _items(self):
        with exception.translate():
            listed = self.entity._handle.get_list(self.attribute)
            try:
                return [self.entity._session._wrap(e) for e in listed]
            finally:
                listed.close()

    def __len__(self):
        return len(self._items())

    def __iter__(self):
        return iter(self._items())

    def __getitem__(self, index):
        return self._items()[index]

    def __contains__(self, item):
        return item in self._items()

    def append(self, item):
        """Adds ``item`` (an Entity of this session) and records the change."""
        self._change(item, True)

    def remove(self, item):
        """Removes ``item`` and records the change (an error when absent)."""
        self._change(item, False)

    def extend(self, items):
        for item in items:
            self.append(item)

    def _change(self, item, append):
        if not isinstance(item, Entity):
            raise TypeError("collections hold entities; got %r" % (item,))
        with exception.translate({ft.Status.NOT_FOUND: exception.CollectionError}):
            if append:
                self.entity._handle.append(self.attribute, item._handle)
            else:
                self.entity._handle.remove(self.attribute, item._handle)

    def __eq__(self, other):
        if isinstance(other, (Collection, list, tuple)):
            return list(self) == list(other)
        return NotImplemented

    def __repr__(self):
        return "<Collection(%r.%s: %r)>" % (self.entity, self.attribute, self._items())
