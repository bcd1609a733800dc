/*
 * examples/role_watch.c: print security-role changes as they happen, from the
 * event hub's ftrack.update events, through the libftrack C API.
 *
 *   usage: role_watch [SECONDS]     (default: run until interrupted)
 *
 * Prints lines such as
 *
 *   artist got Project Manager
 *   artist got Project Manager on gamma
 *   artist lost Project Manager on gamma
 *
 * Credentials come from the environment: FTRACK_SERVER, FTRACK_API_USER and
 * FTRACK_API_KEY. Against the sandbox: start `target/debug/ftrack-sandbox
 * --demo --print-env`, export the three lines it prints, then
 *
 *   cc -Wall -Wextra -Werror -Iinclude examples/role_watch.c -Ltarget/debug -lftrack \
 *      -Wl,-rpath,$PWD/target/debug -o role_watch && ./role_watch
 *
 * and change roles from another terminal (examples/roles.c, ftrack-roles).
 *
 * How: connect the session's event hub, subscribe to ftrack.update, and call
 * ftrack_event_hub_dispatch in the main loop: the callback runs on this
 * thread, inside dispatch (as a UI would want). Each changed
 * UserSecurityRole (a user's role) or UserSecurityRoleProject (a project
 * granted to that role) is turned into a line; user, role and project names
 * are looked up with queries (the event carries ids).
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftrack.h"

/* The ids of a UserSecurityRole seen in the current event (it may be gone
 * from the server already, e.g. removed together with its projects). */
struct user_role {
    char id[128], user_id[128], role_id[128];
};

struct watch {
    ftrack_session *session;
    struct user_role seen[32];
    int n_seen;
};

static void report(const char *what, ftrack_status status) {
    char message[1024];
    if (ftrack_last_error_message(message, sizeof message, NULL) != FTRACK_STATUS_OK) {
        message[0] = '\0';
    }
    fprintf(stderr, "%s failed: %s\n  %s\n", what, ftrack_status_name(status), message);
}

/* data[pointer] into out (a string without quotes); "" when absent. */
static void get(ftrack_event *event, const char *pointer, char *out, size_t len) {
    if (ftrack_event_data_get(event, pointer, out, len, NULL) != FTRACK_STATUS_OK) {
        out[0] = '\0';
    }
}

/* The new value of a change, else the old one (a removed entity has only old ones). */
static void change(ftrack_event *event, int i, const char *key, char *out, size_t len) {
    char pointer[256];
    snprintf(pointer, sizeof pointer, "/entities/%d/changes/%s/new", i, key);
    get(event, pointer, out, len);
    if (out[0] == '\0' || strcmp(out, "null") == 0) {
        snprintf(pointer, sizeof pointer, "/entities/%d/changes/%s/old", i, key);
        get(event, pointer, out, len);
    }
    if (strcmp(out, "null") == 0) {
        out[0] = '\0';
    }
}

/* One attribute of the entity `type` with this id, by a query; "?" when unknown. */
static void name_of(ftrack_session *s, const char *type, const char *attribute, const char *id,
                    char *out, size_t len) {
    char expression[512];
    ftrack_entity *e = NULL;
    snprintf(out, len, "?");
    if (id[0] == '\0' || strchr(id, '"')) {
        return;
    }
    snprintf(expression, sizeof expression, "select %s from %s where id is \"%s\"", attribute,
             type, id);
    if (ftrack_session_query_first(s, expression, &e) == FTRACK_STATUS_OK && e) {
        if (ftrack_entity_get_string(e, attribute, out, len, NULL) != FTRACK_STATUS_OK) {
            snprintf(out, len, "?");
        }
    }
    ftrack_entity_destroy(e);
}

/* The user and role ids of a UserSecurityRole: from this event, else a query. */
static void user_role_ids(struct watch *w, const char *id, char *user_id, char *role_id,
                          size_t len) {
    for (int k = 0; k < w->n_seen; k++) {
        if (strcmp(w->seen[k].id, id) == 0) {
            snprintf(user_id, len, "%s", w->seen[k].user_id);
            snprintf(role_id, len, "%s", w->seen[k].role_id);
            return;
        }
    }
    name_of(w->session, "UserSecurityRole", "user_id", id, user_id, len);
    name_of(w->session, "UserSecurityRole", "security_role_id", id, role_id, len);
}

static int on_update(void *user_data, ftrack_event *event) {
    struct watch *w = user_data;
    char type[64], action[32], id[128], user_id[128], role_id[128], old_role[128];
    char project_id[128], usr_id[128], user[256], role[256], project[256], pointer[128];
    w->n_seen = 0;
    /* First pass: remember every UserSecurityRole of the event. */
    for (int i = 0;; i++) {
        snprintf(pointer, sizeof pointer, "/entities/%d/entity_type", i);
        if (ftrack_event_data_get(event, pointer, type, sizeof type, NULL) != FTRACK_STATUS_OK) {
            break;
        }
        if (strcmp(type, "UserSecurityRole") == 0 && w->n_seen < 32) {
            struct user_role *r = &w->seen[w->n_seen++];
            snprintf(pointer, sizeof pointer, "/entities/%d/entityId", i);
            get(event, pointer, r->id, sizeof r->id);
            change(event, i, "userid", r->user_id, sizeof r->user_id);
            change(event, i, "roleid", r->role_id, sizeof r->role_id);
        }
    }
    for (int i = 0;; i++) {
        snprintf(pointer, sizeof pointer, "/entities/%d/entity_type", i);
        if (ftrack_event_data_get(event, pointer, type, sizeof type, NULL) != FTRACK_STATUS_OK) {
            break;
        }
        snprintf(pointer, sizeof pointer, "/entities/%d/action", i);
        get(event, pointer, action, sizeof action);
        snprintf(pointer, sizeof pointer, "/entities/%d/entityId", i);
        get(event, pointer, id, sizeof id);
        const char *verb = strcmp(action, "remove") == 0 ? "lost" : "got";
        if (strcmp(type, "UserSecurityRole") == 0) {
            user_role_ids(w, id, user_id, role_id, sizeof user_id);
            name_of(w->session, "User", "username", user_id, user, sizeof user);
            name_of(w->session, "SecurityRole", "name", role_id, role, sizeof role);
            if (strcmp(action, "update") == 0) {
                snprintf(pointer, sizeof pointer, "/entities/%d/changes/roleid/old", i);
                get(event, pointer, old_role, sizeof old_role);
                if (old_role[0] == '\0') {
                    continue; /* another attribute changed */
                }
                name_of(w->session, "SecurityRole", "name", old_role, project, sizeof project);
                printf("%s lost %s, got %s\n", user, project, role);
            } else {
                printf("%s %s %s\n", user, verb, role);
            }
        } else if (strcmp(type, "UserSecurityRoleProject") == 0) {
            change(event, i, "user_role_id", usr_id, sizeof usr_id);
            change(event, i, "projectid", project_id, sizeof project_id);
            user_role_ids(w, usr_id, user_id, role_id, sizeof user_id);
            name_of(w->session, "User", "username", user_id, user, sizeof user);
            name_of(w->session, "SecurityRole", "name", role_id, role, sizeof role);
            name_of(w->session, "Project", "name", project_id, project, sizeof project);
            printf("%s %s %s on %s\n", user, verb, role, project);
        }
    }
    fflush(stdout);
    return 0;
}

int main(int argc, char **argv) {
    long seconds = argc > 1 ? strtol(argv[1], NULL, 10) : 0;
    struct watch w = {0};
    ftrack_status status = ftrack_session_create(NULL, NULL, NULL, &w.session);
    if (status != FTRACK_STATUS_OK) {
        report("creating the session", status);
        return 1;
    }
    status = ftrack_event_hub_subscribe(w.session, "topic=ftrack.update", NULL, 100, on_update,
                                        &w, NULL, 0, NULL);
    if (status != FTRACK_STATUS_OK) {
        report("subscribing", status);
        return 1;
    }
    status = ftrack_event_hub_connect(w.session, 30000);
    if (status != FTRACK_STATUS_OK) {
        report("connecting the event hub", status);
        return 1;
    }
    printf("watching role changes\n");
    fflush(stdout);
    time_t end = seconds > 0 ? time(NULL) + seconds : 0;
    while (end == 0 || time(NULL) < end) {
        /* Runs on_update on this thread for every event that arrived. */
        status = ftrack_event_hub_dispatch(w.session, 200, NULL);
        if (status != FTRACK_STATUS_OK) {
            report("dispatching", status);
            break;
        }
    }
    ftrack_session_destroy(w.session);
    return 0;
}
