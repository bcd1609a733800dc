/* libftrack through its C ABI: the three tasks of the side-by-side benchmark.
 * Prints one JSON line: {"client": "libftrack", "start_ms": [...], "query_ms": [...],
 * "roles_ms": [...]} with one figure per run. Reads FTRACK_SERVER, FTRACK_API_USER,
 * FTRACK_API_KEY; argv[1] is the number of runs (each roles run uses 1,000 fresh users,
 * starting at user number argv[2]). With argv[3] "query-only" the role task is left out
 * (roles_ms is empty): the client-only runs against the canned server, which replays
 * reads and must not be sent commits. argv[3] "prime" is "query-only" that also asks,
 * untimed, for the three pages past the last one: the pages the paging loop may request
 * ahead before it learns where the result ends (how many depends on timing), so that
 * the canned server has them all in memory before the timed runs. With BENCH_TURNS set
 * in the environment it takes turns with the other clients (benches/side_by_side/
 * turns.py): before each run it reads a line from stdin, after it prints "turn". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftrack.h"

static double now_ms(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e3 + t.tv_nsec / 1e6;
}

static void check(const char *what, ftrack_status s) {
    if (s != FTRACK_STATUS_OK) {
        char msg[1024];
        ftrack_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "%s: %s: %s\n", what, ftrack_status_name(s), msg);
        exit(1);
    }
}

/* Ends a run: frees its session and, taking turns, hands over to the next client. */
static void end_run(ftrack_session *s, int turns) {
    ftrack_session_destroy(s);
    if (turns) {
        printf("turn\n");
        fflush(stdout);
    }
}

static void print_list(const char *name, const double *v, int n, int last) {
    printf("\"%s\": [", name);
    for (int i = 0; i < n; i++) printf("%s%.3f", i ? ", " : "", v[i]);
    printf("]%s", last ? "" : ", ");
}

int main(int argc, char **argv) {
    int runs = argc > 1 ? atoi(argv[1]) : 3;
    int first_user = argc > 2 ? atoi(argv[2]) : 1;
    int prime = argc > 3 && strcmp(argv[3], "prime") == 0;
    int query_only = prime || (argc > 3 && strcmp(argv[3], "query-only") == 0);
    int turns = getenv("BENCH_TURNS") != NULL;
    if (runs < 1 || runs > 32) runs = 3;
    double start[32], query[32], roles[32];
    int done_roles = 0;
    for (int r = 0; r < runs; r++) {
        char go[16];
        if (turns && !fgets(go, sizeof go, stdin)) {
            fprintf(stderr, "turns: stdin closed before run %d\n", r + 1);
            return 1;
        }
        /* 1. session start (the schema cache of an earlier run makes it one request) */
        double t = now_ms();
        ftrack_session *s = NULL;
        check("session", ftrack_session_create(NULL, NULL, NULL, &s));
        start[r] = now_ms() - t;

        /* 2. the 10k-user query with role projection */
        ftrack_entity_list *all = NULL;
        t = now_ms();
        check("query", ftrack_session_query(
                           s, "select username, user_security_roles.security_role.name from User",
                           &all));
        query[r] = now_ms() - t;
        if (ftrack_entity_list_len(all) < 10000) {
            fprintf(stderr, "query: only %zu users\n", ftrack_entity_list_len(all));
            return 1;
        }
        size_t rows = ftrack_entity_list_len(all);
        ftrack_entity_list_destroy(all);
        /* The pages past the end that may be requested ahead (max_concurrent_pages 4 - 1),
         * each asked for as the paging loop would: "... offset N limit 500". */
        for (size_t k = 1; prime && k <= 3; k++) {
            char past[256];
            snprintf(past, sizeof past,
                     "select username, user_security_roles.security_role.name from User "
                     "offset %zu limit 500",
                     (rows - 1) / 500 * 500 + k * 500);
            ftrack_entity_list *none = NULL;
            check("past the end", ftrack_session_query(s, past, &none));
            ftrack_entity_list_destroy(none);
        }
        if (query_only) {
            end_run(s, turns);
            continue;
        }

        /* 3. give 1,000 fresh users a role and commit (finding them is part of it) */
        ftrack_entity *pm = NULL;
        check("role", ftrack_security_role_find(s, "Project Manager", &pm));
        char criteria[128];
        int lo = first_user + r * 1000, hi = lo + 999;
        snprintf(criteria, sizeof criteria,
                 "username >= \"user%05d\" and username <= \"user%05d\"", lo, hi);
        t = now_ms();
        ftrack_entity_list *users = NULL;
        check("users", ftrack_users(s, criteria, &users));
        size_t n = ftrack_entity_list_len(users);
        if (n != 1000) {
            fprintf(stderr, "users %s: %zu\n", criteria, n);
            return 1;
        }
        for (size_t i = 0; i < n; i++) {
            ftrack_entity *u = NULL;
            check("get", ftrack_entity_list_get(users, i, &u));
            check("append", ftrack_user_role_append(s, u, pm, false));
            ftrack_entity_destroy(u);
        }
        check("commit", ftrack_session_commit(s));
        roles[done_roles++] = now_ms() - t;
        ftrack_entity_list_destroy(users);
        ftrack_entity_destroy(pm);
        end_run(s, turns);
    }
    printf("{\"client\": \"libftrack\", ");
    print_list("start_ms", start, runs, 0);
    print_list("query_ms", query, runs, 0);
    print_list("roles_ms", roles, done_roles, 1);
    printf("}\n");
    return 0;
}
