/*
 * Counts the projects of the ftrack server named by FTRACK_SERVER,
 * FTRACK_API_USER and FTRACK_API_KEY, through the C API of an installed
 * libftrack found with pkg-config:
 *
 *   export PKG_CONFIG_PATH=<prefix>/lib/pkgconfig
 *   cc main.c $(pkg-config --cflags --libs ftrack) -Wl,-rpath,<prefix>/lib -o projects
 *
 * Built and run against the sandbox, from a moved install prefix, by
 * scripts/check-package (part of scripts/test). Exits non-zero on any failure.
 */
#include <stdio.h>

#include <ftrack.h>

static int fail(const char *what, ftrack_status status) {
    char message[1024];
    if (ftrack_last_error_message(message, sizeof message, NULL) != FTRACK_STATUS_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "%s: %s: %s\n", what, ftrack_status_name(status), message);
    return 1;
}

int main(void) {
    ftrack_session *session = NULL;
    ftrack_entity_list *projects = NULL;
    ftrack_status status;
    size_t i, count;

    if (ftrack_version_number() != FTRACK_VERSION_NUMBER) {
        fprintf(stderr, "header %s does not match library %s\n", FTRACK_VERSION_STRING,
                ftrack_version_string());
        return 1;
    }
    status = ftrack_session_create(NULL, NULL, NULL, &session); /* FTRACK_* environment */
    if (status != FTRACK_STATUS_OK) {
        return fail("ftrack_session_create", status);
    }
    status = ftrack_session_query(session, "select name from Project order by name", &projects);
    if (status != FTRACK_STATUS_OK) {
        ftrack_session_destroy(session);
        return fail("ftrack_session_query", status);
    }
    count = ftrack_entity_list_len(projects);
    for (i = 0; i < count; ++i) {
        ftrack_entity *project = NULL;
        char name[256];
        status = ftrack_entity_list_get(projects, i, &project);
        if (status == FTRACK_STATUS_OK) {
            status = ftrack_entity_get_string(project, "name", name, sizeof name, NULL);
        }
        ftrack_entity_destroy(project);
        if (status != FTRACK_STATUS_OK) {
            ftrack_entity_list_destroy(projects);
            ftrack_session_destroy(session);
            return fail("reading a project", status);
        }
        printf("project %s\n", name);
    }
    ftrack_entity_list_destroy(projects);
    ftrack_session_destroy(session);
    printf("libftrack %s: %zu projects\n", ftrack_version_string(), count);
    return count > 0 ? 0 : 1;
}
