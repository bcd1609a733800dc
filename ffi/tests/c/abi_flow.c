/*
 * The C ABI against a server (the sandbox's demo studio, from FTRACK_SERVER,
 * FTRACK_API_KEY and FTRACK_API_USER): query, typed getters, references and
 * collections, create / update / delete committed in batches, pending JSON, raw
 * calls, rollback, and the NULL / invalid-UTF-8 / too-small-buffer paths of calls
 * on live handles.
 */
#include "check.h"

static const char BAD_UTF8[] = {'a', (char)0xff, 'b', '\0'};

static void *sentinel(void) {
    static int s;
    return &s;
}

/* Reads a string attribute into a static buffer ("" on failure). */
static const char *get_string(ftrack_entity *e, const char *attribute) {
    static char value[1024];
    value[0] = '\0';
    CHECK_OK(ftrack_entity_get_string(e, attribute, value, sizeof value, NULL));
    return value;
}

static void test_queries(ftrack_session *s) {
    ftrack_entity_list *users = NULL;
    ftrack_entity *user = NULL;
    ftrack_entity *none = (ftrack_entity *)sentinel();
    ftrack_entity_list *list = (ftrack_entity_list *)sentinel();
    size_t n, k, len = 0;
    int found_admin = 0;
    char type[8];
    char id[64];
    bool active = false;
    int64_t i64 = 5;

    CHECK_OK(ftrack_session_query(s, "select username, is_active from User", &users));
    n = ftrack_entity_list_len(users);
    CHECK(n >= 5);
    for (k = 0; k < n; k++) {
        ftrack_entity *u = NULL;
        CHECK_OK(ftrack_entity_list_get(users, k, &u));
        if (strcmp(get_string(u, "username"), "admin") == 0) {
            found_admin = 1;
        }
        ftrack_entity_destroy(u);
    }
    CHECK(found_admin);
    none = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_entity_list_get(users, n, &none), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK(none == NULL);
    CHECK_STATUS(ftrack_entity_list_get(users, 0, NULL), FTRACK_STATUS_NULL_POINTER);
    ftrack_entity_list_destroy(users);

    CHECK_OK(ftrack_session_query_one(
        s, "select username, first_name, is_active from User where username is \"admin\"", &user));
    CHECK(user != NULL);
    CHECK_STR(get_string(user, "username"), "admin");
    CHECK_OK(ftrack_entity_get_bool(user, "is_active", &active));
    CHECK(active);

    /* type name and id through the buffer contract */
    len = 0;
    CHECK_STATUS(ftrack_entity_type_name(user, NULL, 0, &len), FTRACK_STATUS_BUFFER_TOO_SMALL);
    CHECK(len == 5);
    CHECK_STATUS(ftrack_entity_type_name(user, type, 2, &len), FTRACK_STATUS_BUFFER_TOO_SMALL);
    CHECK(len == 5 && type[0] == '\0');
    CHECK_STATUS(ftrack_entity_type_name(user, NULL, 3, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_OK(ftrack_entity_type_name(user, type, sizeof type, &len));
    CHECK_STR(type, "User");
    CHECK(len == 5);
    CHECK_OK(ftrack_entity_id(user, id, sizeof id, &len));
    CHECK(len > 1 && len == strlen(id) + 1);
    CHECK_STATUS(ftrack_entity_id(user, id, 1, &len), FTRACK_STATUS_BUFFER_TOO_SMALL);

    /* string getter: too small, size query, NULL and invalid attribute names */
    {
        char small[3];
        CHECK_STATUS(ftrack_entity_get_string(user, "username", small, sizeof small, &len),
                     FTRACK_STATUS_BUFFER_TOO_SMALL);
        CHECK(len == 6);
        CHECK_STATUS(ftrack_entity_get_string(user, "username", NULL, 0, &len),
                     FTRACK_STATUS_BUFFER_TOO_SMALL);
        CHECK(len == 6);
        CHECK_STATUS(ftrack_entity_get_string(user, NULL, small, sizeof small, &len),
                     FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_entity_get_string(user, BAD_UTF8, small, sizeof small, &len),
                     FTRACK_STATUS_INVALID_UTF8);
        CHECK_STATUS(ftrack_entity_get_json(user, "username", small, sizeof small, &len),
                     FTRACK_STATUS_BUFFER_TOO_SMALL);
        CHECK(len == 8); /* "admin" quoted, plus NUL */
    }
    CHECK_STATUS(ftrack_entity_get_bool(user, "is_active", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_bool(user, BAD_UTF8, &active), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_entity_get_int64(user, "username", &i64), FTRACK_STATUS_TYPE_MISMATCH);
    CHECK(i64 == 0);
    CHECK_STATUS(ftrack_entity_get_string(user, "no_such_attribute", id, sizeof id, &len),
                 FTRACK_STATUS_UNKNOWN_ATTRIBUTE);

    /* clone: a second handle to the same entity, sharing its data; either may go first */
    {
        ftrack_entity *copy = (ftrack_entity *)sentinel();
        ftrack_entity *other = NULL;
        CHECK_STATUS(ftrack_entity_clone(NULL, &copy), FTRACK_STATUS_NULL_POINTER);
        CHECK(copy == NULL);
        CHECK_STATUS(ftrack_entity_clone(user, NULL), FTRACK_STATUS_NULL_POINTER);
        CHECK_OK(ftrack_entity_clone(user, &copy));
        CHECK(copy != NULL && copy != user);
        CHECK_STR(get_string(copy, "username"), "admin");
        CHECK_OK(ftrack_entity_clone(copy, &other));
        CHECK_OK(ftrack_entity_set_string(other, "first_name", "Cloned"));
        CHECK_STR(get_string(copy, "first_name"), "Cloned");
        CHECK_STR(get_string(user, "first_name"), "Cloned");
        ftrack_entity_destroy(copy);
        CHECK_STR(get_string(other, "username"), "admin");
        ftrack_entity_destroy(other);
        CHECK_OK(ftrack_session_rollback(s));
    }

    /* references and collections */
    CHECK_OK(ftrack_entity_get_list(user, "user_security_roles", &list));
    CHECK(list != NULL && ftrack_entity_list_len(list) >= 1);
    if (list != NULL && ftrack_entity_list_len(list) >= 1) {
        ftrack_entity *usr = NULL;
        ftrack_entity *role = NULL;
        CHECK_OK(ftrack_entity_list_get(list, 0, &usr));
        CHECK_OK(ftrack_entity_get_entity(usr, "security_role", &role));
        CHECK(role != NULL);
        if (role != NULL) {
            CHECK_STR(get_string(role, "name"), "Administrator");
        }
        CHECK_STATUS(ftrack_entity_get_entity(usr, "security_role", NULL), FTRACK_STATUS_NULL_POINTER);
        ftrack_entity_destroy(role);
        ftrack_entity_destroy(usr);
    }
    ftrack_entity_list_destroy(list);
    ftrack_entity_destroy(user);

    /* first / one */
    none = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_session_query_first(s, "User where username is \"nobody-here\"", &none),
                 FTRACK_STATUS_NOT_FOUND);
    CHECK(none == NULL);
    CHECK_OK(ftrack_session_query_first(s, "User", &none));
    CHECK(none != NULL);
    ftrack_entity_destroy(none);
    none = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_session_query_one(s, "User where username is \"nobody-here\"", &none),
                 FTRACK_STATUS_NOT_FOUND);
    CHECK(none == NULL);
    CHECK_STATUS(ftrack_session_query_one(s, "User", &none), FTRACK_STATUS_MULTIPLE_RESULTS);
    CHECK(none == NULL);

    /* errors */
    list = (ftrack_entity_list *)sentinel();
    CHECK_STATUS(ftrack_session_query(s, "select from User where", &list), FTRACK_STATUS_QUERY_SYNTAX);
    CHECK(list == NULL);
    CHECK_STATUS(ftrack_session_query(s, NULL, &list), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_query(s, BAD_UTF8, &list), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_query(s, "User", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_query(s, "NoSuchType", &list), FTRACK_STATUS_UNKNOWN_ENTITY_TYPE);
}

/* Every attribute-taking entity function rejects a NULL and an invalid-UTF-8 attribute name. */
static void test_attribute_arguments(ftrack_session *s) {
    ftrack_entity *e = NULL;
    const char *names[2];
    ftrack_status expected[2];
    int k;
    CHECK_OK(ftrack_session_query_one(s, "User where username is \"artist\"", &e));
    if (e == NULL) {
        return;
    }
    names[0] = NULL;
    expected[0] = FTRACK_STATUS_NULL_POINTER;
    names[1] = BAD_UTF8;
    expected[1] = FTRACK_STATUS_INVALID_UTF8;
    for (k = 0; k < 2; k++) {
        const char *a = names[k];
        ftrack_status want = expected[k];
        char buf[64];
        size_t len = 0;
        bool b = false;
        int64_t i = 0;
        double d = 0.0;
        ftrack_entity *out = (ftrack_entity *)sentinel();
        ftrack_entity_list *list = (ftrack_entity_list *)sentinel();
        CHECK_STATUS(ftrack_entity_get_string(e, a, buf, sizeof buf, &len), want);
        CHECK_STATUS(ftrack_entity_get_json(e, a, buf, sizeof buf, &len), want);
        CHECK_STATUS(ftrack_entity_get_bool(e, a, &b), want);
        CHECK_STATUS(ftrack_entity_get_int64(e, a, &i), want);
        CHECK_STATUS(ftrack_entity_get_double(e, a, &d), want);
        CHECK_STATUS(ftrack_entity_get_datetime(e, a, &i), want);
        CHECK_STATUS(ftrack_entity_is_null(e, a, &b), want);
        CHECK_STATUS(ftrack_entity_get_entity(e, a, &out), want);
        CHECK(out == NULL);
        CHECK_STATUS(ftrack_entity_get_list(e, a, &list), want);
        CHECK(list == NULL);
        CHECK_STATUS(ftrack_entity_set_string(e, a, "x"), want);
        CHECK_STATUS(ftrack_entity_set_bool(e, a, true), want);
        CHECK_STATUS(ftrack_entity_set_int64(e, a, 1), want);
        CHECK_STATUS(ftrack_entity_set_double(e, a, 1.0), want);
        CHECK_STATUS(ftrack_entity_set_datetime(e, a, 1), want);
        CHECK_STATUS(ftrack_entity_set_null(e, a), want);
        CHECK_STATUS(ftrack_entity_set_entity(e, a, e), want);
        CHECK_STATUS(ftrack_entity_set_json(e, a, "1"), want);
        CHECK_STATUS(ftrack_entity_collection_append(e, a, e), want);
        CHECK_STATUS(ftrack_entity_collection_remove(e, a, e), want);
    }
    /* NULL / invalid values and outputs */
    CHECK_STATUS(ftrack_entity_set_json(e, "first_name", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_json(e, "first_name", BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_entity_get_int64(e, "first_name", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_double(e, "first_name", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_datetime(e, "first_name", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_is_null(e, "first_name", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_get_list(e, "user_security_roles", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_collection_append(e, "user_security_roles", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_collection_remove(e, "user_security_roles", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_collection_append(NULL, "user_security_roles", e), FTRACK_STATUS_NULL_POINTER);
    {
        size_t pending = 99;
        CHECK_OK(ftrack_session_pending_count(s, &pending));
        CHECK(pending == 0); /* nothing above recorded an operation */
        CHECK_STATUS(ftrack_session_pending_count(s, NULL), FTRACK_STATUS_NULL_POINTER);
    }
    ftrack_entity_destroy(e);

    /* query expressions */
    {
        ftrack_entity *out = (ftrack_entity *)sentinel();
        CHECK_STATUS(ftrack_session_query_first(s, NULL, &out), FTRACK_STATUS_NULL_POINTER);
        CHECK(out == NULL);
        CHECK_STATUS(ftrack_session_query_first(s, BAD_UTF8, &out), FTRACK_STATUS_INVALID_UTF8);
        CHECK_STATUS(ftrack_session_query_first(s, "User", NULL), FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_session_query_one(s, NULL, &out), FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_session_query_one(s, BAD_UTF8, &out), FTRACK_STATUS_INVALID_UTF8);
        CHECK_STATUS(ftrack_session_query_one(s, "User", NULL), FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_session_create_entity(s, "Project", BAD_UTF8, &out), FTRACK_STATUS_INVALID_UTF8);
        CHECK_STATUS(ftrack_session_create_entity(s, "Project", "{}", NULL), FTRACK_STATUS_NULL_POINTER);
    }
}

static void test_changes(ftrack_session *s) {
    ftrack_entity *project = NULL;
    ftrack_entity *again = NULL;
    ftrack_entity *group = NULL;
    ftrack_entity *parent = (ftrack_entity *)sentinel();
    char json[8192];
    size_t count = 99, len = 0;
    int64_t when = 0;
    bool is_null = false;
    /* 2024-05-06T07:08:09Z */
    const int64_t start = 1714979289000000;

    CHECK_OK(ftrack_session_pending_count(s, &count));
    CHECK(count == 0);

    /* create */
    CHECK_STATUS(ftrack_session_create_entity(s, "Project", "[1]", &project), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK(project == NULL);
    CHECK_STATUS(ftrack_session_create_entity(s, "Project", "{", &project), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_create_entity(s, "Project", NULL, &project), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_create_entity(s, NULL, "{}", &project), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_create_entity(s, BAD_UTF8, "{}", &project), FTRACK_STATUS_INVALID_UTF8);
    CHECK_OK(ftrack_session_create_entity(
        s, "Project", "{\"name\": \"c_abi\", \"full_name\": \"C ABI project\"}", &project));
    CHECK(project != NULL);
    CHECK_OK(ftrack_entity_set_datetime(project, "start_date", start));
    CHECK_OK(ftrack_session_pending_count(s, &count));
    CHECK(count >= 1);
    CHECK_STATUS(ftrack_session_pending_json(s, json, 4, &len), FTRACK_STATUS_BUFFER_TOO_SMALL);
    CHECK(len > 4);
    CHECK_OK(ftrack_session_pending_json(s, json, sizeof json, &len));
    CHECK(strstr(json, "\"create\"") != NULL);
    CHECK(strstr(json, "c_abi") != NULL);
    CHECK_OK(ftrack_session_commit(s));
    CHECK_OK(ftrack_session_pending_count(s, &count));
    CHECK(count == 0);

    /* update, committed, read back through another query */
    CHECK_OK(ftrack_entity_set_string(project, "full_name", "C ABI project, renamed"));
    CHECK_STATUS(ftrack_entity_set_string(project, "full_name", NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_entity_set_string(project, "full_name", BAD_UTF8), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_entity_set_string(project, BAD_UTF8, "x"), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_entity_set_json(project, "full_name", "{"), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_entity_set_double(project, "full_name", 0.0 / 0.0), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_OK(ftrack_entity_set_bool(project, "is_private", true));
    CHECK_OK(ftrack_session_commit(s));
    CHECK_OK(ftrack_session_query_one(
        s, "select full_name, is_private, start_date from Project where name is \"c_abi\"", &again));
    if (again != NULL) {
        bool priv = false;
        CHECK_STR(get_string(again, "full_name"), "C ABI project, renamed");
        CHECK_OK(ftrack_entity_get_bool(again, "is_private", &priv));
        CHECK(priv);
        CHECK_OK(ftrack_entity_get_datetime(again, "start_date", &when));
        CHECK(when == start);
        CHECK_OK(ftrack_entity_is_null(again, "start_date", &is_null));
        CHECK(!is_null);
    }

    /* rollback discards local changes */
    CHECK_OK(ftrack_entity_set_string(project, "full_name", "never sent"));
    CHECK_OK(ftrack_session_pending_count(s, &count));
    CHECK(count >= 1);
    CHECK_OK(ftrack_session_rollback(s));
    CHECK_OK(ftrack_session_pending_count(s, &count));
    CHECK(count == 0);

    /* null references, set_entity, collections (local only, rolled back) */
    CHECK_OK(ftrack_session_create_entity(s, "Group", "{\"name\": \"c_abi_group\", \"local\": true}", &group));
    if (group != NULL) {
        CHECK_OK(ftrack_entity_set_null(group, "parent"));
        CHECK_OK(ftrack_entity_is_null(group, "parent", &is_null));
        CHECK(is_null);
        CHECK_OK(ftrack_entity_get_entity(group, "parent", &parent));
        CHECK(parent == NULL); /* a null reference is OK + NULL */
        CHECK_STATUS(ftrack_entity_set_entity(group, "parent", NULL), FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_entity_collection_append(group, "children", NULL), FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_entity_collection_append(group, NULL, group), FTRACK_STATUS_NULL_POINTER);
        CHECK_STATUS(ftrack_entity_collection_remove(group, BAD_UTF8, group), FTRACK_STATUS_INVALID_UTF8);
    }
    CHECK_OK(ftrack_session_rollback(s));
    ftrack_entity_destroy(group);

    /* delete */
    CHECK_STATUS(ftrack_session_delete_entity(s, NULL), FTRACK_STATUS_NULL_POINTER);
    CHECK_OK(ftrack_session_delete_entity(s, project));
    CHECK_OK(ftrack_session_commit(s));
    ftrack_entity_destroy(again);
    again = (ftrack_entity *)sentinel();
    CHECK_STATUS(ftrack_session_query_first(s, "Project where name is \"c_abi\"", &again),
                 FTRACK_STATUS_NOT_FOUND);
    CHECK(again == NULL);
    ftrack_entity_destroy(project);
}

static void test_call(ftrack_session *s) {
    char small[8];
    char *big;
    size_t len = 0, len2 = 0;
    const char *batch = "[{\"action\": \"query_server_information\"}]";

    CHECK_STATUS(ftrack_session_call(s, NULL, small, sizeof small, &len), FTRACK_STATUS_NULL_POINTER);
    CHECK_STATUS(ftrack_session_call(s, BAD_UTF8, small, sizeof small, &len), FTRACK_STATUS_INVALID_UTF8);
    CHECK_STATUS(ftrack_session_call(s, "not json", small, sizeof small, &len), FTRACK_STATUS_INVALID_ARGUMENT);
    CHECK_STATUS(ftrack_session_call(s, batch, NULL, 10, &len), FTRACK_STATUS_NULL_POINTER);

    CHECK_STATUS(ftrack_session_call(s, batch, small, sizeof small, &len), FTRACK_STATUS_BUFFER_TOO_SMALL);
    CHECK(len > sizeof small);
    big = (char *)malloc(len);
    CHECK(big != NULL);
    if (big != NULL) {
        CHECK_OK(ftrack_last_call_reply(big, len, &len2));
        CHECK(len2 == len);
        CHECK(big[0] == '[');
        CHECK(strstr(big, "version") != NULL);
        free(big);
    }
    CHECK_STATUS(ftrack_last_call_reply(small, sizeof small, &len), FTRACK_STATUS_NOT_FOUND);
}

int main(void) {
    ftrack_session *s = NULL;
    ftrack_status status = ftrack_session_create(NULL, NULL, NULL, &s);
    CHECK_OK(status);
    if (status != FTRACK_STATUS_OK) {
        return check_finish("abi_flow");
    }
    test_queries(s);
    test_attribute_arguments(s);
    test_changes(s);
    test_call(s);

    /* Entity and list handles outlive their session handle. */
    {
        ftrack_entity *admin = NULL;
        ftrack_entity_list *users = NULL;
        CHECK_OK(ftrack_session_query_one(s, "select username from User where username is \"admin\"", &admin));
        CHECK_OK(ftrack_session_query(s, "select username from User", &users));
        ftrack_session_destroy(s);
        if (admin != NULL) {
            CHECK_STR(get_string(admin, "username"), "admin");
        }
        CHECK(ftrack_entity_list_len(users) >= 5);
        ftrack_entity_list_destroy(users);
        ftrack_entity_destroy(admin);
    }

    /* authentication failure: a wrong key is refused and never shown */
    {
        char url[256];
        const char *server = getenv("FTRACK_SERVER");
        snprintf(url, sizeof url, "%s", server ? server : "");
        s = (ftrack_session *)sentinel();
        CHECK_STATUS(ftrack_session_create(url, "wrong-key-c-abi-123", "admin", &s),
                     FTRACK_STATUS_AUTHENTICATION);
        CHECK(s == NULL);
        CHECK(strstr(last_error(), "wrong-key-c-abi-123") == NULL);
    }
    return check_finish("abi_flow");
}
