"""Recorded operations, as ``ftrack_api.operation`` names them: what
``session.recorded_operations`` holds until commit or rollback."""


class Operation(object):
    """Base of the recorded operations."""

    kind = None

    def __repr__(self):
        fields = ", ".join("%s=%r" % kv for kv in sorted(vars(self).items()))
        return "%s(%s)" % (type(self).__name__, fields)


class CreateEntityOperation(Operation):
    """An entity created with ``entity_data``."""

    kind = "create"

    def __init__(self, entity_type, entity_key, entity_data):
        self.entity_type = entity_type
        self.entity_key = entity_key
        self.entity_data = entity_data


class UpdateEntityOperation(Operation):
    """One attribute set. ``old_value`` is not tracked by libftrack (None)."""

    kind = "update"

    def __init__(self, entity_type, entity_key, attribute_name, old_value, new_value):
        self.entity_type = entity_type
        self.entity_key = entity_key
        self.attribute_name = attribute_name
        self.old_value = old_value
        self.new_value = new_value


class DeleteEntityOperation(Operation):
    """An entity deleted."""

    kind = "delete"

    def __init__(self, entity_type, entity_key):
        self.entity_type = entity_type
        self.entity_key = entity_key


class ActionOperation(Operation):
    """A non-entity action, e.g. ``add_user_security_role`` (libftrack's own
    type: ``ftrack_api`` sends these outside the recorded operations)."""

    def __init__(self, kind, data):
        self.kind = kind
        self.data = data


class RecordedOperations(object):
    """The pending operations, read from the session each time: sized,
    iterable, indexable. ``clear()`` discards them (as ``session.rollback()``)."""

    def __init__(self, session):
        self._session = session

    def _list(self):
        return self._session._recorded_operations()

    def __len__(self):
        return len(self._list())

    def __iter__(self):
        return iter(self._list())

    def __getitem__(self, index):
        return self._list()[index]

    def __bool__(self):
        return len(self) > 0

    def clear(self):
        self._session.rollback()

    def __repr__(self):
        return "RecordedOperations(%r)" % (self._list(),)
