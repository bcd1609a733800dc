/* Attribute reads through the C ABI of the built libftrack.so, timed from C.
 * Reads FTRACK_SERVER, FTRACK_API_USER and FTRACK_API_KEY; argv[1] is the number
 * of calls per run (default 1,000,000). Prints one line per getter:
 *   <name> <median ns per call over 7 runs>
 * Compiled with `cc -O2` by ffi/benches/getters.rs, which prints the figures
 * beside the target and the core's Rust getters. */
#define _POSIX_C_SOURCE 199309L
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftrack.h"

#define RUNS 7

static double now_ns(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return t.tv_sec * 1e9 + t.tv_nsec;
}

static void check(const char *what, ftrack_status s) {
    if (s != FTRACK_STATUS_OK) {
        char msg[1024];
        ftrack_last_error_message(msg, sizeof msg, NULL);
        fprintf(stderr, "%s: %s: %s\n", what, ftrack_status_name(s), msg);
        exit(1);
    }
}

static int cmp(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

static double median(double *v) {
    qsort(v, RUNS, sizeof *v, cmp);
    return v[RUNS / 2];
}

int main(int argc, char **argv) {
    long calls = argc > 1 ? atol(argv[1]) : 1000000;
    if (calls < 1) calls = 1000000;
    ftrack_session *s = NULL;
    check("session", ftrack_session_create(NULL, NULL, NULL, &s));
    ftrack_entity *u = NULL;
    check("query", ftrack_session_query_first(
                       s, "select username, is_active from User where username is \"user00001\"", &u));
    char buf[256];
    size_t len = 0;
    bool flag = false;
    volatile size_t sink = 0;
    double t_str[RUNS], t_bool[RUNS];
    for (int r = 0; r < RUNS; r++) {
        double t = now_ns();
        for (long i = 0; i < calls; i++) {
            if (ftrack_entity_get_string(u, "username", buf, sizeof buf, &len) != FTRACK_STATUS_OK)
                check("get_string", ftrack_entity_get_string(u, "username", buf, sizeof buf, &len));
            sink += len + (unsigned char)buf[0];
        }
        t_str[r] = (now_ns() - t) / calls;
        t = now_ns();
        for (long i = 0; i < calls; i++) {
            if (ftrack_entity_get_bool(u, "is_active", &flag) != FTRACK_STATUS_OK)
                check("get_bool", ftrack_entity_get_bool(u, "is_active", &flag));
            sink += flag;
        }
        t_bool[r] = (now_ns() - t) / calls;
    }
    if (strcmp(buf, "user00001") != 0) {
        fprintf(stderr, "get_string read \"%s\", expected user00001\n", buf);
        return 1;
    }
    printf("ftrack_entity_get_string %.1f\n", median(t_str));
    printf("ftrack_entity_get_bool %.1f\n", median(t_bool));
    ftrack_entity_destroy(u);
    ftrack_session_destroy(s);
    return sink == 0;
}
