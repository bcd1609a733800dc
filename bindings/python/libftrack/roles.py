"""The roles API of libftrack for Python: list roles by type, a user's roles
with their scope, and validated changes (append, remove, replace, grant,
revoke) recorded in the session's batch for ``session.commit()``, plus the
audit of every user's roles.

    from libftrack.roles import Roles
    roles = Roles(session)
    user, pm = roles.find_user("jane"), roles.find_role("Project Manager")
    roles.append(user, pm)                 # no project yet (least privilege)
    roles.grant(user, pm, roles.find_project("alpha"))
    session.commit()                       # one request, atomic
    for r in roles.user_roles(user):
        print(r.role["name"], r.scope_text)

Changes that break a rule raise :class:`libftrack.exception.SecurityRoleError`
subclasses whose message names the user, the role and the project.
"""

from . import exception


class UserRole(object):
    """One role a user holds: ``role`` (the SecurityRole), ``all_open_projects``,
    ``projects`` (the explicitly granted Project entities) and ``scope_text``."""

    def __init__(self, user_security_role, role, all_open_projects, projects):
        self.user_security_role = user_security_role
        self.role = role
        self.all_open_projects = all_open_projects
        self.projects = projects

    @property
    def scope_text(self):
        names = sorted(p["name"] for p in self.projects)
        if self.all_open_projects:
            return "all open projects" + (" + " + ", ".join(names) if names else "")
        return ", ".join(names) if names else "no projects"

    def __repr__(self):
        return "<UserRole(%s: %s)>" % (self.role["name"], self.scope_text)


class Roles(object):
    """The roles API over a :class:`libftrack.Session`."""

    def __init__(self, session):
        self.session = session

    def _native(self):
        return self.session._native

    def _wrap(self, handle):
        return self.session._wrap(handle)

    def security_roles(self, role_type=None):
        """Every SecurityRole, or those of one type (``PROJECT``, ``ASSIGNED``, ``API``)."""
        with exception.translate():
            listed = self._native().security_roles(role_type)
            return [self._wrap(e) for e in listed]

    def find_role(self, name):
        with exception.translate():
            return self._wrap(self._native().find_security_role(name))

    def find_user(self, username):
        with exception.translate():
            return self._wrap(self._native().find_user(username))

    def find_project(self, name):
        with exception.translate():
            return self._wrap(self._native().find_project(name))

    def user_roles(self, user):
        """The user's roles with their scope (one request)."""
        with exception.translate():
            listed = [self._wrap(e) for e in self._native().user_security_roles(user._handle)]
        out = []
        for usr in listed:
            projects = [p["project"] for p in usr["user_security_role_projects"]]
            out.append(UserRole(usr, usr["security_role"], bool(usr["is_all_open_projects"]), projects))
        return out

    def append(self, user, role, all_open_projects=False):
        """Records giving ``user`` the ``role`` (on every open project, or none yet)."""
        with exception.translate():
            self._native().role_append(user._handle, role._handle, all_open_projects)

    def remove(self, user, role):
        """Records taking ``role`` away from ``user``."""
        with exception.translate():
            self._native().role_remove(user._handle, role._handle)

    def replace(self, user, old_role, new_role):
        """Records replacing ``old_role`` by ``new_role``, keeping the scope."""
        with exception.translate():
            self._native().role_replace(user._handle, old_role._handle, new_role._handle)

    def grant(self, user, role, project):
        """Records granting ``project`` on the user's ``role``."""
        with exception.translate():
            self._native().grant_project(user._handle, role._handle, project._handle)

    def revoke(self, user, role, project):
        """Records revoking ``project`` from the user's ``role``."""
        with exception.translate():
            self._native().revoke_project(user._handle, role._handle, project._handle)

    def audit(self):
        """Every user x role x scope, as a list of dicts."""
        with exception.translate():
            return self._native().security_role_audit()
