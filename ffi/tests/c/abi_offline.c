/*
 * The C ABI without a server: version, status names, the last error, and every
 * NULL / invalid-UTF-8 / too-small-buffer / destroy(NULL) path.
 *
 * Usage: abi_offline <expected version string, from Cargo.toml>
 * Run by ffi/tests/c_abi.rs with the FTRACK_* variables removed from the environment.
 */
#include "check.h"

/* Arithmetic of the version macros, checked at compile time. */
#if FTRACK_VERSION_NUMBER != FTRACK_VERSION_MAJOR * 1000000 + FTRACK_VERSION_MINOR * 1000 + FTRACK_VERSION_PATCH
#error "FTRACK_VERSION_NUMBER does not match MAJOR/MINOR/PATCH"
#endif

static const char BAD_UTF8[] = {'a', (char)0xff, 'b', '\0'};

static void *sentinel(void) {
    static int s;
    return &s;
}

static void test_version(const char *expected) {
    char text[64];
    unsigned major = 0, minor = 0, patch = 0;
    CHECK_STR(ftrack_version_string(), FTRACK_VERSION_STRING);
    CHECK_STR(FTRACK_VERSION_STRING, expected);
    CHECK(ftrack_version_number() == FTRACK_VERSION_NUMBER);
    CHECK(sscanf(expected, "%u.%u.%u", &major, &minor, &patch) == 3);
    CHECK(FTRACK_VERSION_MAJOR == major && FTRACK_VERSION_MINOR == minor &&
          FTRACK_VERSION_PATCH == patch);
    CHECK(ftrack_version_number() == major * 1000000u + minor * 1000u + patch);
    snprintf(text, sizeof text, "%u.%u.%u", major, minor, patch);
    CHECK(strncmp(ftrack_version_string(), text, strlen(text)) == 0);
}

static void test_status_names(void) {
    CHECK_STR(ftrack_status_name(FTRACK_STATUS_OK), "FTRACK_STATUS_OK");
    CHECK_STR(ftrack_status_name(FTRACK_STATUS_NOT_FOUND), "FTRACK_STATUS_NOT_FOUND");
    CHECK_STR(ftrack_status_name(FTRACK_STATUS_PROJECT_NOT_GRANTED),
              "FTRACK_STATUS_PROJECT_NOT_GRANTED");
    CHECK_STR(ftrack_status_name(12345), "FTRACK_STATUS_UNKNOWN");
    CHECK(FTRACK_STATUS_INVALID_ARGUMENT == 100 && FTRACK_STATUS_NULL_POINTER == 101 &&
          FTRACK_STATUS_INVALID_UTF8 == 102 && FTRACK_STATUS_BUFFER_TOO_SMALL == 103 &&
          FTRACK_STATUS_MISSING_CONFIGURATION == 104);
    CHECK(FTRACK_STATUS_CONNECTION == 200 && FTRACK_STATUS_PROTOCOL == 203);
    CHECK(FTRACK_STATUS_SERVER == 300 && FTRACK_STATUS_INCOMPATIBLE_SERVER == 304);
    CHECK(FTRACK_STATUS_QUERY_SYNTAX == 400 && FTRACK_STATUS_UNKNOWN_ENTITY_TYPE == 405);
    CHECK(FTRACK_STATUS_ROLE_ALREADY_ASSIGNED == 500 && FTRACK_STATUS_PROJECT_NOT_GRANTED == 504);
    CHECK(FTRACK_STATUS_PANIC == 900 && FTRACK_STATUS_POISONED == 901 &&
          FTRACK_STATUS_INTERNAL == 999);
}

static void test_last_error(void) {
    char small[4];
    char big[512];
    size_t len = 0;
    ftrack_session_options *options = NULL;

    /* Nothing failed yet on this thread: empty message. */
    CHECK_OK(ftrack_last_error_message(big, sizeof big, &len));
    CHECK_STR(big, "");
    CHECK(len == 1);

    /* A failing call sets it. */
    CHECK_STATUS(ftrack_session_options_create(NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_OK(ftrack_last_error_message(big, sizeof big, &len));
    CHECK(strstr(big, "ftrack_session_options_create") != NULL);
    CHECK(strstr(big, "out") != NULL);
    CHECK(len == strlen(big) + 1);

    /* Size query, too-small buffer, NULL buffer with a length: the getter never changes it. */
    len = 0;
    CHECK_STATUS(ftrack_last_error_message(NULL, 0, &len), FTRACK_STATUS_BUFFER_TOO_SMALL);
    CHECK(len == strlen(big) + 1);
    memset(small, 'x', sizeof small);
    CHECK_STATUS(ftrack_last_error_message(small, sizeof small, &len),
                 FTRACK_STATUS_BUFFER_TOO_SMALL);
    CHECK(small[0] == '\0');
    CHECK(len == strlen(big) + 1);
    CHECK_STATUS(ftrack_last_error_message(NULL, 10, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_last_error_message(NULL, 0, NULL), FTRACK_STATUS_BUFFER_TOO_SMALL);
    {
        char again[512];
        CHECK_OK(ftrack_last_error_message(again, sizeof again, NULL));
        CHECK_STR(again, big);
    }

    /* A successful call does not clear it. */
    CHECK_OK(ftrack_session_options_create(&options));
    CHECK(strstr(last_error(), "ftrack_session_options_create") != NULL);
    ftrack_session_options_destroy(options);
}

static void test_destroy_null(void) {
    ftrack_session_destroy(NULL);
    ftrack_session_options_destroy(NULL);
    ftrack_entity_destroy(NULL);
    ftrack_entity_list_destroy(NULL);
    CHECK(ftrack_entity_list_len(NULL) == 0);
    CHECK(1);
}

static void test_options(void) {
    ftrack_session_options *o = NULL;
    ftrack_session *s = (ftrack_session *)sentinel();

    CHECK_OK(ftrack_session_options_create(&o));
    CHECK(o != NULL);

    /* NULL handle. */
    CHECK_STATUS(ftrack_session_options_set_server_url(NULL, "http://x"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_api_key(NULL, "k"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_api_user(NULL, "u"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_timeout_ms(NULL, 10), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_add_header(NULL, "a", "b"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_add_cookie(NULL, "a", "b"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_strict_api(NULL, true), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_auto_populate(NULL, true), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_record_operations(NULL, true), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_schema_cache_path(NULL, "/tmp"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_disable_schema_cache(NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_page_size(NULL, 5), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_max_concurrent_pages(NULL, 2), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_max_attempts(NULL, 1), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_retry_delay_ms(NULL, 1), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_ca_bundle_path(NULL, "/x.pem"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_persistent_cache_path(NULL, "/x.json"), FTRACK_STATUS_NULL_POINTER);

    /* NULL strings. */
    CHECK_STATUS(ftrack_session_options_set_server_url(o, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_api_key(o, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_api_user(o, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_add_header(o, NULL, "b"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_add_header(o, "a", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_add_cookie(o, NULL, "b"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_add_cookie(o, "a", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_schema_cache_path(o, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_ca_bundle_path(o, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_options_set_persistent_cache_path(o, NULL), FTRACK_STATUS_NULL_POINTER);

    /* Invalid UTF-8. */
    CHECK_STATUS(ftrack_session_options_set_server_url(o, BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_set_api_key(o, BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_set_api_user(o, BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_add_header(o, BAD_UTF8, "b"), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_add_header(o, "a", BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_add_cookie(o, BAD_UTF8, "b"), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_add_cookie(o, "a", BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_set_schema_cache_path(o, BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_set_ca_bundle_path(o, BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_options_set_persistent_cache_path(o, BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);

    /* Invalid values. */
    CHECK_STATUS(ftrack_session_options_set_timeout_ms(o, 0), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_options_set_page_size(o, 0), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_options_set_max_concurrent_pages(o, 0), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_options_set_max_attempts(o, 0), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_options_add_header(o, "", "b"), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_options_add_cookie(o, "", "b"), FTRACK_STATUS_INVALID_ARGUMENT);

    /* Valid values. */
    CHECK_OK(ftrack_session_options_set_server_url(o, "http://127.0.0.1:9"));
    CHECK_OK(ftrack_session_options_set_api_key(o, "offline-key"));
    CHECK_OK(ftrack_session_options_set_api_user(o, "offline"));
    CHECK_OK(ftrack_session_options_set_timeout_ms(o, 2000));
    CHECK_OK(ftrack_session_options_add_header(o, "X-Test", "1"));
    CHECK_OK(ftrack_session_options_add_cookie(o, "c", "1"));
    CHECK_OK(ftrack_session_options_set_strict_api(o, true));
    CHECK_OK(ftrack_session_options_set_auto_populate(o, false));
    CHECK_OK(ftrack_session_options_set_record_operations(o, true));
    CHECK_OK(ftrack_session_options_set_schema_cache_path(o, "/tmp"));
    CHECK_OK(ftrack_session_options_disable_schema_cache(o));
    CHECK_OK(ftrack_session_options_set_page_size(o, 50));
    CHECK_OK(ftrack_session_options_set_max_concurrent_pages(o, 2));
    CHECK_OK(ftrack_session_options_set_max_attempts(o, 1));
    CHECK_OK(ftrack_session_options_set_retry_delay_ms(o, 0));

    /* create_with_options: NULL arguments; nothing listens on port 9. */
    CHECK_STATUS(ftrack_session_create_with_options(NULL, &s), FTRACK_STATUS_NULL_POINTER);
    CHECK(s == NULL);
    CHECK_STATUS(ftrack_session_create_with_options(o, NULL), FTRACK_STATUS_NULL_POINTER);
    s = (ftrack_session *)sentinel();
    CHECK_STATUS(ftrack_session_create_with_options(o, &s), FTRACK_STATUS_CONNECTION);
    CHECK(s == NULL);
    CHECK(strstr(last_error(), "offline-key") == NULL);

    ftrack_session_options_destroy(o);
}

static void test_session_create(void) {
    ftrack_session *s = (ftrack_session *)sentinel();

    CHECK_STATUS(ftrack_session_create(NULL, NULL, NULL, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_create(BAD_UTF8, "k", "u", &s), FTRACK_STATUS_INVALID_UTF8);
    CHECK(s == NULL);
    s = (ftrack_session *)sentinel();
    CHECK_STATUS(ftrack_session_create("http://127.0.0.1:9", BAD_UTF8, "u", &s),
                 FTRACK_STATUS_INVALID_UTF8);
    CHECK(s == NULL);
    CHECK_STATUS(ftrack_session_create("http://127.0.0.1:9", "k", BAD_UTF8, &s),
                 FTRACK_STATUS_INVALID_UTF8);

    /* The environment has no FTRACK_* variables: each missing value is named. */
    s = (ftrack_session *)sentinel();
    CHECK_STATUS(ftrack_session_create(NULL, "k", "u", &s), FTRACK_STATUS_MISSING_CONFIGURATION);
    CHECK(s == NULL);
    CHECK(strstr(last_error(), "FTRACK_SERVER") != NULL);
    CHECK_STATUS(ftrack_session_create("http://127.0.0.1:9", NULL, "u", &s),
                 FTRACK_STATUS_MISSING_CONFIGURATION);
    CHECK(strstr(last_error(), "FTRACK_API_KEY") != NULL);
}

static void test_null_session_and_entity(void) {
    ftrack_entity_list *list = (ftrack_entity_list *)sentinel();
    ftrack_entity *e = (ftrack_entity *)sentinel();
    char buf[16];
    size_t len = 99;
    bool b = true;
    int64_t i = 7;
    double d = 7.0;

    CHECK_STATUS(ftrack_session_query(NULL, "User", &list), FTRACK_STATUS_NULL_POINTER);
    CHECK(list == NULL);
    CHECK_STATUS(ftrack_session_query_first(NULL, "User", &e), FTRACK_STATUS_NULL_POINTER);
    CHECK(e == NULL);
    e = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_session_query_one(NULL, "User", &e), FTRACK_STATUS_NULL_POINTER);
    CHECK(e == NULL);
    e = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_session_create_entity(NULL, "Project", "{}", &e), FTRACK_STATUS_NULL_POINTER);
    CHECK(e == NULL);
    CHECK_STATUS(ftrack_session_delete_entity(NULL, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_commit(NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_rollback(NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_pending_count(NULL, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK(len == 0);
    len = 99;
    CHECK_STATUS(ftrack_session_pending_json(NULL, buf, sizeof buf, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK(len == 0 && buf[0] == '\0');
    CHECK_STATUS(ftrack_session_call(NULL, "[]", buf, sizeof buf, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_last_call_reply(buf, sizeof buf, &len), FTRACK_STATUS_NOT_FOUND);

    CHECK_STATUS(ftrack_entity_type_name(NULL, buf, sizeof buf, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_id(NULL, buf, sizeof buf, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_string(NULL, "name", buf, sizeof buf, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_json(NULL, "name", buf, sizeof buf, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_bool(NULL, "a", &b), FTRACK_STATUS_NULL_POINTER);
    CHECK(b == false);
    CHECK_STATUS(ftrack_entity_get_int64(NULL, "a", &i), FTRACK_STATUS_NULL_POINTER);
    CHECK(i == 0);
    CHECK_STATUS(ftrack_entity_get_double(NULL, "a", &d), FTRACK_STATUS_NULL_POINTER);
    CHECK(d == 0.0);
    i = 7;
    CHECK_STATUS(ftrack_entity_get_datetime(NULL, "a", &i), FTRACK_STATUS_NULL_POINTER);
    CHECK(i == 0);
    CHECK_STATUS(ftrack_entity_is_null(NULL, "a", &b), FTRACK_STATUS_NULL_POINTER);
    e = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_entity_get_entity(NULL, "a", &e), FTRACK_STATUS_NULL_POINTER);
    CHECK(e == NULL);
    list = (ftrack_entity_list *)sentinel();
    CHECK_STATUS(ftrack_entity_get_list(NULL, "a", &list), FTRACK_STATUS_NULL_POINTER);
    CHECK(list == NULL);
    CHECK_STATUS(ftrack_entity_set_string(NULL, "a", "b"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_bool(NULL, "a", true), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_int64(NULL, "a", 1), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_double(NULL, "a", 1.0), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_datetime(NULL, "a", 1), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_null(NULL, "a"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_entity(NULL, "a", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_json(NULL, "a", "1"), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_collection_append(NULL, "a", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_collection_remove(NULL, "a", NULL), FTRACK_STATUS_NULL_POINTER);

    e = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_entity_list_get(NULL, 0, &e), FTRACK_STATUS_NULL_POINTER);
    CHECK(e == NULL);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: %s <expected version>\n", argv[0]);
        return 2;
    }
    test_last_error(); /* first: it checks the empty initial message */
    test_version(argv[1]);
    test_status_names();
    test_destroy_null();
    test_options();
    test_session_create();
    test_null_session_and_entity();
    return check_finish("abi_offline");
}
