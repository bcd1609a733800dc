"""Exceptions named as ``ftrack_api.exception``'s, so ``except
ftrack_api.exception.NoResultFoundError`` works unchanged. Every one carries
``status`` (the C ABI's ``ftrack_status`` number), ``status_name`` (e.g.
``"FTRACK_STATUS_NOT_FOUND"``) and ``message`` (what failed and what to do;
never the API key)."""

import builtins

from ._native import ft


class Error(Exception):
    """Base of every libftrack error."""

    default_status = ft.Status.INTERNAL

    def __init__(self, message=None, status=None, details=None):
        self.status = self.default_status if status is None else status
        self.status_name = ft.status_name(self.status)
        self.message = message or self.__class__.__name__
        self.details = details or {}
        super(Error, self).__init__(self.message)

    def __str__(self):
        return "%s (%s)" % (self.message, self.status_name)


class ServerError(Error):
    """The server reported an error, or could not be reached."""

    default_status = ft.Status.SERVER


class AuthenticationError(ServerError):
    """The server refused the API user or key. Also a ``ServerError``: with
    ``ftrack_api`` a refused key arrives as a ``ServerError``, so code catching
    that keeps working."""

    default_status = ft.Status.AUTHENTICATION


class ServerCompatibilityError(ServerError):
    """The server's version is not supported."""

    default_status = ft.Status.INCOMPATIBLE_SERVER


class PermissionDeniedError(ServerError):
    """The acting user may not do this (the server's security roles say no)."""

    default_status = ft.Status.PERMISSION_DENIED


class NotFoundError(Error):
    """Something looked up does not exist."""

    default_status = ft.Status.NOT_FOUND


class NotUniqueError(Error):
    """Something that must be unique is not."""

    default_status = ft.Status.MULTIPLE_RESULTS


class IncorrectResultError(Error):
    """A query gave an unexpected number of results."""

    default_status = ft.Status.NOT_FOUND


class NoResultFoundError(IncorrectResultError):
    """``one()`` found nothing."""

    default_status = ft.Status.NOT_FOUND


class MultipleResultsFoundError(IncorrectResultError):
    """``one()`` found more than one result."""

    default_status = ft.Status.MULTIPLE_RESULTS


class EntityTypeError(Error):
    """An entity type problem."""

    default_status = ft.Status.UNKNOWN_ENTITY_TYPE


class UnrecognisedEntityTypeError(EntityTypeError):
    """The server's schema has no such entity type."""

    default_status = ft.Status.UNKNOWN_ENTITY_TYPE


class OperationError(Error):
    """An operation could not be recorded or sent."""

    default_status = ft.Status.INVALID_ARGUMENT


class InvalidStateError(Error):
    """The entity is not in a state that allows this (deleted, rolled back)."""

    default_status = ft.Status.NOT_FOUND


class InvalidStateTransitionError(InvalidStateError):
    """An invalid state change."""


class AttributeError(Error, builtins.KeyError):  # noqa: A001 (ftrack_api's name)
    """An attribute problem: unknown names are also ``KeyError``, as in ftrack_api."""

    default_status = ft.Status.UNKNOWN_ATTRIBUTE

    def __str__(self):
        return Error.__str__(self)


class ImmutableAttributeError(AttributeError):
    """The attribute cannot be changed (e.g. a persisted primary key)."""

    default_status = ft.Status.INVALID_ARGUMENT


class AttributeTypeError(Error, builtins.TypeError):
    """A value of the wrong type for the attribute (libftrack's own name)."""

    default_status = ft.Status.TYPE_MISMATCH


class CollectionError(Error):
    """A collection change was refused."""

    default_status = ft.Status.INVALID_ARGUMENT


class ImmutableCollectionError(CollectionError):
    """The collection cannot be changed."""


class DuplicateItemInCollectionError(CollectionError):
    """The item is in the collection already."""


class ParseError(ServerError):
    """The query expression is not valid."""

    default_status = ft.Status.QUERY_SYNTAX


class EventHubError(Error):
    """An event hub call failed (``session.event_hub``)."""

    default_status = ft.Status.INVALID_ARGUMENT


class EventHubConnectionError(EventHubError):
    """The event hub is not connected, or could not connect."""

    default_status = ft.Status.CONNECTION


class EventHubPacketError(EventHubError):
    """The event hub received a bad packet."""


class SecurityRoleError(Error):
    """A security-role change was refused by validation (libftrack's own name;
    the message names the user, the role and the project)."""

    default_status = ft.Status.ROLE_ALREADY_ASSIGNED


class RoleAlreadyAssignedError(SecurityRoleError, DuplicateItemInCollectionError):
    """The user already holds the role."""

    default_status = ft.Status.ROLE_ALREADY_ASSIGNED


class RoleNotAssignedError(SecurityRoleError, builtins.ValueError):
    """The user does not hold the role (also ``ValueError``, as ``list.remove``)."""

    default_status = ft.Status.ROLE_NOT_ASSIGNED


class RoleNotAssignableError(SecurityRoleError):
    """The role cannot be given to a user (an API role)."""

    default_status = ft.Status.ROLE_NOT_ASSIGNABLE


class ProjectAlreadyGrantedError(SecurityRoleError):
    """The project is granted on the role already."""

    default_status = ft.Status.PROJECT_ALREADY_GRANTED


class ProjectNotGrantedError(SecurityRoleError):
    """The project is not granted on the role."""

    default_status = ft.Status.PROJECT_NOT_GRANTED


_BY_STATUS = {
    ft.Status.INVALID_ARGUMENT: OperationError,
    ft.Status.MISSING_CONFIGURATION: Error,
    ft.Status.CONNECTION: ServerError,
    ft.Status.TIMEOUT: ServerError,
    ft.Status.TLS: ServerError,
    ft.Status.PROTOCOL: ServerError,
    ft.Status.SERVER: ServerError,
    ft.Status.AUTHENTICATION: AuthenticationError,
    ft.Status.PERMISSION_DENIED: PermissionDeniedError,
    ft.Status.VALIDATION: ServerError,
    ft.Status.INCOMPATIBLE_SERVER: ServerCompatibilityError,
    ft.Status.QUERY_SYNTAX: ParseError,
    ft.Status.NOT_FOUND: NotFoundError,
    ft.Status.MULTIPLE_RESULTS: MultipleResultsFoundError,
    ft.Status.UNKNOWN_ATTRIBUTE: AttributeError,
    ft.Status.TYPE_MISMATCH: AttributeTypeError,
    ft.Status.UNKNOWN_ENTITY_TYPE: UnrecognisedEntityTypeError,
    ft.Status.ROLE_ALREADY_ASSIGNED: RoleAlreadyAssignedError,
    ft.Status.ROLE_NOT_ASSIGNED: RoleNotAssignedError,
    ft.Status.ROLE_NOT_ASSIGNABLE: RoleNotAssignableError,
    ft.Status.PROJECT_ALREADY_GRANTED: ProjectAlreadyGrantedError,
    ft.Status.PROJECT_NOT_GRANTED: ProjectNotGrantedError,
}


def from_native(error, override=None):
    """The exception for a failed C call (an ``FtrackError``); ``override`` maps
    statuses to other classes where the context knows better (e.g. ``one()``)."""
    cls = (override or {}).get(error.status) or _BY_STATUS.get(error.status, Error)
    return cls(error.message, status=error.status)


class _Translate(object):
    """``with translate():`` turns C-layer errors into these exceptions."""

    def __init__(self, override=None):
        self.override = override

    def __enter__(self):
        return self

    def __exit__(self, kind, value, tb):
        if value is not None and isinstance(value, ft.FtrackError):
            raise from_native(value, self.override) from None
        return False


def translate(override=None):
    return _Translate(override)
