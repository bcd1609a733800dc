/* The callback lifetime guarantee, against the sandbox: once
 * ftrack_event_hub_unsubscribe or ftrack_session_destroy returns, the
 * callbacks they removed are not running on another thread and are never
 * called again, so their user_data may be freed at once.
 *
 * A publisher session sends "race.tick" events all the time. For each of
 * ITERATIONS rounds a fresh user_data is subscribed, the test waits until
 * its callback is running (the callback then sleeps, so the call is still in
 * progress), unsubscribes from this thread and at once poisons the user_data
 * (kept allocated, so that a late call reads the poison instead of freed
 * memory). The callbacks run on a thread of the test that dispatches, then
 * on the library's dispatch thread. A callback that ever sees poison is a
 * failure. Then: a callback that unsubscribes itself (no deadlock, no later
 * call), and a session destroyed while one of its callbacks runs and while an
 * entity handle keeps its data alive: its subscriber and its logger must not
 * be called after the destroy returned.
 *
 * usage: event_unsubscribe_race ITERATIONS   (FTRACK_* from the environment)
 * Prints "N failure(s)". */
#define _POSIX_C_SOURCE 200809L
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "ftrack.h"

#define ALIVE 0x600DCAFEu
#define POISON 0xDEADBEEFu

typedef struct {
    atomic_uint magic;
    atomic_int entered;
    atomic_int calls;
    ftrack_session *session;
    char id[128];
    ftrack_status self_unsubscribe;
} watch;

static int failures = 0;
static atomic_int poisoned_calls = 0;
static atomic_int stop_ticks = 0;
static atomic_int stop_dispatch = 0;

static void sleep_ms(long ms) {
    struct timespec t = {ms / 1000, (ms % 1000) * 1000000L};
    nanosleep(&t, NULL);
}

static double now_s(void) {
    struct timespec t;
    clock_gettime(CLOCK_MONOTONIC, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

static void expect(const char *what, ftrack_status got, ftrack_status want) {
    if (got != want) {
        char message[1024] = "";
        ftrack_last_error_message(message, sizeof message, NULL);
        fprintf(stderr, "FAIL %s: %s, expected %s (%s)\n", what, ftrack_status_name(got),
                ftrack_status_name(want), message);
        failures++;
    }
}

static watch *new_watch(ftrack_session *session) {
    watch *w = calloc(1, sizeof *w);
    if (!w) abort();
    atomic_store(&w->magic, ALIVE);
    w->session = session;
    return w;
}

/* Counts a call that reached poisoned user_data. */
static int alive(watch *w) {
    if (atomic_load(&w->magic) == ALIVE) return 1;
    atomic_fetch_add(&poisoned_calls, 1);
    return 0;
}

static int on_tick(void *user_data, ftrack_event *event) {
    watch *w = user_data;
    (void)event;
    if (!alive(w)) return 1;
    atomic_fetch_add(&w->calls, 1);
    atomic_store(&w->entered, 1);
    sleep_ms(2); /* still running while the other thread unsubscribes */
    return alive(w) ? 0 : 1;
}

static int on_tick_once(void *user_data, ftrack_event *event) {
    watch *w = user_data;
    (void)event;
    if (!alive(w)) return 1;
    if (atomic_fetch_add(&w->calls, 1) == 0) {
        /* From inside the callback: returns at once, no deadlock. */
        w->self_unsubscribe = ftrack_event_hub_unsubscribe(w->session, w->id);
    }
    atomic_store(&w->entered, 1);
    return alive(w) ? 0 : 1;
}

static void on_log(void *user_data, ftrack_log_level level, const char *message) {
    watch *w = user_data;
    (void)level;
    (void)message;
    if (alive(w)) atomic_fetch_add(&w->calls, 1);
}

static void *publish_ticks(void *arg) {
    ftrack_session *publisher = arg;
    while (!atomic_load(&stop_ticks)) {
        ftrack_event_hub_publish(publisher, "race.tick", "{}", NULL);
        sleep_ms(1);
    }
    return NULL;
}

static void *dispatch_loop(void *arg) {
    ftrack_session *session = arg;
    while (!atomic_load(&stop_dispatch)) {
        ftrack_event_hub_dispatch(session, 20, NULL);
    }
    return NULL;
}

/* Waits up to 10 s for the watch's callback to be running. */
static int wait_entered(watch *w) {
    double until = now_s() + 10;
    while (!atomic_load(&w->entered) && now_s() < until) {
        struct timespec t = {0, 100000L};
        nanosleep(&t, NULL);
    }
    return atomic_load(&w->entered);
}

/* Rounds of subscribe, wait for the callback to run, unsubscribe, poison. */
static void rounds(const char *mode, ftrack_session *session, int iterations, watch **kept,
                   int *kept_count) {
    int missed = 0;
    for (int i = 0; i < iterations; i++) {
        watch *w = new_watch(session);
        kept[(*kept_count)++] = w;
        expect("subscribe",
               ftrack_event_hub_subscribe(session, "topic=race.tick", NULL, 100, on_tick, w, w->id,
                                          sizeof w->id, NULL),
               FTRACK_STATUS_OK);
        if (!wait_entered(w)) missed++;
        expect("unsubscribe", ftrack_event_hub_unsubscribe(session, w->id), FTRACK_STATUS_OK);
        atomic_store(&w->magic, POISON);
    }
    if (missed > 0) {
        fprintf(stderr, "FAIL %s: %d round(s) never saw their callback run\n", mode, missed);
        failures++;
    }
    printf("%s: %d rounds, %d poisoned call(s) so far\n", mode, iterations,
           atomic_load(&poisoned_calls));
}

static ftrack_session *session_with(int dispatch_thread, watch *logger) {
    ftrack_session_options *o = NULL;
    ftrack_session *s = NULL;
    expect("options", ftrack_session_options_create(&o), FTRACK_STATUS_OK);
    expect("dispatch thread option", ftrack_session_options_set_event_dispatch_thread(o, dispatch_thread),
           FTRACK_STATUS_OK);
    if (logger) {
        expect("logger option", ftrack_session_options_set_logger(o, 3, on_log, logger), FTRACK_STATUS_OK);
    }
    expect("session", ftrack_session_create_with_options(o, &s), FTRACK_STATUS_OK);
    ftrack_session_options_destroy(o);
    if (!s) exit(2);
    expect("connect", ftrack_event_hub_connect(s, 15000), FTRACK_STATUS_OK);
    return s;
}

int main(int argc, char **argv) {
    int iterations = argc > 1 ? atoi(argv[1]) : 200;
    if (iterations < 1) iterations = 1;
    watch **kept = calloc((size_t)iterations * 2 + 8, sizeof *kept);
    int kept_count = 0;
    if (!kept) return 2;

    ftrack_session *publisher = session_with(0, NULL);
    pthread_t ticker;
    pthread_create(&ticker, NULL, publish_ticks, publisher);

    /* 1. Callbacks on a host thread that dispatches. */
    ftrack_session *hosted = session_with(0, NULL);
    pthread_t dispatcher;
    pthread_create(&dispatcher, NULL, dispatch_loop, hosted);
    rounds("host dispatch", hosted, iterations, kept, &kept_count);
    atomic_store(&stop_dispatch, 1);
    pthread_join(dispatcher, NULL);
    ftrack_session_destroy(hosted);

    /* 2. Callbacks on the library's dispatch thread. */
    ftrack_session *threaded = session_with(1, NULL);
    rounds("dispatch thread", threaded, iterations, kept, &kept_count);

    /* 3. A callback that unsubscribes itself on the dispatch thread. */
    watch *once = new_watch(threaded);
    kept[kept_count++] = once;
    /* The id is known before subscribing: the callback may run before
     * ftrack_event_hub_subscribe returns. */
    strcpy(once->id, "race-self");
    expect("subscribe once",
           ftrack_event_hub_subscribe(threaded, "topic=race.tick", "{\"id\": \"race-self\"}", 100,
                                      on_tick_once, once, NULL, 0, NULL),
           FTRACK_STATUS_OK);
    if (!wait_entered(once)) {
        fprintf(stderr, "FAIL the self-unsubscribing callback never ran\n");
        failures++;
    }
    sleep_ms(200); /* ticks go on */
    expect("unsubscribe from inside the callback", once->self_unsubscribe, FTRACK_STATUS_OK);
    if (atomic_load(&once->calls) != 1) {
        fprintf(stderr, "FAIL the self-unsubscribed callback ran %d times\n", atomic_load(&once->calls));
        failures++;
    }
    expect("unsubscribed already", ftrack_event_hub_unsubscribe(threaded, once->id),
           FTRACK_STATUS_NOT_FOUND);
    atomic_store(&once->magic, POISON);
    ftrack_session_destroy(threaded);

    /* 4. Destroying a session while its callback runs on the dispatch thread
     * and an entity handle keeps its data (and so its event hub) alive. */
    watch *log = new_watch(NULL);
    kept[kept_count++] = log;
    ftrack_session *doomed = session_with(1, log);
    watch *last = new_watch(doomed);
    kept[kept_count++] = last;
    expect("subscribe before destroy",
           ftrack_event_hub_subscribe(doomed, "topic=race.tick", NULL, 100, on_tick, last, last->id,
                                      sizeof last->id, NULL),
           FTRACK_STATUS_OK);
    ftrack_entity *alpha = NULL;
    expect("entity outliving its session",
           ftrack_session_query_one(doomed, "select id from Project where name is \"alpha\"", &alpha),
           FTRACK_STATUS_OK);
    if (!wait_entered(last)) {
        fprintf(stderr, "FAIL the callback of the doomed session never ran\n");
        failures++;
    }
    if (atomic_load(&log->calls) == 0) {
        fprintf(stderr, "FAIL the logger was never called\n");
        failures++;
    }
    ftrack_session_destroy(doomed);
    atomic_store(&last->magic, POISON);
    atomic_store(&log->magic, POISON);
    sleep_ms(300); /* ticks go on; the entity keeps the session's data */
    if (alpha) {
        char name[256];
        /* Not loaded: the entity's session queries (and would log). */
        expect("read through the entity", ftrack_entity_get_string(alpha, "full_name", name, sizeof name, NULL),
               FTRACK_STATUS_OK);
        ftrack_entity_destroy(alpha);
    }
    printf("destroy: %d poisoned call(s) so far\n", atomic_load(&poisoned_calls));

    atomic_store(&stop_ticks, 1);
    pthread_join(ticker, NULL);
    ftrack_session_destroy(publisher);
    sleep_ms(100);

    int poisoned = atomic_load(&poisoned_calls);
    if (poisoned > 0) {
        fprintf(stderr, "FAIL %d call(s) reached poisoned user_data after unsubscribe or destroy returned\n",
                poisoned);
        failures++;
    }
    for (int i = 0; i < kept_count; i++) free(kept[i]);
    free(kept);
    printf("%d poisoned call(s), %d failure(s)\n", poisoned, failures);
    return failures == 0 ? 0 : 1;
}
