/*
 * A call-sequence fuzzer of the C ABI (issue 11): random handles (live ones and
 * NULL; never a destroyed one, which is undefined behaviour by contract), NULL
 * pointers, invalid UTF-8, tiny and zero buffers, wrong entity types and
 * sessions, and destroys interleaved with use. Every return must be a status the
 * header documents for that function; PANIC, POISONED and INTERNAL fail the run,
 * as do a string output that breaks the buffer contract or writes past the buffer.
 *
 * Two phases:
 *  - offline (the bulk): functions that need no server (options builder, status
 *    names, last error, version, entity and list accessors, local edits, pending
 *    batch, rollback) on entities queried once from the sandbox by a session with
 *    auto-populate off, so nothing goes to the network;
 *  - online (a share): queries, auto-populating getters, the roles API, raw calls,
 *    commits, and sessions created and destroyed, against the sandbox.
 *
 * Environment: FTRACK_SERVER / FTRACK_API_KEY / FTRACK_API_USER (the sandbox),
 * FTRACK_FUZZ_CALLS (offline calls, default 1000000), FTRACK_FUZZ_ONLINE_CALLS
 * (default 10000), FTRACK_FUZZ_SEED, FTRACK_FUZZ_EXACT=1 (buffers allocated at their
 * exact size, for valgrind), FTRACK_FUZZ_DIR (a scratch directory).
 * Run by ffi/tests/c_fuzz.rs.
 */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftrack.h"

/* ---- random numbers (xorshift64*) ---- */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;
static uint64_t rnd(void) {
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}
static size_t below(size_t n) { return n == 0 ? 0 : (size_t)(rnd() % n); }
static int chance(unsigned percent) { return below(100) < percent; }
#define PICK(array) ((array)[below(sizeof(array) / sizeof((array)[0]))])

/* ---- statuses as bits ---- */
static int bit_of(ftrack_status s) {
    switch (s) {
    case FTRACK_STATUS_OK: return 0;
    case FTRACK_STATUS_INVALID_ARGUMENT: return 1;
    case FTRACK_STATUS_NULL_POINTER: return 2;
    case FTRACK_STATUS_INVALID_UTF8: return 3;
    case FTRACK_STATUS_BUFFER_TOO_SMALL: return 4;
    case FTRACK_STATUS_MISSING_CONFIGURATION: return 5;
    case FTRACK_STATUS_CONNECTION: return 6;
    case FTRACK_STATUS_TIMEOUT: return 7;
    case FTRACK_STATUS_TLS: return 8;
    case FTRACK_STATUS_PROTOCOL: return 9;
    case FTRACK_STATUS_SERVER: return 10;
    case FTRACK_STATUS_AUTHENTICATION: return 11;
    case FTRACK_STATUS_PERMISSION_DENIED: return 12;
    case FTRACK_STATUS_VALIDATION: return 13;
    case FTRACK_STATUS_INCOMPATIBLE_SERVER: return 14;
    case FTRACK_STATUS_QUERY_SYNTAX: return 15;
    case FTRACK_STATUS_NOT_FOUND: return 16;
    case FTRACK_STATUS_MULTIPLE_RESULTS: return 17;
    case FTRACK_STATUS_UNKNOWN_ATTRIBUTE: return 18;
    case FTRACK_STATUS_TYPE_MISMATCH: return 19;
    case FTRACK_STATUS_UNKNOWN_ENTITY_TYPE: return 20;
    case FTRACK_STATUS_ROLE_ALREADY_ASSIGNED: return 21;
    case FTRACK_STATUS_ROLE_NOT_ASSIGNED: return 22;
    case FTRACK_STATUS_ROLE_NOT_ASSIGNABLE: return 23;
    case FTRACK_STATUS_PROJECT_ALREADY_GRANTED: return 24;
    case FTRACK_STATUS_PROJECT_NOT_GRANTED: return 25;
    case FTRACK_STATUS_PANIC: return 26;
    case FTRACK_STATUS_POISONED: return 27;
    case FTRACK_STATUS_INTERNAL: return 28;
    case FTRACK_STATUS_CANCELLED: return 29;
    default: return 30;
    }
}
#define B(s) (1ull << bit_of(s))
#define OK B(FTRACK_STATUS_OK)
#define INV B(FTRACK_STATUS_INVALID_ARGUMENT)
#define NUL B(FTRACK_STATUS_NULL_POINTER)
#define UTF B(FTRACK_STATUS_INVALID_UTF8)
#define BTS B(FTRACK_STATUS_BUFFER_TOO_SMALL)
#define MISS B(FTRACK_STATUS_MISSING_CONFIGURATION)
#define NOTF B(FTRACK_STATUS_NOT_FOUND)
#define MULT B(FTRACK_STATUS_MULTIPLE_RESULTS)
#define UATTR B(FTRACK_STATUS_UNKNOWN_ATTRIBUTE)
#define MISM B(FTRACK_STATUS_TYPE_MISMATCH)
#define UTYPE B(FTRACK_STATUS_UNKNOWN_ENTITY_TYPE)
#define QSYN B(FTRACK_STATUS_QUERY_SYNTAX)
/* "a transport/server status (2xx, 3xx)" */
#define NET                                                                              \
    (B(FTRACK_STATUS_CONNECTION) | B(FTRACK_STATUS_TIMEOUT) | B(FTRACK_STATUS_TLS) |     \
     B(FTRACK_STATUS_PROTOCOL) | B(FTRACK_STATUS_SERVER) |                               \
     B(FTRACK_STATUS_AUTHENTICATION) | B(FTRACK_STATUS_PERMISSION_DENIED) |              \
     B(FTRACK_STATUS_VALIDATION) | B(FTRACK_STATUS_INCOMPATIBLE_SERVER) |                \
     B(FTRACK_STATUS_CANCELLED))
#define ROLES                                                                            \
    (B(FTRACK_STATUS_ROLE_ALREADY_ASSIGNED) | B(FTRACK_STATUS_ROLE_NOT_ASSIGNED) |       \
     B(FTRACK_STATUS_ROLE_NOT_ASSIGNABLE) | B(FTRACK_STATUS_PROJECT_ALREADY_GRANTED) |   \
     B(FTRACK_STATUS_PROJECT_NOT_GRANTED))

/* ---- bookkeeping ---- */
static unsigned long long calls = 0;
static unsigned long long failures = 0;
static unsigned long long by_status[31];
static int online = 0;

static void fail(const char *fn, const char *what) {
    static const char *seen_fn[64];
    static char seen_what[64][256];
    static int seen = 0;
    char message[2048];
    int i;
    failures++;
    for (i = 0; i < seen; i++) {
        if (strcmp(seen_fn[i], fn) == 0 && strcmp(seen_what[i], what) == 0) {
            return; /* reported already */
        }
    }
    if (seen < 64) {
        seen_fn[seen] = fn;
        snprintf(seen_what[seen], sizeof seen_what[seen], "%s", what);
        seen++;
    }
    if (failures <= 200) {
        message[0] = '\0';
        (void)ftrack_last_error_message(message, sizeof message, NULL);
        fprintf(stderr, "FAIL call %llu %s: %s\n    last error: %s\n", calls, fn, what,
                message);
    }
}

/* Counts a call and checks its status against the documented set `allowed`. */
static ftrack_status check(const char *fn, ftrack_status s, uint64_t allowed) {
    int bit = bit_of(s);
    char what[256];
    calls++;
    by_status[bit]++;
    if (!(allowed & (1ull << bit)) || (bit >= 26 && bit <= 28) || bit == 30) {
        snprintf(what, sizeof what, "returned %s (%u), not a documented status here",
                 ftrack_status_name(s), (unsigned)s);
        fail(fn, what);
    }
    return s;
}

/* ---- inputs ---- */
static const char BAD_UTF8[] = {'a', (char)0xff, 'b', '\0'};
static const char BAD_UTF8_2[] = {'n', 'a', (char)0xc3, '\0'};
static const char BAD_UTF8_3[] = {(char)0xed, (char)0xa0, (char)0x80, '\0'}; /* surrogate */
static char long_text[5000];
static char deep_json[402];
static char sandbox_url[512];
static char scratch_path[1024];

static const char *attribute(void) {
    static const char *const names[] = {
        "id", "username", "first_name", "last_name", "email", "is_active", "name",
        "full_name", "is_private", "type", "user_type", "user_security_roles",
        "security_role", "user", "project", "is_all_projects",
        "user_security_role_projects", "local", "children", "parent", "memberships",
        "created_at", "resource_type", "group", "__entity_type__", "nope", "", "ID",
        "name ", "user.username", NULL, BAD_UTF8, BAD_UTF8_2, BAD_UTF8_3, long_text};
    return PICK(names);
}

static const char *text(void) {
    static const char *const values[] = {"", "x", "fuzz", "\xc3\xbcnicode", "a\"b\\c",
                                         "2024-01-01T00:00:00", NULL, BAD_UTF8,
                                         BAD_UTF8_3, long_text};
    return PICK(values);
}

static const char *json_text(void) {
    static const char *const values[] = {
        "null", "true", "1", "-1.5", "\"s\"", "[]", "{}", "[1,2]",
        "{\"__entity_type__\":\"User\",\"id\":\"x\"}",
        "{\"__entity_type__\":\"Nope\",\"id\":1}",
        "{\"__type__\":\"datetime\",\"value\":\"2024-01-01T00:00:00\"}",
        "{\"__type__\":\"datetime\",\"value\":\"9999-99-99\"}",
        "[{\"__entity_type__\":\"Group\",\"id\":\"g\"}]", "[", "1e999", "nan", "",
        "18446744073709551616", "\"\\ud800\"", NULL, BAD_UTF8, deep_json, long_text};
    return PICK(values);
}

static int64_t an_int64(void) {
    static const int64_t values[] = {0, 1, -1, INT64_MIN, INT64_MAX, 9007199254740993LL,
                                     1700000000000000LL, -62135596800000001LL,
                                     253402300800000000LL};
    return PICK(values);
}

static double a_double(void) {
    double values[] = {0.0, -0.0, 1.5, 1e308, -1e308, 5e-324, 0.0, 0.0};
    values[6] = NAN;
    values[7] = INFINITY * (chance(50) ? 1 : -1);
    return PICK(values);
}

/* ---- buffers ---- */
/* strnlen is POSIX, not C11. */
static size_t bounded_len(const char *s, size_t max) {
    size_t n = 0;
    while (n < max && s[n] != '\0') {
        n++;
    }
    return n;
}

static int exact_buffers = 0;
struct buf {
    char *ptr;
    size_t len;
    size_t out_len;
    size_t *out_len_ptr;
    char *mem;
};
#define CANARY 16

static void buf_make(struct buf *b) {
    static const size_t sizes[] = {0, 0, 1, 2, 3, 8, 37, 64, 256, 4096, 16384};
    b->len = PICK(sizes);
    b->out_len = 7777;
    b->out_len_ptr = chance(85) ? &b->out_len : NULL;
    b->mem = NULL;
    b->ptr = NULL;
    if (chance(8)) {
        return; /* NULL buffer (with a length: NULL_POINTER; without: size query) */
    }
    if (b->len == 0 && chance(50)) {
        return;
    }
    b->mem = malloc(b->len + (exact_buffers ? 0 : CANARY) + 1);
    if (b->mem == NULL) {
        abort();
    }
    b->ptr = b->mem;
    memset(b->mem, 'Z', b->len);
    if (!exact_buffers) {
        memset(b->mem + b->len, 0xA5, CANARY);
    }
}

/* Checks the buffer contract after a call that returned `s`, then frees. */
static void buf_check(const char *fn, struct buf *b, ftrack_status s) {
    if (b->ptr != NULL && !exact_buffers) {
        size_t i;
        for (i = 0; i < CANARY; i++) {
            if ((unsigned char)b->mem[b->len + i] != 0xA5) {
                fail(fn, "wrote past the end of the buffer");
                break;
            }
        }
    }
    if (s == FTRACK_STATUS_OK && b->ptr != NULL) {
        size_t n = bounded_len(b->ptr, b->len);
        if (n >= b->len) {
            fail(fn, "OK without a NUL inside the buffer");
        } else if (b->out_len_ptr != NULL && b->out_len != n + 1) {
            fail(fn, "OK with *out_len not the length written plus the NUL");
        }
    }
    if (s == FTRACK_STATUS_OK && b->len == 0) {
        /* Not even the NUL fits: a size query must answer BUFFER_TOO_SMALL. */
        fail(fn, "OK into a zero-length buffer");
    }
    if (s == FTRACK_STATUS_BUFFER_TOO_SMALL) {
        if (b->out_len_ptr != NULL && b->out_len <= b->len) {
            fail(fn, "BUFFER_TOO_SMALL with *out_len not larger than the buffer");
        }
        if (b->ptr != NULL && b->len > 0 && b->ptr[0] != '\0') {
            fail(fn, "BUFFER_TOO_SMALL without an empty string in the buffer");
        }
    }
    free(b->mem);
    b->mem = NULL;
}

/* ---- handle pools ---- */
#define ENTITIES 48
#define LISTS 12
#define OPTIONS 6
#define BASE_LISTS 6
static ftrack_entity *ent[ENTITIES];
static int ent_session[ENTITIES]; /* 0: the offline session, 1: the online one, 2: others */
static ftrack_entity_list *lst[LISTS];
static int lst_session[LISTS];
static ftrack_session_options *opt[OPTIONS];
#define STRINGS 8
static ftrack_string *str[STRINGS];
static ftrack_session *sessions[3];
static ftrack_entity_list *base[2][BASE_LISTS];
static char admin_id[128];

static int is_admin(ftrack_entity *e) {
    char id[128];
    return e != NULL && admin_id[0] != '\0' &&
           ftrack_entity_id(e, id, sizeof id, NULL) == FTRACK_STATUS_OK &&
           strcmp(id, admin_id) == 0;
}

/* A slot index whose entity may be used as the main argument in this phase. */
static int entity_slot(void) {
    int tries;
    for (tries = 0; tries < 8; tries++) {
        int i = (int)below(ENTITIES);
        if (online || ent[i] == NULL || ent_session[i] == 0) {
            return i;
        }
    }
    return -1;
}

static ftrack_entity *main_entity(void) {
    int i = entity_slot();
    if (i < 0 || chance(4)) {
        return NULL;
    }
    if (ent[i] == NULL && chance(80)) {
        /* Refill the slot from a list queried at the start. */
        int which = online ? (int)below(2) : 0;
        ftrack_entity_list *l = base[which][below(BASE_LISTS)];
        size_t n = ftrack_entity_list_len(l);
        calls++;
        if (n > 0 && check("ftrack_entity_list_get", ftrack_entity_list_get(l, below(n), &ent[i]),
                           OK) == FTRACK_STATUS_OK) {
            ent_session[i] = which;
        }
    }
    return ent[i];
}

static ftrack_entity *any_entity(void) { return chance(5) ? NULL : ent[below(ENTITIES)]; }

static void put_entity(ftrack_entity *e, int session) {
    int i = (int)below(ENTITIES);
    if (e == NULL) {
        return;
    }
    ftrack_entity_destroy(ent[i]);
    ent[i] = e;
    ent_session[i] = session;
}

static void put_list(ftrack_entity_list *l, int session) {
    int i = (int)below(LISTS);
    if (l == NULL) {
        return;
    }
    ftrack_entity_list_destroy(lst[i]);
    lst[i] = l;
    lst_session[i] = session;
}

/* The session an entity slot belongs to (for entities derived from it). */
static int session_of(ftrack_entity *e) {
    int i;
    for (i = 0; i < ENTITIES; i++) {
        if (ent[i] == e) {
            return ent_session[i];
        }
    }
    return 2;
}

/* A list usable in this phase (any list is fine: list calls never go to the network). */
static const ftrack_entity_list *a_list(int *session) {
    int i;
    if (chance(6)) {
        *session = 0;
        return NULL;
    }
    if (chance(30)) {
        int which = online ? (int)below(2) : 0;
        i = (int)below(BASE_LISTS);
        *session = which;
        return base[which][i];
    }
    i = (int)below(LISTS);
    *session = lst_session[i];
    return lst[i];
}

/* ---- library-owned strings and entity clones ---- */
static void put_string(ftrack_string *x) {
    int i = (int)below(STRINGS);
    if (x == NULL) {
        return;
    }
    ftrack_string_destroy(str[i]);
    str[i] = x;
}

static void call_strings(void) {
    int i = (int)below(STRINGS);
    ftrack_string *x = chance(5) ? NULL : str[i];
    switch (below(5)) {
    case 0: {
        const char *data = ftrack_string_data(x);
        size_t len = ftrack_string_len(x);
        calls += 2;
        if ((x == NULL) != (data == NULL)) {
            fail("ftrack_string_data", "NULL for a live string, or text for NULL");
        } else if (data != NULL && strlen(data) != len) {
            fail("ftrack_string_len", "not the length of ftrack_string_data");
        } else if (x == NULL && len != 0) {
            fail("ftrack_string_len", "a length for NULL");
        }
        break;
    }
    case 1:
        ftrack_string_destroy(str[i]);
        str[i] = NULL;
        calls++;
        break;
    case 2: {
        ftrack_string *out = (ftrack_string *)&out;
        int which = online ? (int)below(2) : 0;
        ftrack_session *s = chance(5) ? NULL : sessions[which];
        int null_out = chance(5);
        ftrack_status st = check("ftrack_session_pending_json_string",
                                 ftrack_session_pending_json_string(s, null_out ? NULL : &out),
                                 OK | NUL);
        if (!null_out) {
            if (st != FTRACK_STATUS_OK && out != NULL) {
                fail("ftrack_session_pending_json_string", "failed without *out = NULL");
            } else if (st == FTRACK_STATUS_OK) {
                put_string(out);
            }
        }
        break;
    }
    default: {
        ftrack_entity *e = main_entity();
        ftrack_entity *out = (ftrack_entity *)&out;
        int null_out = chance(5);
        ftrack_status st = check("ftrack_entity_clone",
                                 ftrack_entity_clone(e, null_out ? NULL : &out), OK | NUL);
        if (!null_out) {
            if (st != FTRACK_STATUS_OK && out != NULL) {
                fail("ftrack_entity_clone", "failed without setting *out to NULL");
            } else if (st == FTRACK_STATUS_OK) {
                put_entity(out, session_of(e));
            }
        }
        break;
    }
    }
}

/* ---- host hooks ---- */
static unsigned long long log_lines = 0;
static unsigned long long progress_calls = 0;
static unsigned long long progress_cancels = 0;

static void on_log(void *user_data, ftrack_log_level level, const char *message) {
    log_lines++;
    if (user_data != &log_lines || message == NULL || level < FTRACK_LOG_LEVEL_ERROR ||
        level > FTRACK_LOG_LEVEL_DEBUG || strlen(message) > 1000000) {
        fail("ftrack_log_fn", "a log callback with bad arguments");
    }
}

static int on_progress(void *user_data, const char *operation, uint64_t done, int64_t total) {
    (void)done;
    (void)total;
    progress_calls++;
    if (user_data != &progress_calls || operation == NULL) {
        fail("ftrack_progress_fn", "a progress callback with bad arguments");
    }
    if (chance(3)) {
        progress_cancels++;
        return 1; /* cancel: the call then fails with FTRACK_STATUS_CANCELLED */
    }
    return 0;
}

static uint32_t log_level(void) {
    static const uint32_t levels[] = {0, 1, 2, 3, 4, 5, 99, UINT32_MAX};
    return PICK(levels);
}

static void call_hooks(void) {
    int which = online ? (int)below(2) : 0;
    ftrack_session *s = chance(5) ? NULL : sessions[which];
    ftrack_session_options *o = chance(5) ? NULL : opt[below(OPTIONS)];
    switch (below(8)) {
    case 0:
        check("ftrack_session_set_logger",
              ftrack_session_set_logger(s, log_level(), chance(70) ? on_log : NULL, &log_lines),
              OK | NUL | INV);
        break;
    case 1:
        check("ftrack_session_options_set_logger",
              ftrack_session_options_set_logger(o, log_level(), chance(70) ? on_log : NULL,
                                                &log_lines),
              OK | NUL | INV);
        break;
    case 2:
        check("ftrack_session_set_progress",
              ftrack_session_set_progress(s, chance(70) ? on_progress : NULL, &progress_calls),
              OK | NUL);
        break;
    case 3:
        /* Nothing is in flight on this thread: a no-op that must succeed. */
        check("ftrack_session_cancel", ftrack_session_cancel(s), OK | NUL);
        break;
    case 4:
        check("ftrack_session_options_set_connect_timeout_ms",
              ftrack_session_options_set_connect_timeout_ms(o, (uint64_t)an_int64()),
              OK | NUL | INV);
        break;
    case 5:
        check("ftrack_session_options_set_request_deadline_ms",
              ftrack_session_options_set_request_deadline_ms(o, (uint64_t)an_int64()),
              OK | NUL | INV);
        break;
    case 6:
        check("ftrack_session_options_set_max_reply_bytes",
              ftrack_session_options_set_max_reply_bytes(o, chance(50) ? below(3)
                                                                       : (uint64_t)an_int64()),
              OK | NUL | INV);
        break;
    default:
        check("ftrack_session_options_set_allow_insecure_http",
              ftrack_session_options_set_allow_insecure_http(o, chance(50)), OK | NUL);
        break;
    }
}

/* ---- the calls ---- */
static void call_entity_strings(void) {
    struct buf b;
    ftrack_entity *e = main_entity();
    ftrack_status s;
    uint64_t net = online ? NET : 0;
    buf_make(&b);
    switch (below(4)) {
    case 0:
        s = check("ftrack_entity_type_name",
                  ftrack_entity_type_name(e, b.ptr, b.len, b.out_len_ptr), OK | BTS | NUL);
        buf_check("ftrack_entity_type_name", &b, s);
        break;
    case 1:
        s = check("ftrack_entity_id", ftrack_entity_id(e, b.ptr, b.len, b.out_len_ptr),
                  OK | BTS | NUL);
        buf_check("ftrack_entity_id", &b, s);
        break;
    case 2:
        s = check("ftrack_entity_get_string",
                  ftrack_entity_get_string(e, attribute(), b.ptr, b.len, b.out_len_ptr),
                  OK | BTS | NUL | UTF | UATTR | MISM | NOTF | net);
        buf_check("ftrack_entity_get_string", &b, s);
        break;
    default:
        s = check("ftrack_entity_get_json",
                  ftrack_entity_get_json(e, attribute(), b.ptr, b.len, b.out_len_ptr),
                  OK | BTS | NUL | UTF | UATTR | NOTF | net);
        buf_check("ftrack_entity_get_json", &b, s);
        break;
    }
}

static void call_entity_getters(void) {
    ftrack_entity *e = main_entity();
    uint64_t net = online ? NET : 0;
    uint64_t allowed = OK | NUL | UTF | UATTR | MISM | NOTF | net;
    int null_out = chance(5);
    bool flag;
    int64_t i64;
    double d;
    switch (below(7)) {
    case 0:
        check("ftrack_entity_get_bool",
              ftrack_entity_get_bool(e, attribute(), null_out ? NULL : &flag), allowed);
        break;
    case 1:
        check("ftrack_entity_get_int64",
              ftrack_entity_get_int64(e, attribute(), null_out ? NULL : &i64), allowed);
        break;
    case 2:
        check("ftrack_entity_get_double",
              ftrack_entity_get_double(e, attribute(), null_out ? NULL : &d), allowed);
        break;
    case 3:
        check("ftrack_entity_get_datetime",
              ftrack_entity_get_datetime(e, attribute(), null_out ? NULL : &i64), allowed);
        break;
    case 4:
        check("ftrack_entity_is_null",
              ftrack_entity_is_null(e, attribute(), null_out ? NULL : &flag),
              allowed & ~MISM);
        break;
    case 5: {
        ftrack_entity *out = (ftrack_entity *)&out;
        ftrack_status s = check("ftrack_entity_get_entity",
                                ftrack_entity_get_entity(e, attribute(), null_out ? NULL : &out),
                                allowed);
        if (!null_out) {
            if (s != FTRACK_STATUS_OK && out != NULL) {
                fail("ftrack_entity_get_entity", "failed without setting *out to NULL");
            } else if (s == FTRACK_STATUS_OK) {
                put_entity(out, session_of(e));
            }
        }
        break;
    }
    default: {
        ftrack_entity_list *out = (ftrack_entity_list *)&out;
        ftrack_status s = check("ftrack_entity_get_list",
                                ftrack_entity_get_list(e, attribute(), null_out ? NULL : &out),
                                allowed);
        if (!null_out) {
            if (s != FTRACK_STATUS_OK && out != NULL) {
                fail("ftrack_entity_get_list", "failed without setting *out to NULL");
            } else if (s == FTRACK_STATUS_OK) {
                put_list(out, session_of(e));
            }
        }
        break;
    }
    }
}

static void call_entity_setters(void) {
    ftrack_entity *e = main_entity();
    const char *a = attribute();
    uint64_t allowed = OK | NUL | UTF | UATTR | MISM | INV | NOTF;
    /* Collections are fetched first when not loaded (auto-populate). */
    uint64_t net = online ? NET : 0;
    if (online && is_admin(e)) {
        return; /* the fuzzer must not lock its own API user out */
    }
    if (online && a != NULL && (strcmp(a, "is_active") == 0 || strcmp(a, "username") == 0)) {
        a = "first_name";
    }
    switch (below(10)) {
    case 0:
        check("ftrack_entity_set_string", ftrack_entity_set_string(e, a, text()), allowed);
        break;
    case 1:
        check("ftrack_entity_set_bool", ftrack_entity_set_bool(e, a, chance(50)), allowed);
        break;
    case 2:
        check("ftrack_entity_set_int64", ftrack_entity_set_int64(e, a, an_int64()), allowed);
        break;
    case 3:
        check("ftrack_entity_set_double", ftrack_entity_set_double(e, a, a_double()),
              allowed | INV);
        break;
    case 4:
        check("ftrack_entity_set_datetime", ftrack_entity_set_datetime(e, a, an_int64()),
              allowed);
        break;
    case 5:
        check("ftrack_entity_set_null", ftrack_entity_set_null(e, a), allowed);
        break;
    case 6:
        check("ftrack_entity_set_entity", ftrack_entity_set_entity(e, a, any_entity()),
              allowed | INV);
        break;
    case 7:
        check("ftrack_entity_set_json", ftrack_entity_set_json(e, a, json_text()),
              allowed | INV);
        break;
    case 8:
        check("ftrack_entity_collection_append",
              ftrack_entity_collection_append(e, a, any_entity()), allowed | net);
        break;
    default:
        check("ftrack_entity_collection_remove",
              ftrack_entity_collection_remove(e, a, any_entity()), allowed | net);
        break;
    }
}

static void call_lists(void) {
    int session = 0;
    const ftrack_entity_list *l = a_list(&session);
    size_t n = ftrack_entity_list_len(l);
    calls++;
    if (l == NULL && n != 0) {
        fail("ftrack_entity_list_len", "NULL list with a length");
    }
    if (chance(50)) {
        ftrack_entity *out = (ftrack_entity *)&out;
        size_t index = chance(80) && n > 0 ? below(n) : (chance(50) ? n : SIZE_MAX);
        int null_out = chance(5);
        ftrack_status s = check("ftrack_entity_list_get",
                                ftrack_entity_list_get(l, index, null_out ? NULL : &out),
                                OK | NUL | INV);
        if (!null_out) {
            if (s != FTRACK_STATUS_OK && out != NULL) {
                fail("ftrack_entity_list_get", "failed without setting *out to NULL");
            } else if (s == FTRACK_STATUS_OK) {
                put_entity(out, session);
            }
        }
    }
}

static void call_destroy(void) {
    switch (below(3)) {
    case 0: {
        int i = (int)below(ENTITIES);
        ftrack_entity_destroy(ent[i]);
        ent[i] = NULL;
        break;
    }
    case 1: {
        int i = (int)below(LISTS);
        ftrack_entity_list_destroy(lst[i]);
        lst[i] = NULL;
        break;
    }
    default: {
        int i = (int)below(OPTIONS);
        ftrack_session_options_destroy(opt[i]);
        opt[i] = NULL;
        break;
    }
    }
    calls++;
    if (chance(2)) {
        /* destroy(NULL) is a no-op */
        ftrack_entity_destroy(NULL);
        ftrack_entity_list_destroy(NULL);
        ftrack_session_options_destroy(NULL);
        ftrack_session_destroy(NULL);
        calls += 4;
    }
}

static const char *url(void) {
    static const char *const urls[] = {sandbox_url,         "http://127.0.0.1:1",
                                       "",                  "not a url",
                                       "http://[::1",       "ftp://127.0.0.1:1",
                                       "http://u:pw@127.0.0.1:1", "https://127.0.0.1:1",
                                       NULL,                BAD_UTF8};
    return PICK(urls);
}

static const char *path(void) {
    static const char *const paths[] = {scratch_path, "", "/nonexistent/dir/x",
                                        NULL, BAD_UTF8, long_text};
    return PICK(paths);
}

static void call_options(void) {
    int i = (int)below(OPTIONS);
    ftrack_session_options *o = chance(4) ? NULL : opt[i];
    uint64_t sets = OK | NUL | UTF;
    switch (below(18)) {
    case 0: {
        ftrack_session_options *out = (ftrack_session_options *)&out;
        if (chance(5)) {
            check("ftrack_session_options_create", ftrack_session_options_create(NULL), NUL);
        } else if (check("ftrack_session_options_create", ftrack_session_options_create(&out),
                         OK) == FTRACK_STATUS_OK) {
            ftrack_session_options_destroy(opt[i]);
            opt[i] = out;
        }
        break;
    }
    case 1:
        check("ftrack_session_options_set_server_url",
              ftrack_session_options_set_server_url(o, url()), sets);
        break;
    case 2:
        check("ftrack_session_options_set_api_key", ftrack_session_options_set_api_key(o, text()),
              sets);
        break;
    case 3:
        check("ftrack_session_options_set_api_user",
              ftrack_session_options_set_api_user(o, text()), sets);
        break;
    case 4:
        check("ftrack_session_options_set_timeout_ms",
              ftrack_session_options_set_timeout_ms(o, (uint64_t)an_int64()), OK | NUL | INV);
        break;
    case 5:
        check("ftrack_session_options_add_header",
              ftrack_session_options_add_header(o, text(), text()), sets | INV);
        break;
    case 6:
        check("ftrack_session_options_add_cookie",
              ftrack_session_options_add_cookie(o, text(), text()), sets | INV);
        break;
    case 7:
        check("ftrack_session_options_set_strict_api",
              ftrack_session_options_set_strict_api(o, chance(50)), OK | NUL);
        break;
    case 8:
        check("ftrack_session_options_set_auto_populate",
              ftrack_session_options_set_auto_populate(o, chance(50)), OK | NUL);
        break;
    case 9:
        check("ftrack_session_options_set_record_operations",
              ftrack_session_options_set_record_operations(o, chance(50)), OK | NUL);
        break;
    case 10:
        check("ftrack_session_options_set_schema_cache_path",
              ftrack_session_options_set_schema_cache_path(o, path()), sets);
        break;
    case 11:
        check("ftrack_session_options_disable_schema_cache",
              ftrack_session_options_disable_schema_cache(o), OK | NUL);
        break;
    case 12:
        check("ftrack_session_options_set_page_size",
              ftrack_session_options_set_page_size(o, chance(50) ? below(3) : SIZE_MAX),
              OK | NUL | INV);
        break;
    case 13:
        check("ftrack_session_options_set_max_attempts",
              ftrack_session_options_set_max_attempts(o, chance(50) ? (uint32_t)below(3)
                                                                    : UINT32_MAX),
              OK | NUL | INV);
        break;
    case 14:
        check("ftrack_session_options_set_retry_delay_ms",
              ftrack_session_options_set_retry_delay_ms(o, (uint64_t)an_int64()), OK | NUL);
        break;
    case 15:
        check("ftrack_session_options_set_ca_bundle_path",
              ftrack_session_options_set_ca_bundle_path(o, path()), sets);
        break;
    case 16:
        check("ftrack_session_options_set_persistent_cache_path",
              ftrack_session_options_set_persistent_cache_path(o, path()), sets);
        break;
    default:
        check("ftrack_session_options_set_idempotent_role_changes",
              ftrack_session_options_set_idempotent_role_changes(o, chance(50)), OK | NUL);
        break;
    }
}

static void call_misc(void) {
    struct buf b;
    ftrack_status s;
    switch (below(5)) {
    case 0:
        buf_make(&b);
        s = check("ftrack_last_error_message",
                  ftrack_last_error_message(b.ptr, b.len, b.out_len_ptr), OK | BTS | NUL);
        buf_check("ftrack_last_error_message", &b, s);
        break;
    case 1: {
        uint32_t v = chance(50) ? (uint32_t)rnd() : (uint32_t)below(1000);
        const char *name = ftrack_status_name(v);
        calls++;
        if (name == NULL || strncmp(name, "FTRACK_STATUS_", 14) != 0) {
            fail("ftrack_status_name", "NULL or not a status name");
        } else if (bit_of(v) == 30 && strcmp(name, "FTRACK_STATUS_UNKNOWN") != 0) {
            fail("ftrack_status_name", "an unknown value has a name");
        }
        break;
    }
    case 2:
        calls += 2;
        if (ftrack_version_string() == NULL ||
            ftrack_version_number() != FTRACK_VERSION_NUMBER) {
            fail("ftrack_version_string", "wrong version");
        }
        break;
    case 3:
        buf_make(&b);
        s = check("ftrack_last_call_reply", ftrack_last_call_reply(b.ptr, b.len, b.out_len_ptr),
                  OK | BTS | NUL | NOTF);
        buf_check("ftrack_last_call_reply", &b, s);
        break;
    default: {
        /* Session functions given a NULL session never touch the network. */
        ftrack_entity_list *l = NULL;
        ftrack_entity *e = NULL;
        size_t n;
        switch (below(8)) {
        case 0:
            check("ftrack_session_query", ftrack_session_query(NULL, text(), &l), NUL | UTF);
            break;
        case 1:
            check("ftrack_session_commit", ftrack_session_commit(NULL), NUL);
            break;
        case 2:
            check("ftrack_session_rollback", ftrack_session_rollback(NULL), NUL);
            break;
        case 3:
            check("ftrack_session_pending_count",
                  ftrack_session_pending_count(NULL, chance(50) ? &n : NULL), NUL);
            break;
        case 4:
            check("ftrack_user_role_append",
                  ftrack_user_role_append(NULL, any_entity(), any_entity(), chance(50)),
                  NUL | INV);
            break;
        case 5:
            check("ftrack_security_role_find", ftrack_security_role_find(NULL, text(), &e),
                  NUL | UTF);
            break;
        case 6:
            buf_make(&b);
            s = check("ftrack_security_role_audit_json",
                      ftrack_security_role_audit_json(NULL, b.ptr, b.len, b.out_len_ptr), NUL);
            buf_check("ftrack_security_role_audit_json", &b, s);
            break;
        default: {
            ftrack_session *none = NULL;
            check("ftrack_session_create_with_options",
                  ftrack_session_create_with_options(NULL, chance(50) ? NULL : &none), NUL);
            break;
        }
        }
        ftrack_entity_list_destroy(l);
        ftrack_entity_destroy(e);
        break;
    }
    }
}

/* Local session calls on the offline session (or the online one when online). */
static void call_session_local(void) {
    int which = online ? (int)below(2) : 0;
    ftrack_session *s = chance(4) ? NULL : sessions[which];
    struct buf b;
    ftrack_status st;
    switch (below(6)) {
    case 0: {
        static const char *const types[] = {"Group", "User", "Project", "SecurityRole",
                                            "UserSecurityRole", "Nope", "", NULL, BAD_UTF8};
        static const char *const data[] = {
            "{}", "{\"name\":\"fz\"}", "{\"local\":true,\"name\":\"x\"}", "[]", "null", "{",
            "{\"id\":\"fixed-id\"}", "{\"id\":5}", "{\"id\":{}}", "{\"nope\":1}",
            "{\"local\":\"str\"}", "{\"parent\":{\"__entity_type__\":\"Group\",\"id\":\"g\"}}",
            NULL, BAD_UTF8};
        ftrack_entity *out = (ftrack_entity *)&out;
        int null_out = chance(5);
        const char *type = PICK(types);
        if (online && type != NULL && strcmp(type, "User") == 0) {
            type = "Group"; /* users created online would need valid data; keep it simple */
        }
        st = check("ftrack_session_create_entity",
                   ftrack_session_create_entity(s, type, PICK(data), null_out ? NULL : &out),
                   OK | NUL | UTF | INV | UTYPE | UATTR | MISM);
        if (!null_out) {
            if (st != FTRACK_STATUS_OK && out != NULL) {
                fail("ftrack_session_create_entity", "failed without setting *out to NULL");
            } else if (st == FTRACK_STATUS_OK) {
                put_entity(out, which);
            }
        }
        break;
    }
    case 1: {
        ftrack_entity *e = any_entity();
        if (online && is_admin(e)) {
            e = NULL;
        }
        check("ftrack_session_delete_entity", ftrack_session_delete_entity(s, e),
              OK | NUL | INV | NOTF);
        break;
    }
    case 2:
        if (chance(30)) {
            check("ftrack_session_rollback", ftrack_session_rollback(s), OK | NUL);
        }
        break;
    case 3: {
        size_t n = 0;
        check("ftrack_session_pending_count",
              ftrack_session_pending_count(s, chance(90) ? &n : NULL), OK | NUL);
        break;
    }
    default:
        buf_make(&b);
        st = check("ftrack_session_pending_json",
                   ftrack_session_pending_json(s, b.ptr, b.len, b.out_len_ptr), OK | BTS | NUL);
        buf_check("ftrack_session_pending_json", &b, st);
        break;
    }
}

/* ---- online-only calls ---- */
static void call_online(void) {
    ftrack_session *s = sessions[chance(75) ? 1 : 2];
    ftrack_entity_list *l = (ftrack_entity_list *)&l;
    ftrack_entity *e = (ftrack_entity *)&e;
    struct buf b;
    ftrack_status st;
    int sess = s == sessions[1] ? 1 : 2;
    static const char *const exprs[] = {
        "select username from User", "User", "Project where name is \"alpha\"",
        "select name, type from SecurityRole", "select from", "Nope", "",
        "select name from Group limit 3", "User where username is \"admin\"",
        "select name from Group where name like \"fz%\"", NULL, BAD_UTF8, long_text};
    if (chance(3)) {
        s = NULL;
    }
    switch (below(16)) {
    case 0:
        if (check("ftrack_session_query", ftrack_session_query(s, PICK(exprs), &l),
                  OK | NUL | UTF | QSYN | UTYPE | NET | UATTR | INV) == FTRACK_STATUS_OK) {
            put_list(l, sess);
        }
        break;
    case 1:
        if (check("ftrack_session_query_first", ftrack_session_query_first(s, PICK(exprs), &e),
                  OK | NOTF | NUL | UTF | QSYN | UTYPE | NET | UATTR | INV) ==
            FTRACK_STATUS_OK) {
            put_entity(e, sess);
        }
        break;
    case 2:
        if (check("ftrack_session_query_one", ftrack_session_query_one(s, PICK(exprs), &e),
                  OK | NOTF | MULT | NUL | UTF | QSYN | UTYPE | NET | UATTR | INV) ==
            FTRACK_STATUS_OK) {
            put_entity(e, sess);
        }
        break;
    case 3: {
        static const char *const types[] = {"PROJECT", "API", "ASSIGNED", "NOPE", "", NULL,
                                            BAD_UTF8};
        if (check("ftrack_security_roles", ftrack_security_roles(s, PICK(types), &l),
                  OK | NUL | UTF | INV | NET) == FTRACK_STATUS_OK) {
            put_list(l, sess);
        }
        break;
    }
    case 4: {
        static const char *const names[] = {"Project Manager", "Administrator", "User",
                                            "Nope", "", NULL, BAD_UTF8};
        if (check("ftrack_security_role_find", ftrack_security_role_find(s, PICK(names), &e),
                  OK | NOTF | NUL | UTF | NET) == FTRACK_STATUS_OK) {
            put_entity(e, sess);
        }
        break;
    }
    case 5: {
        static const char *const names[] = {"artist", "pm", "restricted", "nobody", "",
                                            NULL, BAD_UTF8};
        if (check("ftrack_user_find", ftrack_user_find(s, PICK(names), &e),
                  OK | NOTF | NUL | UTF | NET) == FTRACK_STATUS_OK) {
            put_entity(e, sess);
        }
        break;
    }
    case 6: {
        static const char *const names[] = {"alpha", "beta", "gamma", "nope", "", NULL,
                                            BAD_UTF8};
        if (check("ftrack_project_find", ftrack_project_find(s, PICK(names), &e),
                  OK | NOTF | MULT | NUL | UTF | NET) == FTRACK_STATUS_OK) {
            put_entity(e, sess);
        }
        break;
    }
    case 7:
        if (check("ftrack_user_security_roles",
                  ftrack_user_security_roles(s, any_entity(), &l), OK | NUL | INV | NOTF | NET) ==
            FTRACK_STATUS_OK) {
            put_list(l, sess);
        }
        break;
    case 8: {
        ftrack_entity *user = any_entity();
        if (is_admin(user)) {
            break;
        }
        switch (below(5)) {
        case 0:
            check("ftrack_user_role_append",
                  ftrack_user_role_append(s, user, any_entity(), chance(50)),
                  OK | ROLES | NUL | INV | NOTF | NET);
            break;
        case 1:
            check("ftrack_user_role_remove", ftrack_user_role_remove(s, user, any_entity()),
                  OK | ROLES | NUL | INV | NOTF | NET);
            break;
        case 2:
            check("ftrack_user_role_replace",
                  ftrack_user_role_replace(s, user, any_entity(), any_entity()),
                  OK | ROLES | NUL | INV | NOTF | NET);
            break;
        case 3:
            check("ftrack_user_role_grant_project",
                  ftrack_user_role_grant_project(s, user, any_entity(), any_entity()),
                  OK | ROLES | NUL | INV | NOTF | NET);
            break;
        default:
            check("ftrack_user_role_revoke_project",
                  ftrack_user_role_revoke_project(s, user, any_entity(), any_entity()),
                  OK | ROLES | NUL | INV | NOTF | NET);
            break;
        }
        break;
    }
    case 9:
        if (chance(30)) {
            static const char *const criteria[] = {"username like \"a%\"", "is_active is true",
                                                   "nope is 1", "select from", "", NULL,
                                                   BAD_UTF8};
            if (check("ftrack_users", ftrack_users(s, PICK(criteria), &l),
                      OK | NUL | UTF | QSYN | UATTR | INV | NET) == FTRACK_STATUS_OK) {
                put_list(l, sess);
            }
            break;
        }
        buf_make(&b);
        st = check("ftrack_security_role_audit_json",
                   ftrack_security_role_audit_json(s, b.ptr, b.len, b.out_len_ptr),
                   OK | BTS | NUL | NET);
        buf_check("ftrack_security_role_audit_json", &b, st);
        break;
    case 10: {
        static const char *const batches[] = {
            "[{\"action\":\"query_server_information\"}]", "[]", "{", "[{\"action\":\"nope\"}]",
            "[{\"action\":\"query\",\"expression\":\"select name from Group limit 2\"}]",
            "[{\"action\":\"query\",\"expression\":\"select from\"}]", "null", NULL, BAD_UTF8};
        buf_make(&b);
        st = check("ftrack_session_call",
                   ftrack_session_call(s, PICK(batches), b.ptr, b.len, b.out_len_ptr),
                   OK | BTS | NUL | UTF | INV | NET | QSYN | NOTF | UATTR | UTYPE);
        buf_check("ftrack_session_call", &b, st);
        break;
    }
    case 11:
    case 12: {
        ftrack_status c = check("ftrack_session_commit", ftrack_session_commit(s),
                                OK | NUL | NET | ROLES | NOTF | UATTR | UTYPE | INV);
        if (c != FTRACK_STATUS_OK && chance(70)) {
            check("ftrack_session_rollback", ftrack_session_rollback(s), OK | NUL);
        }
        break;
    }
    case 13: {
        /* A session of its own, from random options made safe to connect with. */
        int i = (int)below(OPTIONS);
        ftrack_session *out = (ftrack_session *)&out;
        if (opt[i] != NULL) {
            check("ftrack_session_options_set_max_attempts",
                  ftrack_session_options_set_max_attempts(opt[i], 1), OK);
            check("ftrack_session_options_set_timeout_ms",
                  ftrack_session_options_set_timeout_ms(opt[i], 2000), OK);
            check("ftrack_session_options_disable_schema_cache",
                  ftrack_session_options_disable_schema_cache(opt[i]), OK);
            check("ftrack_session_options_set_persistent_cache_path",
                  ftrack_session_options_set_persistent_cache_path(opt[i], scratch_path), OK);
        }
        st = check("ftrack_session_create_with_options",
                   ftrack_session_create_with_options(opt[i], &out),
                   OK | NUL | UTF | MISS | INV | NET);
        if (st == FTRACK_STATUS_OK) {
            ftrack_session_destroy(sessions[2]);
            sessions[2] = out;
        } else if (out != NULL) {
            fail("ftrack_session_create_with_options", "failed without setting *out to NULL");
        }
        break;
    }
    case 14:
        if (chance(50)) {
            static const char *const batches[] = {
                "[{\"action\":\"query_server_information\"}]", "[]", "{", "null",
                "[{\"action\":\"query\",\"expression\":\"select name from Group limit 2\"}]",
                "[{\"action\":\"nope\"}]", NULL, BAD_UTF8};
            ftrack_string *out = NULL;
            if (chance(50)) {
                st = check("ftrack_session_call_string",
                           ftrack_session_call_string(s, PICK(batches), &out),
                           OK | NUL | UTF | INV | NET | QSYN | NOTF | UATTR | UTYPE);
            } else {
                st = check("ftrack_security_role_audit_json_string",
                           ftrack_security_role_audit_json_string(s, &out), OK | NUL | NET);
            }
            if (st == FTRACK_STATUS_OK) {
                put_string(out);
            }
            break;
        }
        if (chance(10)) {
            /* Credentials from the arguments, or (NULL) the environment: the sandbox. */
            static const char *const keys[] = {NULL, "wrong-key", "", BAD_UTF8};
            ftrack_session *out = (ftrack_session *)&out;
            st = check("ftrack_session_create",
                       ftrack_session_create(chance(50) ? NULL : sandbox_url, PICK(keys),
                                             chance(70) ? NULL : text(), &out),
                       OK | NUL | UTF | MISS | INV | NET);
            if (st == FTRACK_STATUS_OK) {
                ftrack_session_destroy(sessions[2]);
                sessions[2] = out;
            } else if (out != NULL) {
                fail("ftrack_session_create", "failed without setting *out to NULL");
            }
            break;
        }
        /* Destroy the extra session while its entities live on. */
        ftrack_session_destroy(sessions[2]);
        sessions[2] = NULL;
        calls++;
        break;
    default:
        call_entity_getters();
        break;
    }
}

static void one_call(void) {
    unsigned r = (unsigned)below(100);
    if (online && r < 50) {
        call_online();
    } else if (r < 40) {
        call_entity_strings();
    } else if (r < 60) {
        call_entity_getters();
    } else if (r < 72) {
        call_entity_setters();
    } else if (r < 77) {
        call_lists();
    } else if (r < 80) {
        call_strings();
    } else if (r < 84) {
        call_destroy();
    } else if (r < 90) {
        call_options();
    } else if (r < 93) {
        call_misc();
    } else if (r < 95) {
        call_hooks();
    } else {
        call_session_local();
    }
}

/* ---- set-up ---- */
static unsigned long long env_ull(const char *name, unsigned long long fallback) {
    const char *v = getenv(name);
    return v != NULL && *v != '\0' ? strtoull(v, NULL, 0) : fallback;
}

static ftrack_session *open_session(int auto_populate) {
    ftrack_session_options *o = NULL;
    ftrack_session *s = NULL;
    if (ftrack_session_options_create(&o) != FTRACK_STATUS_OK ||
        ftrack_session_options_disable_schema_cache(o) != FTRACK_STATUS_OK ||
        ftrack_session_options_set_auto_populate(o, auto_populate) != FTRACK_STATUS_OK ||
        ftrack_session_create_with_options(o, &s) != FTRACK_STATUS_OK) {
        char message[1024];
        (void)ftrack_last_error_message(message, sizeof message, NULL);
        fprintf(stderr, "abi_fuzz: cannot open a session on the sandbox: %s\n", message);
        exit(2);
    }
    ftrack_session_options_destroy(o);
    return s;
}

static void load_base(int which) {
    static const char *const queries[BASE_LISTS] = {
        "select username, first_name, is_active, user_security_roles from User",
        "select name, full_name, is_private, created_at from Project",
        "select name, type from SecurityRole",
        "select user, security_role, is_all_projects, user_security_role_projects from "
        "UserSecurityRole",
        "select user_security_role, project from UserSecurityRoleProject",
        "select name, local, children, parent, memberships from Group"};
    int i;
    for (i = 0; i < BASE_LISTS; i++) {
        if (ftrack_session_query(sessions[which], queries[i], &base[which][i]) !=
            FTRACK_STATUS_OK) {
            char message[1024];
            (void)ftrack_last_error_message(message, sizeof message, NULL);
            fprintf(stderr, "abi_fuzz: query %s: %s\n", queries[i], message);
            exit(2);
        }
    }
    /* Seed the entity pool from the base lists. */
    for (i = 0; i < ENTITIES / 2; i++) {
        ftrack_entity_list *l = base[which][below(BASE_LISTS)];
        size_t n = ftrack_entity_list_len(l);
        ftrack_entity *e = NULL;
        if (n > 0 && ftrack_entity_list_get(l, below(n), &e) == FTRACK_STATUS_OK) {
            put_entity(e, which);
        }
    }
}

int main(void) {
    unsigned long long offline_calls = env_ull("FTRACK_FUZZ_CALLS", 1000000ull);
    unsigned long long online_calls = env_ull("FTRACK_FUZZ_ONLINE_CALLS", 10000ull);
    unsigned long long seed = env_ull("FTRACK_FUZZ_SEED", 0x5eedfa22ull);
    unsigned long long offline_done, online_done;
    const char *server = getenv("FTRACK_SERVER");
    const char *dir = getenv("FTRACK_FUZZ_DIR");
    struct timespec t0, t1, t2;
    double offline_seconds, online_seconds;
    int i, k;

    /* Every seed its own sequence (seed | 1 would merge 2 and 3). */
    rng_state = seed * 0x9E3779B97F4A7C15ull + 0x632BE59BD9B4E019ull;
    if (rng_state == 0) {
        rng_state = 1;
    }
    (void)timespec_get(&t0, TIME_UTC);
    exact_buffers = env_ull("FTRACK_FUZZ_EXACT", 0) == 1;
    memset(long_text, 'n', sizeof long_text - 1);
    long_text[sizeof long_text - 1] = '\0';
    for (i = 0; i < 200; i++) {
        deep_json[i] = '[';
        deep_json[200 + i] = ']';
    }
    deep_json[400] = '\0';
    snprintf(sandbox_url, sizeof sandbox_url, "%s", server != NULL ? server : "");
    snprintf(scratch_path, sizeof scratch_path, "%s/cache", dir != NULL ? dir : "/tmp");

    sessions[0] = open_session(0); /* auto-populate off: its entities never go online */
    sessions[1] = open_session(1);
    {
        ftrack_entity *admin = NULL;
        const char *user = getenv("FTRACK_API_USER");
        if (ftrack_user_find(sessions[1], user != NULL ? user : "admin", &admin) ==
            FTRACK_STATUS_OK) {
            (void)ftrack_entity_id(admin, admin_id, sizeof admin_id, NULL);
            ftrack_entity_destroy(admin);
        }
    }
    load_base(0);
    load_base(1);
    for (i = 0; i < OPTIONS; i++) {
        (void)ftrack_session_options_create(&opt[i]);
    }
    /* Online entities stay out of the offline phase's main arguments. */
    for (i = 0; i < ENTITIES; i++) {
        if (ent[i] != NULL && ent_session[i] != 0 && chance(50)) {
            ftrack_entity_destroy(ent[i]);
            ent[i] = NULL;
        }
    }

    online = 0;
    while (calls < offline_calls) {
        one_call();
        if (chance(1) && chance(20)) {
            /* Keep the offline session's pending batch small. */
            (void)ftrack_session_rollback(sessions[0]);
        }
    }
    offline_done = calls;
    (void)timespec_get(&t1, TIME_UTC);
    offline_seconds = (double)(t1.tv_sec - t0.tv_sec) + (t1.tv_nsec - t0.tv_nsec) / 1e9;

    online = 1;
    while (calls < offline_done + online_calls) {
        one_call();
    }
    online_done = calls - offline_done;
    (void)timespec_get(&t2, TIME_UTC);
    online_seconds = (double)(t2.tv_sec - t1.tv_sec) + (t2.tv_nsec - t1.tv_nsec) / 1e9;

    for (i = 0; i < ENTITIES; i++) {
        ftrack_entity_destroy(ent[i]);
    }
    for (i = 0; i < LISTS; i++) {
        ftrack_entity_list_destroy(lst[i]);
    }
    for (i = 0; i < OPTIONS; i++) {
        ftrack_session_options_destroy(opt[i]);
    }
    for (i = 0; i < STRINGS; i++) {
        ftrack_string_destroy(str[i]);
    }
    for (k = 0; k < 2; k++) {
        for (i = 0; i < BASE_LISTS; i++) {
            ftrack_entity_list_destroy(base[k][i]);
        }
    }
    for (i = 0; i < 3; i++) {
        ftrack_session_destroy(sessions[i]);
    }

    printf("abi_fuzz: %llu calls (%llu offline in %.1f s, %llu against the sandbox in %.1f s; "
           "set-up included), seed %#llx, %llu failures\n",
           calls, offline_done, offline_seconds, online_done, online_seconds, seed, failures);
    printf("abi_fuzz: %llu log lines, %llu progress calls (%llu cancelled by the callback)\n",
           log_lines, progress_calls, progress_cancels);
    printf("abi_fuzz: statuses:");
    for (i = 0; i < 31; i++) {
        if (by_status[i] > 0) {
            static const ftrack_status names[] = {
                FTRACK_STATUS_OK, FTRACK_STATUS_INVALID_ARGUMENT, FTRACK_STATUS_NULL_POINTER,
                FTRACK_STATUS_INVALID_UTF8, FTRACK_STATUS_BUFFER_TOO_SMALL,
                FTRACK_STATUS_MISSING_CONFIGURATION, FTRACK_STATUS_CONNECTION,
                FTRACK_STATUS_TIMEOUT, FTRACK_STATUS_TLS, FTRACK_STATUS_PROTOCOL,
                FTRACK_STATUS_SERVER, FTRACK_STATUS_AUTHENTICATION,
                FTRACK_STATUS_PERMISSION_DENIED, FTRACK_STATUS_VALIDATION,
                FTRACK_STATUS_INCOMPATIBLE_SERVER, FTRACK_STATUS_QUERY_SYNTAX,
                FTRACK_STATUS_NOT_FOUND, FTRACK_STATUS_MULTIPLE_RESULTS,
                FTRACK_STATUS_UNKNOWN_ATTRIBUTE, FTRACK_STATUS_TYPE_MISMATCH,
                FTRACK_STATUS_UNKNOWN_ENTITY_TYPE, FTRACK_STATUS_ROLE_ALREADY_ASSIGNED,
                FTRACK_STATUS_ROLE_NOT_ASSIGNED, FTRACK_STATUS_ROLE_NOT_ASSIGNABLE,
                FTRACK_STATUS_PROJECT_ALREADY_GRANTED, FTRACK_STATUS_PROJECT_NOT_GRANTED,
                FTRACK_STATUS_PANIC, FTRACK_STATUS_POISONED, FTRACK_STATUS_INTERNAL,
                FTRACK_STATUS_CANCELLED, 12345};
            printf(" %s=%llu", i == 30 ? "UNKNOWN" : ftrack_status_name(names[i]) + 14,
                   by_status[i]);
        }
    }
    printf("\n");
    return failures == 0 ? 0 : 1;
}
