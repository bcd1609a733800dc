"""The official ftrack-python-api 3.1.0 against the sandbox."""

import ftrack_api
import ftrack_api.exception
import pytest


def test_session_start_and_schema_cache(sandbox, session_factory):
    first = session_factory()
    assert "User" in first.types and "Location" in first.types
    assert sandbox.request_log() == [["query_server_information"], ["query_schemas"]]
    second = session_factory()
    assert "UserSecurityRole" in second.types
    # The second session finds its schema cache current: no query_schemas.
    assert sandbox.request_log()[2:] == [["query_server_information"]]


def test_list_project_roles(session_factory):
    session = session_factory()
    roles = session.query('select name from SecurityRole where type is "PROJECT"').all()
    assert sorted(role["name"] for role in roles) == ["Administrator", "Project Manager", "User"]


def describe_roles(user):
    out = {}
    for user_security_role in user["user_security_roles"]:
        name = user_security_role["security_role"]["name"]
        if user_security_role["is_all_open_projects"]:
            out[name] = "all open projects"
        else:
            out[name] = sorted(
                grant["project"]["full_name"]
                for grant in user_security_role["user_security_role_projects"]
            )
    return out


def test_iterate_user_security_roles(session_factory):
    session = session_factory()
    pm = session.query('User where username is "pm"').one()
    assert describe_roles(pm) == {"Project Manager": ["Project Alpha", "Project Gamma"]}
    admin = session.query('User where username is "admin"').one()
    assert describe_roles(admin) == {"Administrator": "all open projects"}
    # The deprecated twin reads the same column.
    assert admin["user_security_roles"][0]["is_all_projects"] is True


def test_single_query_with_nested_projections(sandbox, session_factory):
    session = session_factory()
    before = len(sandbox.request_log())
    with session.auto_populating(False):
        user = session.query(
            "select username, user_security_roles.is_all_open_projects, "
            "user_security_roles.security_role.name, "
            "user_security_roles.user_security_role_projects.project.full_name "
            'from User where username is "pm"'
        ).one()
        assert describe_roles(user) == {"Project Manager": ["Project Alpha", "Project Gamma"]}
    assert len(sandbox.request_log()) == before + 1


def test_query_user_security_role_by_username(session_factory):
    session = session_factory()
    roles = session.query('UserSecurityRole where user.username is "restricted"').all()
    assert len(roles) == 1
    assert roles[0]["security_role"]["name"] == "Restricted User"


def ids(session, username, role, project=None):
    user = session.query('User where username is "%s"' % username).one()
    security_role = session.query('SecurityRole where name is "%s"' % role).one()
    out = {"user_id": user["id"], "role_id": security_role["id"]}
    if project:
        out["project_id"] = session.query('Project where name is "%s"' % project).one()["id"]
    return out


def roles_of(session_factory, username):
    fresh = session_factory()
    return describe_roles(fresh.query('User where username is "%s"' % username).one())


def test_the_five_role_actions(session_factory):
    session = session_factory()
    add = dict(ids(session, "artist", "Project Manager"), action="add_user_security_role")
    result = session.call([add])
    assert len(result) == 1
    assert roles_of(session_factory, "artist") == {"User": "all open projects", "Project Manager": []}

    grant = dict(ids(session, "artist", "Project Manager", "gamma"), action="grant_user_security_role_project")
    session.call([grant])
    assert roles_of(session_factory, "artist")["Project Manager"] == ["Project Gamma"]

    session.call([dict(ids(session, "artist", "Project Manager"), action="grant_user_security_role_project", all_open_projects=True)])
    assert roles_of(session_factory, "artist")["Project Manager"] == "all open projects"
    session.call([dict(ids(session, "artist", "Project Manager"), action="revoke_user_security_role_project", all_open_projects=True)])

    revoke = dict(grant, action="revoke_user_security_role_project")
    session.call([revoke])
    assert roles_of(session_factory, "artist")["Project Manager"] == []

    replace = dict(ids(session, "artist", "Project Manager"), action="update_user_security_role",
                   new_role_id=ids(session, "artist", "Administrator")["role_id"])
    session.call([replace])
    assert set(roles_of(session_factory, "artist")) == {"User", "Administrator"}

    session.call([dict(ids(session, "artist", "Administrator"), action="remove_user_security_role")])
    assert set(roles_of(session_factory, "artist")) == {"User"}


def test_several_actions_in_one_call(session_factory):
    session = session_factory()
    add = dict(ids(session, "restricted", "User"), action="add_user_security_role")
    grant = dict(ids(session, "restricted", "User", "alpha"), action="grant_user_security_role_project")
    result = session.call([add, grant])
    assert len(result) == 2
    assert roles_of(session_factory, "restricted")["User"] == ["Project Alpha"]


def test_create_and_delete_user_security_role(session_factory):
    session = session_factory()
    user = session.query('User where username is "artist"').one()
    role = session.query('SecurityRole where name is "Project Manager"').one()
    created = session.create("UserSecurityRole", {"user": user, "security_role": role, "is_all_open_projects": True})
    session.commit()
    assert roles_of(session_factory, "artist")["Project Manager"] == "all open projects"
    session.delete(created)
    session.commit()
    assert "Project Manager" not in roles_of(session_factory, "artist")


def test_create_with_foreign_key_ids(session_factory):
    session = session_factory()
    user = session.query('User where username is "pm"').one()
    role = session.query('SecurityRole where name is "User"').one()
    session.create("UserSecurityRole", {"user_id": user["id"], "security_role_id": role["id"], "is_all_projects": True})
    session.commit()
    assert roles_of(session_factory, "pm")["User"] == "all open projects"


def test_update_and_delete_in_one_commit(session_factory):
    session = session_factory()
    artist = session.query('User where username is "artist"').one()
    artist["first_name"] = "Johnny"
    artist["first_name"] = "Jonathan"
    artist["last_name"] = "Doe-Smith"
    usr = session.query('UserSecurityRole where user.username is "restricted"').one()
    session.delete(usr)
    session.commit()
    fresh = session_factory()
    artist = fresh.query('select first_name, last_name from User where username is "artist"').one()
    assert (artist["first_name"], artist["last_name"]) == ("Jonathan", "Doe-Smith")
    assert fresh.query('UserSecurityRole where user.username is "restricted"').all() == []


def test_paging_with_page_size_two(sandbox, session_factory):
    session = session_factory()
    before = len(sandbox.request_log())
    users = session.query("select username from User order by username", page_size=2).all()
    assert [user["username"] for user in users] == ["admin", "artist", "inactive", "pm", "restricted"]
    assert len(sandbox.request_log()) - before == 3


def test_first_and_one(session_factory):
    session = session_factory()
    assert session.query('User where username is "nobody"').first() is None
    with pytest.raises(ftrack_api.exception.NoResultFoundError):
        session.query('User where username is "nobody"').one()
    with pytest.raises(ftrack_api.exception.MultipleResultsFoundError):
        session.query("User where is_active is true").one()


def test_restricted_user_role_change_refused(session_factory):
    admin = session_factory()
    target = ids(admin, "artist", "Project Manager")
    restricted = session_factory(user="restricted", key="demo-key-restricted")
    with pytest.raises(ftrack_api.exception.ServerError) as raised:
        restricted.call([dict(target, action="add_user_security_role")])
    assert "PermissionError" in str(raised.value)
    assert "Manage users" in str(raised.value)
    assert roles_of(session_factory, "artist") == {"User": "all open projects"}


def test_restricted_user_sees_only_granted_project(session_factory):
    restricted = session_factory(user="restricted", key="demo-key-restricted")
    assert [p["name"] for p in restricted.query("Project").all()] == ["beta"]


def test_wrong_api_key_refused(sandbox, session_factory):
    with pytest.raises(ftrack_api.exception.ServerError) as raised:
        session_factory(key="not-the-key")
    assert "InvalidCredentialsError" in str(raised.value)
    assert "not-the-key" not in str(raised.value)


def test_strict_api_session(sandbox, tmp_path):
    session = ftrack_api.Session(
        server_url=sandbox.url, api_key=sandbox.key, api_user=sandbox.user,
        schema_cache_path=str(tmp_path), auto_connect_event_hub=False, plugin_paths=[], strict_api=True,
    )
    with pytest.raises(ftrack_api.exception.ServerError) as raised:
        session.call([{"action": "no_such_action"}])
    assert "Invalid action" in str(raised.value)
    session.close()


def test_unknown_action_detected_by_client(session_factory):
    session = session_factory()
    with pytest.raises(ftrack_api.exception.ServerError) as raised:
        session.call([{"action": "no_such_action"}])
    assert "Invalid action 'no_such_action'" in str(raised.value)


def test_get_populate_ensure_and_datetimes(sandbox, session_factory):
    session = session_factory()
    pm = session.query('User where username is "pm"').one()
    fresh = session_factory()
    assert fresh.get("User", pm["id"])["id"] == pm["id"]
    users = fresh.query("User").all()
    before = len(sandbox.request_log())
    fresh.populate(users, "username, email")
    assert len(sandbox.request_log()) == before + 1
    with fresh.auto_populating(False):
        assert sorted(user["username"] for user in users) == ["admin", "artist", "inactive", "pm", "restricted"]
    group = fresh.ensure("Group", {"name": "Lighting", "local": True})
    assert fresh.ensure("Group", {"name": "Lighting", "local": True})["id"] == group["id"]
    project = fresh.query('select created_at from Project where name is "alpha"').one()
    assert project["created_at"].year >= 2024
