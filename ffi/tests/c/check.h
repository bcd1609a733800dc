/* Minimal test helpers for the C programs under ffi/tests/c/ (no framework needed). */
#ifndef FTRACK_TEST_CHECK_H
#define FTRACK_TEST_CHECK_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftrack.h"

static int check_passed = 0;
static int check_failed = 0;

static void check_print_last_error(void) {
    char message[1024];
    size_t len = 0;
    if (ftrack_last_error_message(message, sizeof message, &len) == FTRACK_STATUS_OK) {
        fprintf(stderr, "    last error: %s\n", message);
    }
}

/* Expects `expr` (an ftrack_status) to equal `expected`. */
#define CHECK_STATUS(expr, expected)                                                     \
    do {                                                                                 \
        ftrack_status check_got_ = (expr);                                               \
        if (check_got_ == (ftrack_status)(expected)) {                                   \
            check_passed++;                                                              \
        } else {                                                                         \
            check_failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: %s\n    got %s, expected %s\n", __FILE__,       \
                    __LINE__, #expr, ftrack_status_name(check_got_),                     \
                    ftrack_status_name((ftrack_status)(expected)));                      \
            check_print_last_error();                                                    \
        }                                                                                \
    } while (0)

#define CHECK_OK(expr) CHECK_STATUS(expr, FTRACK_STATUS_OK)

/* Expects a condition to hold. */
#define CHECK(cond)                                                                      \
    do {                                                                                 \
        if (cond) {                                                                      \
            check_passed++;                                                              \
        } else {                                                                         \
            check_failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);              \
        }                                                                                \
    } while (0)

#define CHECK_STR(actual, expected)                                                      \
    do {                                                                                 \
        const char *check_a_ = (actual);                                                 \
        const char *check_e_ = (expected);                                               \
        if (check_a_ != NULL && strcmp(check_a_, check_e_) == 0) {                       \
            check_passed++;                                                              \
        } else {                                                                         \
            check_failed++;                                                              \
            fprintf(stderr, "FAIL %s:%d: %s\n    got \"%s\", expected \"%s\"\n",         \
                    __FILE__, __LINE__, #actual, check_a_ ? check_a_ : "(null)",        \
                    check_e_);                                                           \
        }                                                                                \
    } while (0)

/* Prints the closing line and returns the exit code. */
static int check_finish(const char *program) {
    printf("%s: %d passed, %d failed\n", program, check_passed, check_failed);
    return check_failed == 0 ? 0 : 1;
}

/* The last error message of this thread (static buffer). */
static const char *last_error(void) {
    static char message[4096];
    message[0] = '\0';
    (void)ftrack_last_error_message(message, sizeof message, NULL);
    return message;
}

#endif /* FTRACK_TEST_CHECK_H */
