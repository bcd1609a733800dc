/*
 * examples/roles.c: give a user a security role on one project, through the
 * libftrack C API.
 *
 *   usage: roles [USERNAME [ROLE [PROJECT]]]     (default: artist "Project Manager" gamma)
 *
 * Credentials come from the environment: FTRACK_SERVER, FTRACK_API_USER and
 * FTRACK_API_KEY. Try it against the sandbox (no ftrack server needed): start
 * `cargo run -p ftrack-sandbox -- --demo --print-env` in another terminal, export
 * the three FTRACK_* lines it prints, install libftrack
 * (`scripts/install --prefix $HOME/ftrack`), then:
 *
 *   export PKG_CONFIG_PATH=$HOME/ftrack/lib/pkgconfig
 *   cc -Wall -Wextra -Werror examples/roles.c $(pkg-config --cflags --libs ftrack) \
 *      -Wl,-rpath,$HOME/ftrack/lib -o roles && ./roles
 *
 * What it does: find the user, the role and the project by name; print the
 * user's roles and their scope; append the role and grant the project (both
 * are validated, then recorded as pending operations); commit them in one
 * atomic request; print the roles again. Every call returns an ftrack_status;
 * on failure the thread's last error message says what went wrong.
 */
#include <stdio.h>
#include <stdlib.h>

#include "ftrack.h"

/* Prints the status name and this thread's last error message. */
static void report(const char *what, ftrack_status status) {
    char message[1024];
    if (ftrack_last_error_message(message, sizeof message, NULL) != FTRACK_STATUS_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "%s failed: %s\n  %s\n", what, ftrack_status_name(status), message);
}

/* Exits unless `status` is OK; the exit code tells failure classes apart. */
static void check(const char *what, ftrack_status status) {
    if (status == FTRACK_STATUS_OK) {
        return;
    }
    report(what, status);
    switch (status) {
    case FTRACK_STATUS_MISSING_CONFIGURATION:
    case FTRACK_STATUS_AUTHENTICATION:
        exit(2); /* fix the environment */
    case FTRACK_STATUS_NOT_FOUND:
    case FTRACK_STATUS_MULTIPLE_RESULTS:
        exit(3); /* a name on the command line is wrong */
    case FTRACK_STATUS_PERMISSION_DENIED:
        exit(4); /* the API user may not change roles */
    case FTRACK_STATUS_ROLE_NOT_ASSIGNED:
    case FTRACK_STATUS_ROLE_NOT_ASSIGNABLE:
    case FTRACK_STATUS_PROJECT_NOT_GRANTED:
        exit(5); /* the change does not fit the user's roles */
    case FTRACK_STATUS_CONNECTION:
    case FTRACK_STATUS_TIMEOUT:
    case FTRACK_STATUS_TLS:
        exit(6); /* the server cannot be reached */
    default:
        exit(1);
    }
}

/* Copies a string attribute into `buffer` ("?" when it cannot be read). */
static const char *text(ftrack_entity *entity, const char *attribute, char *buffer, size_t size) {
    ftrack_status status = ftrack_entity_get_string(entity, attribute, buffer, size, NULL);
    if (status != FTRACK_STATUS_OK) {
        report(attribute, status);
        snprintf(buffer, size, "?");
    }
    return buffer;
}

/* Prints one line per security role of `user`: its name and scope. All of it
 * comes from ONE request; the getters below only read what it loaded. */
static void print_roles(ftrack_session *session, ftrack_entity *user, const char *username) {
    ftrack_entity_list *roles = NULL;
    check("ftrack_user_security_roles", ftrack_user_security_roles(session, user, &roles));
    printf("%s's security roles:\n", username);
    for (size_t i = 0; i < ftrack_entity_list_len(roles); i++) {
        ftrack_entity *user_role = NULL, *role = NULL;
        ftrack_entity_list *grants = NULL;
        bool all_open = false;
        char name[256];
        check("ftrack_entity_list_get", ftrack_entity_list_get(roles, i, &user_role));
        check("security_role", ftrack_entity_get_entity(user_role, "security_role", &role));
        check("is_all_open_projects",
              ftrack_entity_get_bool(user_role, "is_all_open_projects", &all_open));
        check("user_security_role_projects",
              ftrack_entity_get_list(user_role, "user_security_role_projects", &grants));

        printf("  %-20s %s", text(role, "name", name, sizeof name),
               all_open ? "all open projects" : "");
        for (size_t g = 0; g < ftrack_entity_list_len(grants); g++) {
            ftrack_entity *grant = NULL, *project = NULL;
            char full_name[256];
            check("ftrack_entity_list_get", ftrack_entity_list_get(grants, g, &grant));
            check("project", ftrack_entity_get_entity(grant, "project", &project));
            printf("%s%s (%s)", (all_open || g > 0) ? ", " : "",
                   text(project, "name", name, sizeof name),
                   text(project, "full_name", full_name, sizeof full_name));
            ftrack_entity_destroy(project);
            ftrack_entity_destroy(grant);
        }
        if (!all_open && ftrack_entity_list_len(grants) == 0) {
            printf("no projects");
        }
        printf("\n");
        ftrack_entity_list_destroy(grants);
        ftrack_entity_destroy(role);
        ftrack_entity_destroy(user_role);
    }
    ftrack_entity_list_destroy(roles);
}

int main(int argc, char **argv) {
    const char *username = argc > 1 ? argv[1] : "artist";
    const char *role_name = argc > 2 ? argv[2] : "Project Manager";
    const char *project_name = argc > 3 ? argv[3] : "gamma";
    printf("libftrack %s\n", ftrack_version_string());

    /* NULL arguments: FTRACK_SERVER, FTRACK_API_KEY and FTRACK_API_USER. */
    ftrack_session *session = NULL;
    check("ftrack_session_create", ftrack_session_create(NULL, NULL, NULL, &session));

    ftrack_entity *user = NULL, *role = NULL, *project = NULL;
    check("ftrack_user_find", ftrack_user_find(session, username, &user));
    check("ftrack_security_role_find", ftrack_security_role_find(session, role_name, &role));
    check("ftrack_project_find", ftrack_project_find(session, project_name, &project));

    print_roles(session, user, username);

    /* Append the role (not on all open projects: only on the project granted
     * next). A role the user already holds is fine here: we just grant. */
    ftrack_status status = ftrack_user_role_append(session, user, role, false);
    if (status == FTRACK_STATUS_ROLE_ALREADY_ASSIGNED) {
        printf("%s already holds \"%s\"; granting the project only\n", username, role_name);
    } else {
        check("ftrack_user_role_append", status);
    }

    /* Valid even though the append above is still pending. */
    status = ftrack_user_role_grant_project(session, user, role, project);
    if (status == FTRACK_STATUS_PROJECT_ALREADY_GRANTED) {
        printf("\"%s\" is already granted on %s; nothing to grant\n", role_name, project_name);
    } else {
        check("ftrack_user_role_grant_project", status);
    }

    size_t pending = 0;
    check("ftrack_session_pending_count", ftrack_session_pending_count(session, &pending));
    printf("committing %zu operation(s) in one request\n", pending);
    status = ftrack_session_commit(session);
    if (status != FTRACK_STATUS_OK) {
        /* The operations are still pending: we could fix and retry. Here we give up. */
        report("ftrack_session_commit", status);
        ftrack_session_rollback(session);
        check("ftrack_session_commit", status);
    }

    print_roles(session, user, username);

    ftrack_entity_destroy(project);
    ftrack_entity_destroy(role);
    ftrack_entity_destroy(user);
    ftrack_session_destroy(session);
    return 0;
}
