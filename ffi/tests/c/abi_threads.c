/* One session shared by 8 threads, plus a session of each thread's own, driven
 * through the C ABI: creates, sets, role changes, commits, rollbacks and queries
 * in a seeded random mix. At the end every created entity is on the server exactly
 * once or was rolled back, and no call returned a status outside its contract (no
 * PANIC, no POISONED). Run under valgrind by ffi/tests/c_abi.rs as well.
 *
 * usage: abi_threads OPERATIONS_PER_THREAD   (FTRACK_* from the environment) */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftrack.h"

#define THREADS 8
#define MAX_CREATED 4096

typedef struct {
    ftrack_session *shared;
    int index;
    int operations;
    int failures;
    /* created entity handles (kept until the end) */
    ftrack_entity *created[MAX_CREATED];
    int created_count;
} worker;

static uint64_t next_random(uint64_t *state) {
    uint64_t x = *state;
    x ^= x >> 12;
    x ^= x << 25;
    x ^= x >> 27;
    *state = x;
    return x * 0x2545F4914F6CDD1DULL;
}

static void fail(worker *w, const char *what, ftrack_status status) {
    char message[512] = "";
    ftrack_last_error_message(message, sizeof message, NULL);
    fprintf(stderr, "thread %d: %s: %s: %s\n", w->index, what, ftrack_status_name(status),
            message);
    w->failures++;
}

/* OK is always allowed; `also` is the one other status this call may give. */
static void expect(worker *w, const char *what, ftrack_status status, ftrack_status also) {
    if (status != FTRACK_STATUS_OK && status != also) {
        fail(w, what, status);
    }
}

static void *run(void *arg) {
    worker *w = arg;
    uint64_t rng = 0x9E3779B97F4A7C15ULL * (uint64_t)(w->index + 1);
    ftrack_session *own = NULL;
    ftrack_session_options *options = NULL;
    ftrack_status s = ftrack_session_options_create(&options);
    expect(w, "options", s, FTRACK_STATUS_OK);
    expect(w, "idempotent", ftrack_session_options_set_idempotent_role_changes(options, true),
           FTRACK_STATUS_OK);
    s = ftrack_session_create_with_options(options, &own);
    ftrack_session_options_destroy(options);
    if (s != FTRACK_STATUS_OK) {
        fail(w, "own session", s);
        return NULL;
    }
    /* This thread's user: the one it created before the threads started. */
    char user_query[128];
    snprintf(user_query, sizeof user_query, "User where username is \"c-stress-%d\"", w->index);
    ftrack_entity *users[2] = {NULL, NULL};
    expect(w, "user", ftrack_session_query_one(w->shared, user_query, &users[0]), FTRACK_STATUS_OK);
    expect(w, "user", ftrack_session_query_one(own, user_query, &users[1]), FTRACK_STATUS_OK);
    ftrack_entity *own_pm = NULL;
    expect(w, "role", ftrack_security_role_find(own, "Project Manager", &own_pm), FTRACK_STATUS_OK);
    int holds = 0;

    for (int n = 0; n < w->operations && users[0] && users[1] && own_pm; n++) {
        int on_own = next_random(&rng) % 2;
        ftrack_session *session = on_own ? own : w->shared;
        int roll = (int)(next_random(&rng) % 100);
        if (roll < 40 && w->created_count < MAX_CREATED) {
            char data[128];
            snprintf(data, sizeof data, "{\"name\": \"c-%d-%d\", \"local\": false}", w->index, n);
            ftrack_entity *group = NULL;
            s = ftrack_session_create_entity(session, "Group", data, &group);
            expect(w, "create", s, FTRACK_STATUS_OK);
            if (group) w->created[w->created_count++] = group;
        } else if (roll < 60 && w->created_count > 0) {
            ftrack_entity *group = w->created[next_random(&rng) % (uint64_t)w->created_count];
            /* NOT_FOUND: rolled back (on the shared session, by another thread too). */
            expect(w, "set", ftrack_entity_set_bool(group, "local", next_random(&rng) % 2),
                   FTRACK_STATUS_NOT_FOUND);
        } else if (roll < 72) {
            /* Role changes only on this thread's own session: its model is exact. */
            if (holds) {
                expect(w, "remove", ftrack_user_role_remove(own, users[1], own_pm), FTRACK_STATUS_OK);
            } else {
                expect(w, "append", ftrack_user_role_append(own, users[1], own_pm, false),
                       FTRACK_STATUS_OK);
            }
            holds = !holds;
            expect(w, "commit roles", ftrack_session_commit(own), FTRACK_STATUS_OK);
        } else if (roll < 86) {
            expect(w, "commit", ftrack_session_commit(session), FTRACK_STATUS_OK);
        } else if (roll < 90) {
            if (on_own) {
                expect(w, "rollback", ftrack_session_rollback(own), FTRACK_STATUS_OK);
            }
        } else {
            char query[128];
            snprintf(query, sizeof query, "select name from Group where name like \"c-%d-%%\"",
                     w->index);
            ftrack_entity_list *list = NULL;
            expect(w, "query", ftrack_session_query(session, query, &list), FTRACK_STATUS_OK);
            ftrack_entity_list_destroy(list);
        }
    }
    expect(w, "final commit", ftrack_session_commit(own), FTRACK_STATUS_OK);
    expect(w, "final commit", ftrack_session_commit(w->shared), FTRACK_STATUS_OK);
    ftrack_entity_destroy(own_pm);
    ftrack_entity_destroy(users[0]);
    ftrack_entity_destroy(users[1]);
    /* The created handles outlive their session handle: they keep its data alive. */
    ftrack_session_destroy(own);
    return NULL;
}

static int compare_names(const void *a, const void *b) {
    return strcmp(*(char *const *)a, *(char *const *)b);
}

int main(int argc, char **argv) {
    int operations = argc > 1 ? atoi(argv[1]) : 100;
    ftrack_session *shared = NULL;
    ftrack_status s = ftrack_session_create(NULL, NULL, NULL, &shared);
    if (s != FTRACK_STATUS_OK) {
        fprintf(stderr, "session: %s\n", ftrack_status_name(s));
        return 1;
    }
    for (int t = 0; t < THREADS; t++) {
        char data[96];
        snprintf(data, sizeof data, "{\"username\": \"c-stress-%d\", \"is_active\": true}", t);
        ftrack_entity *u = NULL;
        if (ftrack_session_create_entity(shared, "User", data, &u) != FTRACK_STATUS_OK) return 1;
        ftrack_entity_destroy(u);
    }
    if (ftrack_session_commit(shared) != FTRACK_STATUS_OK) return 1;

    static worker workers[THREADS];
    pthread_t threads[THREADS];
    for (int t = 0; t < THREADS; t++) {
        workers[t].shared = shared;
        workers[t].index = t;
        workers[t].operations = operations;
        pthread_create(&threads[t], NULL, run, &workers[t]);
    }
    for (int t = 0; t < THREADS; t++) pthread_join(threads[t], NULL);

    /* What the server holds, from a fresh session. */
    ftrack_session *check = NULL;
    if (ftrack_session_create(NULL, NULL, NULL, &check) != FTRACK_STATUS_OK) return 1;
    ftrack_entity_list *groups = NULL;
    if (ftrack_session_query(check, "select name from Group where name like \"c-%\"", &groups) !=
        FTRACK_STATUS_OK)
        return 1;
    size_t on_server = ftrack_entity_list_len(groups);
    char **names = calloc(on_server + 1, sizeof *names);
    for (size_t i = 0; i < on_server; i++) {
        ftrack_entity *g = NULL;
        char name[64];
        ftrack_entity_list_get(groups, i, &g);
        ftrack_entity_get_string(g, "name", name, sizeof name, NULL);
        names[i] = strdup(name);
        ftrack_entity_destroy(g);
    }
    qsort(names, on_server, sizeof *names, compare_names);
    int failures = 0, live = 0, rolled_back = 0, total_ops = 0;
    for (size_t i = 1; i < on_server; i++) {
        if (strcmp(names[i - 1], names[i]) == 0) {
            fprintf(stderr, "%s is on the server twice\n", names[i]);
            failures++;
        }
    }
    for (int t = 0; t < THREADS; t++) {
        worker *w = &workers[t];
        failures += w->failures;
        total_ops += w->operations;
        for (int i = 0; i < w->created_count; i++) {
            char name[64];
            char *key = name;
            s = ftrack_entity_get_string(w->created[i], "name", name, sizeof name, NULL);
            if (s == FTRACK_STATUS_OK) {
                live++;
                if (!bsearch(&key, names, on_server, sizeof *names, compare_names)) {
                    fprintf(stderr, "%s was committed but is not on the server\n", name);
                    failures++;
                }
            } else if (s == FTRACK_STATUS_NOT_FOUND) {
                rolled_back++;
            } else {
                fprintf(stderr, "reading a created entity: %s\n", ftrack_status_name(s));
                failures++;
            }
            ftrack_entity_destroy(w->created[i]);
        }
    }
    if ((size_t)live != on_server) {
        fprintf(stderr, "%d live entities but %zu on the server\n", live, on_server);
        failures++;
    }
    for (size_t i = 0; i < on_server; i++) free(names[i]);
    free(names);
    ftrack_entity_list_destroy(groups);
    ftrack_session_destroy(check);
    ftrack_session_destroy(shared);
    printf("abi_threads: %d operations by %d threads, %d entities on the server exactly once, "
           "%d rolled back, %d failures\n",
           total_ops, THREADS, live, rolled_back, failures);
    return failures == 0 ? 0 : 1;
}
