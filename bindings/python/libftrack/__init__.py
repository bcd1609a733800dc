"""libftrack: a native ftrack API client shaped like ``ftrack_api``.

``import libftrack as ftrack_api`` makes ordinary ``ftrack_api`` scripts run on
the libftrack C library (bundled as ``libftrack.so``, loaded with ctypes)::

    import libftrack as ftrack_api
    session = ftrack_api.Session(server_url=..., api_key=..., api_user=...)
    user = session.query('User where username is "jane"').one()
    for role in user['security_roles']:
        print(role['name'])

Differences from ``ftrack_api`` are listed in ``bindings/README.md``.
"""

from . import cache, event, exception, operation, plugin, roles, session  # noqa: F401
from ._native import ft as _ft
from .entity import Collection, Entity  # noqa: F401
from .session import QueryResult, Session, SessionAuthentication  # noqa: F401

__version__ = _ft.version()
