"""Test of ftrack_ctypes against a server (FTRACK_SERVER / FTRACK_API_KEY /
FTRACK_API_USER: the sandbox's demo studio) with FTRACK_LIBRARY pointing at
libftrack.so. Run by ffi/tests/bindings_python.rs as ``python3 test_ftrack_ctypes.py``."""

import os
import sys
import traceback

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

import ftrack_ctypes as ft  # noqa: E402

passed = 0
failed = 0


def expect(condition, what):
    global passed, failed
    if condition:
        passed += 1
    else:
        failed += 1
        print("FAIL: " + what, file=sys.stderr)


def status_of(fn):
    try:
        fn()
    except ft.FtrackError as e:
        return e.status
    return ft.Status.OK


def main():
    expect(ft.version().count(".") >= 2, "version string")
    expect(ft.status_name(ft.Status.NOT_FOUND) == "FTRACK_STATUS_NOT_FOUND", "status name")

    with ft.Session() as session:
        users = session.query("select username, is_active from User")
        names = [u.get_string("username") for u in users]
        expect(len(users) >= 5 and "admin" in names, "query users: %r" % names)
        users.close()

        admin = session.query_one('User where username is "admin"')
        expect(admin.entity_type == "User", "entity type")
        expect(len(admin.id) > 0, "entity id")
        expect(admin.get_bool("is_active") is True, "get_bool")
        expect(admin.get_json("username") == "admin", "get_json")
        roles = admin.get_list("user_security_roles")
        expect(len(roles) >= 1, "collection")
        role = roles[0].get_entity("security_role")
        expect(role is not None and role.get_string("name") == "Administrator", "reference")

        expect(session.query_first('User where username is "nobody-here"') is None, "query_first none")
        expect(status_of(lambda: session.query_one("User")) == ft.Status.MULTIPLE_RESULTS, "multiple")
        expect(status_of(lambda: admin.get_int64("username")) == ft.Status.TYPE_MISMATCH, "type mismatch")
        expect(status_of(lambda: admin.get_string("nope")) == ft.Status.UNKNOWN_ATTRIBUTE, "unknown attribute")
        try:
            session.query("select from User where")
            expect(False, "query syntax raises")
        except ft.FtrackError as e:
            expect(e.status == ft.Status.QUERY_SYNTAX, "query syntax status")
            expect(e.name == "FTRACK_STATUS_QUERY_SYNTAX", "error name")
            expect("ftrack_session_query" in e.message, "error message names the function")
        expect(status_of(lambda: admin.get_string(b"a\xffb")) == ft.Status.INVALID_UTF8, "invalid utf-8")

        project = session.create("Project", {"name": "py_binding", "full_name": "Python binding"})
        project.set_datetime("start_date", 1714979289000000)
        expect(session.pending_count >= 1, "pending count")
        expect(any(op.get("action") == "create" for op in session.pending()), "pending json")
        session.commit()
        project.set_string("full_name", "Python binding, renamed \u00e9")
        session.commit()
        again = session.query_one('select full_name, start_date from Project where name is "py_binding"')
        expect(again.get_string("full_name") == "Python binding, renamed \u00e9", "utf-8 round trip")
        expect(again.get_datetime("start_date") == 1714979289000000, "datetime")
        project.set_string("full_name", "never sent")
        session.rollback()
        expect(session.pending_count == 0, "rollback")
        session.delete(project)
        session.commit()
        expect(session.query_first('Project where name is "py_binding"') is None, "deleted")

        # security roles: give artist the Project Manager role on gamma only
        artist = session.find_user("artist")
        pm_role = session.find_security_role("Project Manager")
        gamma = session.find_project("gamma")
        before = len(session.user_security_roles(artist))
        expect(len(session.security_roles()) >= 3, "security roles")
        session.role_append(artist, pm_role, all_open_projects=False)
        session.grant_project(artist, pm_role, gamma)
        expect(session.pending_count == 2, "role operations pending")
        session.commit()
        expect(len(session.user_security_roles(artist)) == before + 1, "role appended")
        expect(
            status_of(lambda: session.role_append(artist, pm_role)) == ft.Status.ROLE_ALREADY_ASSIGNED,
            "role already assigned",
        )
        expect(status_of(lambda: session.find_user("nobody-here")) == ft.Status.NOT_FOUND, "user not found")
        rows = session.security_role_audit()
        expect(
            any(r["username"] == "artist" and r["role"] == "Project Manager" and r["projects"] == ["gamma"] for r in rows),
            "audit shows artist's grant: %r" % [r for r in rows if r["username"] == "artist"],
        )

        reply = session.call([{"action": "query_server_information"}])
        expect(isinstance(reply, list) and "version" in reply[0], "raw call")

        # the ftrack_api-shaped surface (issue 8), through the C ABI
        cursor = session.query_cursor("select username from User order by username", 2)
        pages = []
        page = cursor.next_page()
        while page is not None:
            pages.append([u.get_string("username") for u in page])
            page = cursor.next_page()
        cursor.close()
        expect(pages == [["admin", "artist"], ["inactive", "pm"], ["restricted"]], "cursor pages: %r" % pages)
        got = session.get("User", artist.id)
        expect(got is not None and got.get_string("username") == "artist", "get by id")
        expect(session.get("User", "no-such-id") is None, "get missing")
        group = session.ensure("Group", {"name": "Binding", "local": True})
        expect(session.ensure("Group", {"name": "Binding", "local": True}, ["name"]).id == group.id, "ensure")
        users = list(session.query("select id from User"))
        session.populate(users, "username, email")
        session.auto_populate = False
        expect(session.auto_populate is False, "auto_populate toggle")
        expect(all(u.get_string("username") for u in users), "populated")
        session.auto_populate = True
        session.record_operations = False
        artist.set_string("first_name", "not recorded")
        expect(session.pending_count == 0 and session.record_operations is False, "recording off")
        session.record_operations = True
        artist.set_json("last_name", "Recorded")
        ops = session.recorded_operations()
        expect(
            ops[-1]["kind"] == "update" and ops[-1]["attribute"] == "last_name" and ops[-1]["value"] == "Recorded"
            and ops[-1]["entity_type"] == "User" and ops[-1]["entity_key"] == artist.id,
            "recorded operations: %r" % ops,
        )
        session.reset()
        expect(session.pending_count == 0, "reset")
        user_schema = session.entity_schema("User")
        expect(user_schema["properties"]["security_roles"]["derived"] is True, "security_roles derived")
        expect("User" in session.entity_types(), "entity types")
        roles = [r.get_string("name") for r in artist.get_list("security_roles")]
        expect(sorted(roles) == ["Project Manager", "User"], "security_roles read: %r" % roles)
        expect(
            status_of(lambda: artist.append("security_roles", pm_role)) == ft.Status.ROLE_ALREADY_ASSIGNED,
            "validation through the collection call",
        )

    options = ft.SessionOptions().server_url("http://127.0.0.1:9").api_key("k").api_user("u")
    options.timeout_ms(2000).max_attempts(1)
    expect(status_of(lambda: ft.Session(options=options)) == ft.Status.CONNECTION, "connection refused")
    expect(status_of(lambda: options.timeout_ms(0)) == ft.Status.INVALID_ARGUMENT, "invalid timeout")
    options.close()
    options.close()  # closing twice is harmless in the binding


try:
    main()
except Exception:
    failed += 1
    traceback.print_exc()
print("python binding: %d passed, %d failed" % (passed, failed))
sys.exit(0 if failed == 0 else 1)
