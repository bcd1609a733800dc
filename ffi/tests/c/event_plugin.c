/* A test event plugin: on registration it records its arguments, subscribes
 * to ftrack.api.session.ready (prints "plugin: session ready") and answers
 * "plugin.ping" events with {"pong": <n>, "arguments": <plugin arguments>}.
 * Built with -DPLUGIN_FAILS it refuses to register (returns 3). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "ftrack.h"

#ifndef PLUGIN_FAILS
static char arguments[1024];

static int on_ready(void *user_data, ftrack_event *event) {
    (void)user_data;
    (void)event;
    printf("plugin: session ready, arguments %s\n", arguments);
    fflush(stdout);
    return 0;
}

static int on_ping(void *user_data, ftrack_event *event) {
    (void)user_data;
    char n[64] = "0", reply[1200];
    ftrack_event_data_get(event, "/n", n, sizeof n, NULL);
    snprintf(reply, sizeof reply, "{\"pong\": %s, \"arguments\": %s}", n, arguments);
    return ftrack_event_set_reply(event, reply) == FTRACK_STATUS_OK ? 0 : 1;
}

#endif

#if defined(_WIN32)
__declspec(dllexport)
#else
__attribute__((visibility("default")))
#endif
int ftrack_event_plugin_register(ftrack_session *session, const char *plugin_arguments_json) {
#ifdef PLUGIN_FAILS
    (void)session;
    (void)plugin_arguments_json;
    return 3;
#else
    snprintf(arguments, sizeof arguments, "%s", plugin_arguments_json);
    if (ftrack_event_hub_subscribe(session, "topic=ftrack.api.session.ready", NULL, 100, on_ready,
                                   NULL, NULL, 0, NULL) != FTRACK_STATUS_OK) {
        return 1;
    }
    if (ftrack_event_hub_subscribe(session, "topic=plugin.ping", "{\"id\": \"test-plugin\"}", 100,
                                   on_ping, NULL, NULL, 0, NULL) != FTRACK_STATUS_OK) {
        return 2;
    }
    return 0;
#endif
}
