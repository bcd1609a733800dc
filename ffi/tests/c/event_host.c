/* The event hub C API against the sandbox: plugins from argv[1] with
 * arguments, session.ready, publish-and-wait answered by the plugin (on the
 * library's dispatch thread), ftrack.update of a commit handled in
 * ftrack_event_hub_dispatch on this thread, a failing callback logged,
 * argument errors. Prints "N failure(s)". */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftrack.h"

static int failures = 0;
static int log_failed_callback = 0;
static int updates_seen = 0;
static int failing_calls = 0;

static void expect(const char *what, ftrack_status got, ftrack_status want) {
    char message[1024] = "";
    if (got != want) {
        ftrack_last_error_message(message, sizeof message, NULL);
        fprintf(stderr, "FAIL %s: %s, expected %s (%s)\n", what, ftrack_status_name(got),
                ftrack_status_name(want), message);
        failures++;
    } else {
        printf("ok   %s: %s\n", what, ftrack_status_name(got));
    }
}

static void on_log(void *user_data, ftrack_log_level level, const char *message) {
    (void)user_data;
    (void)level;
    if (strstr(message, "C callback returned 7")) {
        log_failed_callback = 1;
    }
    if (strstr(message, "plugin")) {
        printf("log: %s\n", message);
    }
}

static int on_update(void *user_data, ftrack_event *event) {
    char topic[64], name[256];
    ftrack_event_topic(event, topic, sizeof topic, NULL);
    ftrack_event_data_get(event, "/entities/0/changes/fullname/new", name, sizeof name, NULL);
    printf("update: %s %s\n", topic, name);
    *(int *)user_data += 1;
    updates_seen++;
    return 0;
}

static int failing(void *user_data, ftrack_event *event) {
    (void)user_data;
    (void)event;
    failing_calls++;
    return 7;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: event_host PLUGIN_DIR\n");
        return 2;
    }
    ftrack_session_options *o = NULL;
    ftrack_session *a = NULL, *b = NULL;
    expect("options", ftrack_session_options_create(&o), FTRACK_STATUS_OK);
    expect("plugin path", ftrack_session_options_add_plugin_path(o, argv[1]), FTRACK_STATUS_OK);
    expect("plugin arguments not an object",
           ftrack_session_options_set_plugin_arguments(o, "[1]"), FTRACK_STATUS_INVALID_ARGUMENT);
    expect("plugin arguments",
           ftrack_session_options_set_plugin_arguments(o, "{\"greeting\": \"hello\"}"),
           FTRACK_STATUS_OK);
    expect("dispatch thread", ftrack_session_options_set_event_dispatch_thread(o, true),
           FTRACK_STATUS_OK);
    expect("auto connect", ftrack_session_options_set_auto_connect_event_hub(o, true),
           FTRACK_STATUS_OK);
    expect("logger", ftrack_session_options_set_logger(o, 3, on_log, NULL), FTRACK_STATUS_OK);
    /* The plugins register and receive session.ready during creation. */
    expect("session a (plugins)", ftrack_session_create_with_options(o, &a), FTRACK_STATUS_OK);
    ftrack_session_options_destroy(o);
    if (!a) return 2;

    expect("session b", ftrack_session_create(NULL, NULL, NULL, &b), FTRACK_STATUS_OK);
    if (!b) return 2;
    expect("logger b", ftrack_session_set_logger(b, 3, on_log, NULL), FTRACK_STATUS_OK);
    expect("connect b", ftrack_event_hub_connect(b, 15000), FTRACK_STATUS_OK);
    bool connected = false;
    expect("b connected?", ftrack_event_hub_is_connected(b, &connected), FTRACK_STATUS_OK);
    if (!connected) failures++;

    /* b asks, the plugin in session a answers (retry while a's subscription
     * reaches the server). */
    ftrack_event *reply = NULL;
    ftrack_status st = FTRACK_STATUS_TIMEOUT;
    for (int i = 0; i < 20 && st == FTRACK_STATUS_TIMEOUT; i++) {
        st = ftrack_event_hub_publish_and_wait(b, "plugin.ping", "{\"n\": 5}", NULL, 500, &reply);
    }
    expect("publish and wait", st, FTRACK_STATUS_OK);
    if (reply) {
        char data[1024], topic[64];
        expect("reply topic", ftrack_event_topic(reply, topic, sizeof topic, NULL),
               FTRACK_STATUS_OK);
        expect("reply data", ftrack_event_data_json(reply, data, sizeof data, NULL),
               FTRACK_STATUS_OK);
        printf("reply: %s %s\n", topic, data);
        char pong[16], greeting[64];
        expect("reply pong", ftrack_event_data_get(reply, "/pong", pong, sizeof pong, NULL),
               FTRACK_STATUS_OK);
        expect("reply greeting",
               ftrack_event_data_get(reply, "/arguments/greeting", greeting, sizeof greeting, NULL),
               FTRACK_STATUS_OK);
        if (strcmp(pong, "5") != 0 || strcmp(greeting, "hello") != 0) failures++;
        expect("missing pointer", ftrack_event_data_get(reply, "/nope", pong, sizeof pong, NULL),
               FTRACK_STATUS_NOT_FOUND);
        ftrack_event_destroy(reply);
    }

    /* A target nobody matches gets no reply. */
    reply = NULL;
    expect("targeted at nobody",
           ftrack_event_hub_publish_and_wait(b, "plugin.ping", "{\"n\": 1}", "id=someone-else",
                                             300, &reply),
           FTRACK_STATUS_TIMEOUT);

    /* ftrack.update of b's own commit, handled on this thread in dispatch. */
    int mine = 0;
    char id[128];
    size_t id_len = 0;
    expect("bad expression",
           ftrack_event_hub_subscribe(b, "topic=(", NULL, 100, on_update, &mine, NULL, 0, NULL),
           FTRACK_STATUS_INVALID_ARGUMENT);
    expect("subscribe update",
           ftrack_event_hub_subscribe(b, "topic=ftrack.update and data.user.name=admin", NULL, 10,
                                      on_update, &mine, id, sizeof id, &id_len),
           FTRACK_STATUS_OK);
    expect("subscribe failing",
           ftrack_event_hub_subscribe(b, "topic=ftrack.update", NULL, 20, failing, NULL, NULL, 0,
                                      NULL),
           FTRACK_STATUS_OK);
    ftrack_entity *project = NULL;
    expect("find alpha",
           ftrack_session_query_one(b, "select id, full_name from Project where name is \"alpha\"",
                                    &project),
           FTRACK_STATUS_OK);
    for (int i = 0; i < 50 && mine == 0; i++) {
        char name[64];
        snprintf(name, sizeof name, "Alpha from C %d", i);
        if (i % 10 == 0) {
            ftrack_entity_set_string(project, "full_name", name);
            expect("commit", ftrack_session_commit(b), FTRACK_STATUS_OK);
        }
        size_t handled = 0;
        expect("dispatch", ftrack_event_hub_dispatch(b, 200, &handled), FTRACK_STATUS_OK);
    }
    ftrack_entity_destroy(project);
    if (mine == 0) {
        fprintf(stderr, "FAIL no ftrack.update reached the dispatching thread\n");
        failures++;
    }
    if (failing_calls == 0 || !log_failed_callback) {
        fprintf(stderr, "FAIL the failing callback was not called or not logged (%d, %d)\n",
                failing_calls, log_failed_callback);
        failures++;
    }
    expect("unsubscribe", ftrack_event_hub_unsubscribe(b, id), FTRACK_STATUS_OK);
    expect("unsubscribe again", ftrack_event_hub_unsubscribe(b, id), FTRACK_STATUS_NOT_FOUND);
    expect("publish empty topic", ftrack_event_hub_publish(b, "", NULL, NULL),
           FTRACK_STATUS_INVALID_ARGUMENT);
    expect("publish bad json", ftrack_event_hub_publish(b, "x", "{", NULL),
           FTRACK_STATUS_INVALID_ARGUMENT);
    expect("publish", ftrack_event_hub_publish(b, "x.y", "{\"a\": 1}", NULL), FTRACK_STATUS_OK);
    expect("NULL session", ftrack_event_hub_connect(NULL, 0), FTRACK_STATUS_NULL_POINTER);
    expect("disconnect", ftrack_event_hub_disconnect(b), FTRACK_STATUS_OK);

    ftrack_session_destroy(b);
    ftrack_session_destroy(a);
    printf("%d failure(s)\n", failures);
    return failures == 0 ? 0 : 1;
}
