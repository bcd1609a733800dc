// Test of the non-throwing layer of the C++ wrapper against a server
// (FTRACK_SERVER / FTRACK_API_KEY / FTRACK_API_USER: the sandbox's demo studio):
// Result values, statuses and messages, standard iterators and <algorithm>,
// copyable entities, std::chrono datetimes. Uses no try/catch, so it builds with
// -fno-exceptions; ffi/tests/bindings_cpp.rs builds it in C++17 and C++20, with
// and without exceptions (EXPECT_EXCEPTIONS says which), and runs each build.
#include "ftrack.hpp"

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <iterator>
#include <memory>
#include <string>
#include <type_traits>
#include <vector>

#ifndef EXPECT_EXCEPTIONS
#error "build with -DEXPECT_EXCEPTIONS=0 or 1"
#endif
static_assert(FTRACK_HPP_EXCEPTIONS == EXPECT_EXCEPTIONS,
              "ftrack.hpp detected the exception mode wrongly");

static int passed = 0;
static int failed = 0;

#define EXPECT(cond)                                                                   \
    do {                                                                               \
        if (cond) {                                                                    \
            ++passed;                                                                  \
        } else {                                                                       \
            ++failed;                                                                  \
            std::fprintf(stderr, "FAIL %s:%d: %s\n", __FILE__, __LINE__, #cond);       \
        }                                                                              \
    } while (0)

// Stops the test when a Result that must succeed did not (value() would abort).
#define REQUIRE_OK(result)                                                             \
    do {                                                                               \
        if (!(result).ok()) {                                                          \
            std::fprintf(stderr, "FAIL %s:%d: %s: %s: %s\n", __FILE__, __LINE__,       \
                         #result, (result).status().name(), (result).message().c_str()); \
            return 1;                                                                  \
        }                                                                              \
    } while (0)

// Dispatches `session`'s events on this thread until `done()` holds (15 s at most).
template <typename Done> static bool dispatch_until(ftrack::Session &session, Done done) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(15);
    while (!done() && std::chrono::steady_clock::now() < until) {
        if (!ftrack::try_event_hub_dispatch(session, 100).ok()) {
            return false;
        }
    }
    return done();
}

// Subscriptions reach the server a moment after they are sent, and a write
// made before then is not announced to them. An event of our own, published
// after them on the same connection, comes back only once the server has
// them all.
static bool wait_until_subscribed(ftrack::Session &session) {
    auto arrived = std::make_shared<int>(0);
    ftrack::Result<std::string> id =
        ftrack::try_event_hub_subscribe(session, "topic=cpp.noexcept.subscribed", [arrived](ftrack::Event &) {
            ++*arrived;
            return 0;
        });
    if (!id.ok() ||
        !ftrack::try_event_hub_publish_event(session, "{\"topic\": \"cpp.noexcept.subscribed\", \"data\": {}}").ok()) {
        return false;
    }
    const bool back = dispatch_until(session, [&] { return *arrived > 0; });
    return ftrack::try_event_hub_unsubscribe(session, *id).ok() && back;
}

using Iter = ftrack::EntityList::iterator;
static_assert(std::is_same<std::iterator_traits<Iter>::value_type, ftrack::Entity>::value, "");
static_assert(std::is_same<std::iterator_traits<Iter>::difference_type, std::ptrdiff_t>::value, "");
static_assert(std::is_base_of<std::input_iterator_tag,
                              std::iterator_traits<Iter>::iterator_category>::value,
              "a C++17 input iterator");
#if __cplusplus >= 202002L
static_assert(std::random_access_iterator<Iter>, "a C++20 random-access iterator");
static_assert(std::ranges::random_access_range<ftrack::EntityList>, "a C++20 range");
#endif
static_assert(std::is_copy_constructible<ftrack::Entity>::value, "entities are copyable");
static_assert(std::is_copy_assignable<ftrack::Entity>::value, "entities are copyable");
static_assert(std::is_nothrow_move_constructible<ftrack::Entity>::value, "movable");
static_assert(!std::is_copy_constructible<ftrack::Session>::value, "sessions are move-only");
static_assert(std::is_same<decltype(std::declval<ftrack::Entity &>().try_get_datetime("x").value()),
                           ftrack::DateTime>::value,
              "datetimes are std::chrono time points");

int main() {
    ftrack::Result<ftrack::Session> connected = ftrack::Session::try_from_environment();
    REQUIRE_OK(connected);
    ftrack::Session session = std::move(connected).value();

    // Results: status, name and message on failure; value on success
    {
        ftrack::Result<ftrack::EntityList> bad = session.try_query("select from User where");
        EXPECT(!bad.ok() && !bad);
        EXPECT(bad.code() == FTRACK_STATUS_QUERY_SYNTAX);
        EXPECT(std::string(bad.status().name()) == "FTRACK_STATUS_QUERY_SYNTAX");
        EXPECT(bad.message().find("ftrack_session_query") != std::string::npos);
        ftrack::Result<ftrack::Entity> many = session.try_query_one("User");
        EXPECT(many.code() == FTRACK_STATUS_MULTIPLE_RESULTS);
        ftrack::Result<std::optional<ftrack::Entity>> none =
            session.try_query_first("User where username is \"nobody-here\"");
        REQUIRE_OK(none);
        EXPECT(!none->has_value());
        EXPECT(session.try_find_user("nobody-here").code() == FTRACK_STATUS_NOT_FOUND);
    }

    // iterators: range-for, std::vector(begin, end), <algorithm>, random access
    ftrack::Result<ftrack::EntityList> listed =
        session.try_query("select username, is_active from User order by username");
    REQUIRE_OK(listed);
    const ftrack::EntityList &users = *listed;
    std::size_t loop_count = 0;
    for (const ftrack::Entity &user : users) {
        EXPECT(user.try_type_name().value_or("") == "User");
        ++loop_count;
    }
    EXPECT(loop_count == users.size() && loop_count >= 5);
    std::vector<ftrack::Entity> all(users.begin(), users.end());
    EXPECT(all.size() == users.size());
    EXPECT(static_cast<std::size_t>(std::distance(users.begin(), users.end())) == users.size());
    auto is_admin = [](const ftrack::Entity &u) {
        return u.try_get_string("username").value_or("") == "admin";
    };
    EXPECT(std::count_if(users.begin(), users.end(), is_admin) == 1);
    EXPECT(std::count_if(all.begin(), all.end(), is_admin) == 1);
    Iter found = std::find_if(users.begin(), users.end(), is_admin);
    EXPECT(found != users.end());
    Iter first = users.begin();
    EXPECT((first + 2) - first == 2 && first < first + 1 && (first + 1)[1].raw() != nullptr);
    EXPECT((*(users.end() - 1)).try_id().value_or("") == all.back().try_id().value_or("-"));
    std::vector<std::string> names;
    std::transform(users.begin(), users.end(), std::back_inserter(names),
                   [](const ftrack::Entity &u) { return u.try_get_string("username").value_or(""); });
    EXPECT(std::is_sorted(names.begin(), names.end()));
#if __cplusplus >= 202002L
    EXPECT(std::ranges::count_if(users, is_admin) == 1);
#endif
    EXPECT(users.try_at(users.size()).code() == FTRACK_STATUS_INVALID_ARGUMENT);

    // copyable entities: copies are handles to the same entity, sharing its data
    {
        ftrack::Result<ftrack::Entity> admin_result =
            session.try_query_one("select username, first_name from User where username is \"admin\"");
        REQUIRE_OK(admin_result);
        ftrack::Entity admin = *admin_result;           // copy out of the Result
        ftrack::Entity copy = admin;                    // copy constructor
        EXPECT(copy.raw() != nullptr && copy.raw() != admin.raw());
        ftrack::Entity assigned = all.front();
        assigned = copy;                                // copy assignment
        EXPECT(assigned.try_id().value_or("") == admin.try_id().value_or("-"));
        EXPECT(copy.try_set_string("first_name", "Copied").ok());
        EXPECT(admin.try_get_string("first_name").value_or("") == "Copied");
        EXPECT(assigned.try_get_string("first_name").value_or("") == "Copied");
        { ftrack::Entity gone = std::move(admin); }     // one handle destroyed
        EXPECT(copy.try_get_string("username").value_or("") == "admin");
        ftrack::Result<ftrack::Entity> cloned = copy.try_clone();
        REQUIRE_OK(cloned);
        EXPECT(cloned->try_get_string("username").value_or("") == "admin");
        EXPECT(ftrack::Entity(nullptr).try_clone().code() == FTRACK_STATUS_NULL_POINTER);
        EXPECT(session.try_rollback().ok());
    }

    // std::chrono datetimes, create / commit / read back / delete
    {
        ftrack::Result<ftrack::Entity> created = session.try_create_entity(
            "Project", "{\"name\": \"cpp_noexcept\", \"full_name\": \"C++ without exceptions\"}");
        REQUIRE_OK(created);
        using namespace std::chrono;
        // Whole seconds: the server keeps datetimes to the second.
        const ftrack::DateTime start =
            time_point_cast<microseconds>(system_clock::time_point(seconds(1714979289)));
        EXPECT(created->try_set_datetime("start_date", start).ok());
        EXPECT(session.try_pending_count().value_or(0) >= 1);
        ftrack::Result<void> committed = session.try_commit();
        EXPECT(committed.ok());
        ftrack::Result<ftrack::Entity> again = session.try_query_one(
            "select start_date from Project where name is \"cpp_noexcept\"");
        REQUIRE_OK(again);
        ftrack::Result<ftrack::DateTime> read = again->try_get_datetime("start_date");
        REQUIRE_OK(read);
        EXPECT(*read == start);
        EXPECT(duration_cast<seconds>(read->time_since_epoch()).count() == 1714979289);
        EXPECT(again->try_get_int64("start_date").code() == FTRACK_STATUS_TYPE_MISMATCH);
        EXPECT(session.try_delete_entity(*again).ok());
        EXPECT(session.try_commit().ok());
    }

    // host hooks: progress of a paged query (through a plain function pointer), cancel
    {
        struct Counter {
            int calls = 0;
            std::uint64_t last_done = 0;
        } counter;
        auto on_progress = [](void *user_data, const char *, std::uint64_t done, std::int64_t) -> int {
            Counter *c = static_cast<Counter *>(user_data);
            ++c->calls;
            c->last_done = done;
            return 0;
        };
        EXPECT(session.try_set_progress(on_progress, &counter).ok());
        ftrack::Result<ftrack::EntityList> again = session.try_query("select username from User");
        EXPECT(again.ok());
        EXPECT(counter.calls > 0 && counter.last_done >= 5);
        EXPECT(session.try_set_progress(nullptr, nullptr).ok());
        EXPECT(session.try_cancel().ok()); // nothing in flight: a no-op
        EXPECT(session.try_query("select username from User").ok());
        EXPECT(ftrack::Session(nullptr).try_cancel().code() == FTRACK_STATUS_NULL_POINTER);
    }

    // event hub, non-throwing: an update from another session's commit on this
    // thread's dispatch, a reply through try_set_reply, unsubscribing
    {
        struct Seen {
            int updates = 0;
            std::string topic, entity_id, new_name;
        };
        auto seen = std::make_shared<Seen>();
        ftrack::Result<std::string> watcher = ftrack::try_event_hub_subscribe(
            session, "topic=ftrack.update",
            [seen](ftrack::Event &e) {
                seen->topic = e.try_topic().value_or("");
                seen->entity_id = e.try_data_get("/entities/0/entityId").value_or("");
                seen->new_name = e.try_data_get("/entities/0/changes/fullname/new").value_or("");
                EXPECT(e.try_data_get("/no/such/key").code() == FTRACK_STATUS_NOT_FOUND);
                ++seen->updates;
                return 0;
            },
            std::string("{\"id\": \"cpp-noexcept\"}"));
        REQUIRE_OK(watcher);
        EXPECT(*watcher == "cpp-noexcept");
        int sentinel = 0;
        const std::string long_id(300, 'n');
        ftrack::Result<std::string> sentinel_id = ftrack::try_event_hub_subscribe(
            session, "topic=ftrack.update",
            [&sentinel](ftrack::Event &) {
                ++sentinel;
                return 0;
            },
            "{\"id\": \"" + long_id + "\"}");
        EXPECT(sentinel_id.ok() && *sentinel_id == long_id);
        auto once_id = std::make_shared<std::string>();
        int once_calls = 0;
        ftrack::Result<std::string> once = ftrack::try_event_hub_subscribe(
            session, "topic=ftrack.update",
            [&session, &once_calls, once_id, tag = std::string(64, 't')](ftrack::Event &) {
                ++once_calls;
                bool removed = ftrack::try_event_hub_unsubscribe(session, *once_id).ok();
                return removed && tag.size() == 64 ? 0 : 1;
            });
        REQUIRE_OK(once);
        *once_id = *once;
        EXPECT(ftrack::try_event_hub_subscribe(session, "(topic=x", [](ftrack::Event &) { return 0; }).code() ==
               FTRACK_STATUS_INVALID_ARGUMENT);
        REQUIRE_OK(ftrack::try_event_hub_connect(session, 15000));
        EXPECT(ftrack::try_event_hub_is_connected(session).value_or(false));
        EXPECT(wait_until_subscribed(session));

        ftrack::Result<ftrack::Session> writer_result = ftrack::Session::try_from_environment();
        REQUIRE_OK(writer_result);
        ftrack::Session writer = std::move(writer_result).value();
        ftrack::Result<ftrack::Entity> beta = writer.try_find_project("beta");
        REQUIRE_OK(beta);
        EXPECT(beta->try_set_string("full_name", "Beta without exceptions").ok());
        EXPECT(writer.try_commit().ok());
        EXPECT(dispatch_until(session, [&] { return seen->updates > 0 && sentinel > 0; }));
        EXPECT(seen->topic == "ftrack.update");
        EXPECT(seen->entity_id == beta->try_id().value_or("-"));
        EXPECT(seen->new_name == "Beta without exceptions");
        EXPECT(once_calls == 1);

        ftrack::SessionOptions responder_options;
        EXPECT(ftrack::try_set_event_dispatch_thread(responder_options, true).ok());
        ftrack::Result<ftrack::Session> responder_result = ftrack::Session::try_create(responder_options);
        REQUIRE_OK(responder_result);
        ftrack::Session responder = std::move(responder_result).value();
        ftrack::Result<std::string> pinged = ftrack::try_event_hub_subscribe(
            responder, "topic=cpp.noexcept.ping",
            [](ftrack::Event &e) {
                std::string n = e.try_data_get("/n").value_or("0");
                return e.try_set_reply("{\"pong\": " + n + "}").ok() ? 0 : 1;
            },
            std::string("{\"id\": \"cpp-noexcept\"}"));
        EXPECT(pinged.ok());
        REQUIRE_OK(ftrack::try_event_hub_connect(responder, 15000));
        std::string pong;
        for (int i = 0; i < 15 && pong.empty(); ++i) {
            ftrack::Result<ftrack::Event> reply =
                ftrack::try_event_hub_publish_and_wait(session, "cpp.noexcept.ping", "{\"n\": 3}", 1000);
            if (reply.ok()) {
                pong = reply->try_data_get("/pong").value_or("?");
                EXPECT(reply->try_topic().value_or("") == "ftrack.meta.reply");
            } else {
                EXPECT(reply.code() == FTRACK_STATUS_TIMEOUT);
            }
        }
        EXPECT(pong == "3");

        // try_event_hub_publish_event: each reply to the event reaches the
        // reply handler in this thread's dispatch (retried until the
        // responder's subscription is known to the server).
        struct Replies {
            int count = 0;
            std::string json;
        };
        auto replies = std::make_shared<Replies>();
        std::string asked;
        for (int i = 0; i < 15 && asked.empty(); ++i) {
            ftrack::Result<std::string> id = ftrack::try_event_hub_publish_event(
                session, "{\"topic\": \"cpp.noexcept.ping\", \"data\": {\"n\": 4}}", [replies](ftrack::Event &reply) {
                    replies->json = reply.try_json().value_or("");
                    ++replies->count;
                    return reply.try_data_get("/pong").value_or("") == "4" ? 0 : 1;
                });
            REQUIRE_OK(id);
            const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(1);
            while (std::chrono::steady_clock::now() < until &&
                   replies->json.find("\"inReplyToEvent\":\"" + *id + "\"") == std::string::npos) {
                EXPECT(ftrack::try_event_hub_dispatch(session, 100).ok());
            }
            if (replies->json.find("\"inReplyToEvent\":\"" + *id + "\"") != std::string::npos) {
                asked = *id;
            }
        }
        EXPECT(!asked.empty());
        EXPECT(replies->json.find("\"topic\":\"ftrack.meta.reply\"") != std::string::npos);
        EXPECT(ftrack::try_event_hub_publish_event(session, "[1]").code() == FTRACK_STATUS_INVALID_ARGUMENT);

        // The hub id; an event's JSON round trip through a local-only topic;
        // subscription expressions over it.
        ftrack::Result<std::string> hub_id = ftrack::try_event_hub_id(session);
        REQUIRE_OK(hub_id);
        EXPECT(hub_id->size() == 32 && ftrack::try_event_hub_id(session).value_or("") == *hub_id);
        EXPECT(ftrack::try_event_hub_id(responder).value_or(*hub_id) != *hub_id);
        EXPECT(replies->json.find("\"target\":\"id=" + *hub_id + "\"") != std::string::npos);
        auto seen_json = std::make_shared<std::vector<std::string>>();
        ftrack::Result<std::string> local = ftrack::try_event_hub_subscribe(
            session, "topic=ftrack.api.session.reset", [seen_json](ftrack::Event &e) {
                seen_json->push_back(e.try_json().value_or(""));
                return 0;
            });
        REQUIRE_OK(local);
        ftrack::Result<std::string> local_id = ftrack::try_event_hub_publish_event(
            session, "{\"topic\": \"ftrack.api.session.reset\", \"data\": {\"why\": \"test\"}, \"target\": \"\"}");
        REQUIRE_OK(local_id);
        EXPECT(seen_json->size() == 1);
        if (seen_json->size() == 1) {
            const std::string first = seen_json->front();
            EXPECT(first.find("\"id\":\"" + *local_id + "\"") != std::string::npos);
            EXPECT(ftrack::try_event_hub_publish_event(session, first).value_or("") == *local_id);
            EXPECT(seen_json->size() == 2 && seen_json->back() == first);
            EXPECT(ftrack::try_event_expression_matches("topic=ftrack.api.session.reset and data.why=test", first).value_or(false));
            ftrack::Result<bool> other = ftrack::try_event_expression_matches("data.why=other", first);
            EXPECT(other.ok() && !*other);
        }
        ftrack::Result<bool> bad = ftrack::try_event_expression_matches("topic=(", "{}");
        EXPECT(bad.code() == FTRACK_STATUS_INVALID_ARGUMENT && !bad.message().empty());
        EXPECT(ftrack::try_event_hub_unsubscribe(session, *local).ok());

        EXPECT(ftrack::try_event_hub_unsubscribe(session, *watcher).ok());
        EXPECT(ftrack::try_event_hub_unsubscribe(session, *watcher).code() == FTRACK_STATUS_NOT_FOUND);
        EXPECT(beta->try_set_string("full_name", "Beta without exceptions, again").ok());
        EXPECT(writer.try_commit().ok());
        EXPECT(dispatch_until(session, [&] { return sentinel > 1; }));
        EXPECT(seen->updates == 1);
        EXPECT(once_calls == 1);
        EXPECT(ftrack::try_event_hub_disconnect(session).ok());
    }

    // options: a failing setter is kept and returned by try_create, without connecting
#if !FTRACK_HPP_EXCEPTIONS
    {
        ftrack::SessionOptions options;
        options.server_url("http://127.0.0.1:9").timeout_ms(0).api_key("k");
        EXPECT(options.status().code() == FTRACK_STATUS_INVALID_ARGUMENT);
        ftrack::Result<ftrack::Session> refused = ftrack::Session::try_create(options);
        EXPECT(refused.code() == FTRACK_STATUS_INVALID_ARGUMENT);
        EXPECT(!refused.message().empty());
    }
#endif
    {
        ftrack::SessionOptions options;
        options.server_url("http://127.0.0.1:9").api_key("k").api_user("u")
            .timeout(std::chrono::seconds(2)).max_attempts(1);
        EXPECT(options.status().ok());
        EXPECT(ftrack::Session::try_create(options).code() == FTRACK_STATUS_CONNECTION);
    }

    std::printf("cpp binding (no-exception layer, exceptions %s, C++%ld): %d passed, %d failed\n",
                FTRACK_HPP_EXCEPTIONS ? "on" : "off", static_cast<long>(__cplusplus / 100 % 100),
                passed, failed);
    return failed == 0 ? 0 : 1;
}
