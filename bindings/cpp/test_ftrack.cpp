// Test of the C++ wrapper against a server (FTRACK_SERVER / FTRACK_API_KEY /
// FTRACK_API_USER: the sandbox's demo studio). Run by ffi/tests/bindings_cpp.rs.
#include "ftrack.hpp"

#include <chrono>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <string>
#include <thread>
#include <type_traits>

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

template <typename F> static ftrack_status status_of(F f) {
    try {
        f();
    } catch (const ftrack::Error &e) {
        return e.status();
    }
    return FTRACK_STATUS_OK;
}

// Dispatches `session`'s events on this thread until `done()` holds (`seconds` at most).
template <typename Done> static bool dispatch_until(ftrack::Session &session, Done done, int seconds = 15) {
    const auto until = std::chrono::steady_clock::now() + std::chrono::seconds(seconds);
    while (!done() && std::chrono::steady_clock::now() < until) {
        ftrack::event_hub_dispatch(session, 100);
    }
    return done();
}

// Subscriptions reach the server a moment after they are sent, and a write
// made before then is not announced to them. An event of our own, published
// after them on the same connection, comes back only once the server has
// them all.
static bool wait_until_subscribed(ftrack::Session &session) {
    auto arrived = std::make_shared<int>(0);
    const std::string id = ftrack::event_hub_subscribe(session, "topic=cpp.subscribed", [arrived](ftrack::Event &) {
        ++*arrived;
        return 0;
    });
    ftrack::event_hub_publish_event(session, "{\"topic\": \"cpp.subscribed\", \"data\": {}}");
    const bool back = dispatch_until(session, [&] { return *arrived > 0; });
    ftrack::event_hub_unsubscribe(session, id);
    return back;
}

// The string value of `"key":"..."` in compact JSON text ("" when absent).
static std::string json_string(const std::string &json, const std::string &key) {
    const std::string start = "\"" + key + "\":\"";
    std::size_t at = json.find(start);
    if (at == std::string::npos) {
        return std::string();
    }
    at += start.size();
    return json.substr(at, json.find('"', at) - at);
}

static_assert(!std::is_copy_constructible<ftrack::Session>::value, "move-only");
static_assert(std::is_copy_constructible<ftrack::Entity>::value, "copyable");
static_assert(!std::is_copy_constructible<ftrack::EntityList>::value, "move-only");
static_assert(std::is_nothrow_move_constructible<ftrack::Entity>::value, "movable");
static_assert(std::is_nothrow_move_constructible<ftrack::EntityList>::value, "movable");

int main() {
    EXPECT(ftrack::version() == FTRACK_VERSION_STRING);
    try {
        ftrack::Session session = ftrack::Session::from_environment();

        // query and iteration
        std::size_t users = 0;
        bool found_admin = false;
        for (const ftrack::Entity &user : session.query("select username, is_active from User")) {
            ++users;
            found_admin = found_admin || user.get_string("username") == "admin";
            EXPECT(user.type_name() == "User");
        }
        EXPECT(users >= 5);
        EXPECT(found_admin);

        ftrack::Entity admin = session.query_one("User where username is \"admin\"");
        EXPECT(admin.get_bool("is_active"));
        EXPECT(!admin.id().empty());
        EXPECT(admin.get_json("username") == "\"admin\"");

        // references and collections
        ftrack::EntityList roles = admin.get_list("user_security_roles");
        EXPECT(!roles.empty());
        if (!roles.empty()) {
            std::optional<ftrack::Entity> role = roles[0].get_entity("security_role");
            EXPECT(role.has_value());
            if (role) {
                EXPECT(role->get_string("name") == "Administrator");
            }
        }

        // errors carry status and message
        EXPECT(!session.query_first("User where username is \"nobody-here\"").has_value());
        EXPECT(status_of([&] { session.query_one("User"); }) == FTRACK_STATUS_MULTIPLE_RESULTS);
        EXPECT(status_of([&] { admin.get_int64("username"); }) == FTRACK_STATUS_TYPE_MISMATCH);
        try {
            session.query("select from User where");
            EXPECT(false);
        } catch (const ftrack::Error &e) {
            EXPECT(e.status() == FTRACK_STATUS_QUERY_SYNTAX);
            EXPECT(std::strcmp(e.name(), "FTRACK_STATUS_QUERY_SYNTAX") == 0);
            EXPECT(e.message().find("ftrack_session_query") != std::string::npos);
        }

        // create, update, commit, read back, delete
        ftrack::Entity project =
            session.create("Project", "{\"name\": \"cpp_binding\", \"full_name\": \"C++ binding\"}");
        const ftrack::DateTime start{std::chrono::microseconds(1714979289000000)};
        project.set_datetime("start_date", start);
        EXPECT(session.pending_count() >= 1);
        EXPECT(session.pending_json().find("cpp_binding") != std::string::npos);
        session.commit();
        EXPECT(session.pending_count() == 0);
        project.set_string("full_name", "C++ binding, renamed");
        session.commit();
        ftrack::Entity again =
            session.query_one("select full_name, start_date from Project where name is \"cpp_binding\"");
        EXPECT(again.get_string("full_name") == "C++ binding, renamed");
        EXPECT(again.get_datetime("start_date") == start);
        EXPECT(again.get_datetime("start_date").time_since_epoch().count() == 1714979289000000);
        project.set_string("full_name", "never sent");
        session.rollback();
        EXPECT(session.pending_count() == 0);
        session.delete_entity(project);
        session.commit();
        EXPECT(!session.query_first("Project where name is \"cpp_binding\"").has_value());

        // move semantics: the moved-from owner is empty, the new one works
        ftrack::Entity moved = std::move(again);
        EXPECT(moved.raw() != nullptr && again.raw() == nullptr);

        // raw call: the answer is longer than the first buffer, so it is fetched
        // with ftrack_last_call_reply instead of being sent twice
        std::string reply = session.call("[{\"action\": \"query_server_information\"}]");
        EXPECT(reply.size() > 10 && reply[0] == '[');

        // security roles: give artist the Project Manager role on gamma only
        {
            ftrack::Entity artist = session.find_user("artist");
            ftrack::Entity pm_role = session.find_security_role("Project Manager");
            ftrack::Entity gamma = session.find_project("gamma");
            std::size_t before = session.user_security_roles(artist).size();
            EXPECT(session.security_roles().size() >= 3);
            session.role_append(artist, pm_role, false);
            session.grant_project(artist, pm_role, gamma);
            EXPECT(session.pending_count() == 2);
            session.commit();
            EXPECT(session.user_security_roles(artist).size() == before + 1);
            EXPECT(status_of([&] { session.role_append(artist, pm_role, false); }) ==
                   FTRACK_STATUS_ROLE_ALREADY_ASSIGNED);
            EXPECT(status_of([&] { session.find_user("nobody-here"); }) == FTRACK_STATUS_NOT_FOUND);
            EXPECT(session.users(std::string("username like \"a%\"")).size() >= 2);
            std::string audit = session.security_role_audit_json();
            EXPECT(audit.find("\"artist\"") != std::string::npos);
            EXPECT(audit.find("\"gamma\"") != std::string::npos);

            // the ftrack_api-shaped surface (issue 8)
            ftrack::EntityList held = artist.get_list("security_roles");
            EXPECT(held.size() == 2);
            EXPECT(status_of([&] { artist.append("security_roles", pm_role); }) ==
                   FTRACK_STATUS_ROLE_ALREADY_ASSIGNED);
            ftrack::QueryCursor cursor = session.query_cursor("select username from User", 2);
            std::size_t rows = 0, pages = 0;
            while (std::optional<ftrack::EntityList> page = cursor.next_page()) {
                rows += page->size();
                ++pages;
            }
            EXPECT(rows == 5 && pages == 3);
            EXPECT(session.get("User", artist.id()).has_value());
            EXPECT(!session.get("User", "no-such-id").has_value());
            ftrack::Entity group = session.ensure("Group", "{\"name\": \"Cpp\", \"local\": true}");
            EXPECT(session.ensure("Group", "{\"name\": \"Cpp\", \"local\": true}", "[\"name\"]").id() == group.id());
            session.populate({&artist, &group}, "id");
            session.set_auto_populate(false);
            EXPECT(!session.auto_populate());
            session.set_auto_populate(true);
            session.set_record_operations(false);
            EXPECT(!session.record_operations());
            session.set_record_operations(true);
            artist.set_string("last_name", "Cpp");
            EXPECT(session.recorded_operations_json().find("\"last_name\"") != std::string::npos);
            session.reset();
            EXPECT(session.pending_count() == 0);
            EXPECT(session.entity_schema_json("User").find("\"derived\":true") != std::string::npos);
            EXPECT(session.entity_types_json().find("\"User\"") != std::string::npos);
            EXPECT(ftrack::version_number() > 0);
        }

        // event hub: a commit by another session arrives as ftrack.update on this
        // thread's dispatch; a reply set by another session's handler comes back
        // to publish_and_wait; an unsubscribed handler gets nothing more.
        {
            struct Seen {
                int updates = 0;
                std::string topic, entity_id, new_name, source_user;
            };
            auto seen = std::make_shared<Seen>();
            // A fixed subscriber id, also used by the responder's session below:
            // ids are unique per session only.
            std::string watcher = ftrack::event_hub_subscribe(
                session, "topic=ftrack.update",
                [seen](ftrack::Event &e) {
                    seen->topic = e.topic();
                    seen->entity_id = e.data_get("/entities/0/entityId");
                    seen->new_name = e.data_get("/entities/0/changes/fullname/new");
                    seen->source_user = e.data_get("/user/name");
                    ++seen->updates;
                    return 0;
                },
                std::string("{\"id\": \"cpp-test\", \"app\": \"cpp\"}"));
            EXPECT(watcher == "cpp-test");
            // Still subscribed when the watcher is gone: shows the later update arrived.
            int sentinel = 0;
            const std::string long_id(300, 's'); // longer than the first buffer of any string read
            EXPECT(ftrack::event_hub_subscribe(session, "topic=ftrack.update",
                                               [&sentinel](ftrack::Event &) {
                                                   ++sentinel;
                                                   return 0;
                                               },
                                               "{\"id\": \"" + long_id + "\"}") == long_id);
            // A handler that unsubscribes itself on its first event, then uses its captures.
            auto once_id = std::make_shared<std::string>();
            int once_calls = 0;
            *once_id = ftrack::event_hub_subscribe(
                session, "topic=ftrack.update",
                [&session, &once_calls, once_id, tag = std::string(64, 't')](ftrack::Event &) {
                    ++once_calls;
                    ftrack::event_hub_unsubscribe(session, *once_id);
                    return tag.size() == 64 && !once_id->empty() ? 0 : 1;
                });
            EXPECT(status_of([&] { ftrack::event_hub_subscribe(session, "(topic=x", [](ftrack::Event &) { return 0; }); }) ==
                   FTRACK_STATUS_INVALID_ARGUMENT);
            ftrack::event_hub_connect(session, 15000);
            EXPECT(ftrack::event_hub_is_connected(session));
            EXPECT(wait_until_subscribed(session));

            ftrack::Session writer = ftrack::Session::from_environment();
            ftrack::Entity alpha = writer.find_project("alpha");
            alpha.set_string("full_name", "Alpha from C++");
            writer.commit();
            EXPECT(dispatch_until(session, [&] { return seen->updates > 0 && sentinel > 0; }));
            EXPECT(seen->topic == "ftrack.update");
            EXPECT(seen->entity_id == alpha.id());
            EXPECT(seen->new_name == "Alpha from C++");
            EXPECT(seen->source_user == "admin");
            EXPECT(once_calls == 1);

            ftrack::SessionOptions responder_options; // credentials from the environment
            ftrack::set_event_dispatch_thread(responder_options, true);
            ftrack::Session responder(responder_options);
            EXPECT(ftrack::event_hub_subscribe(
                       responder, "topic=cpp.ping",
                       [](ftrack::Event &e) {
                           e.set_reply("{\"pong\": " + e.data_get("/n") + ", \"from\": \"cpp\"}");
                           return 0;
                       },
                       std::string("{\"id\": \"cpp-test\"}")) == "cpp-test");
            ftrack::event_hub_connect(responder, 15000);
            // The responder's subscription reaches the server shortly after it
            // connects: ask until it answers.
            std::string pong, reply_topic;
            for (int i = 0; i < 15 && pong.empty(); ++i) {
                ftrack::Result<ftrack::Event> reply =
                    ftrack::try_event_hub_publish_and_wait(session, "cpp.ping", "{\"n\": 7}", 1000);
                if (reply.ok()) {
                    pong = reply->data_get("/pong") + "/" + reply->data_get("/from");
                    reply_topic = reply->topic();
                } else {
                    EXPECT(reply.code() == FTRACK_STATUS_TIMEOUT);
                }
            }
            EXPECT(pong == "7/cpp");
            EXPECT(reply_topic == "ftrack.meta.reply");

            // publish_event with a reply handler: a second subscriber of the
            // responder answers too, so each event gets two replies, handled
            // here, in this thread's dispatch.
            EXPECT(!ftrack::event_hub_subscribe(responder, "topic=cpp.ping", [](ftrack::Event &e) {
                        e.set_reply("{\"pong\": " + e.data_get("/n") + ", \"from\": \"second\"}");
                        return 0;
                    }).empty());
            struct Replies {
                std::map<std::string, int> by_event;
                std::string froms;
                bool other_thread = false;
            };
            auto replies = std::make_shared<Replies>();
            const std::thread::id main_thread = std::this_thread::get_id();
            std::string asked;
            for (int i = 0; i < 15 && asked.empty(); ++i) {
                std::string id = ftrack::event_hub_publish_event(
                    session, "{\"topic\": \"cpp.ping\", \"data\": {\"n\": 9}}",
                    [replies, main_thread](ftrack::Event &reply) {
                        replies->other_thread = replies->other_thread || std::this_thread::get_id() != main_thread;
                        ++replies->by_event[json_string(reply.json(), "inReplyToEvent")];
                        replies->froms += reply.data_get("/pong") + reply.data_get("/from") + ";";
                        return reply.topic() == "ftrack.meta.reply" ? 0 : 1;
                    });
                EXPECT(id.size() == 32);
                if (dispatch_until(session, [&] { return replies->by_event[id] >= 2; }, 1)) {
                    asked = id;
                }
            }
            EXPECT(!asked.empty());
            EXPECT(replies->froms.find("9cpp;") != std::string::npos);
            EXPECT(replies->froms.find("9second;") != std::string::npos);
            EXPECT(!replies->other_thread);
            EXPECT(status_of([&] { ftrack::event_hub_publish_event(session, "{\"data\": {}}", [](ftrack::Event &) { return 0; }); }) ==
                   FTRACK_STATUS_INVALID_ARGUMENT);

            // The hub id: stable, and the source.id of what the hub publishes.
            const std::string hub_id = ftrack::event_hub_id(session);
            EXPECT(hub_id.size() == 32);
            EXPECT(ftrack::event_hub_id(session) == hub_id);
            EXPECT(ftrack::event_hub_id(responder) != hub_id);

            // An event's JSON goes back into publish_event unchanged (a
            // local-only topic: its subscribers run now, on this thread), and
            // subscription expressions match it.
            std::string first, second;
            std::string local = ftrack::event_hub_subscribe(
                session, "topic=ftrack.api.session.configure-location", [&](ftrack::Event &e) {
                    (first.empty() ? first : second) = e.json();
                    return 0;
                });
            EXPECT(ftrack::event_hub_publish_event(
                       session, "{\"topic\": \"ftrack.api.session.configure-location\", \"id\": \"cpp-local-1\", "
                                "\"data\": {\"n\": [1, \"\u00e9\"]}, \"source\": {\"app\": \"cpp\"}}") == "cpp-local-1");
            EXPECT(first.find("\"id\":\"cpp-local-1\"") != std::string::npos);
            EXPECT(first.find("\"n\":[1,\"\u00e9\"]") != std::string::npos);
            EXPECT(first.find("\"id\":\"" + hub_id + "\"") != std::string::npos);
            EXPECT(ftrack::event_hub_publish_event(session, first) == "cpp-local-1");
            EXPECT(!second.empty() && second == first);
            EXPECT(ftrack::event_expression_matches("topic=ftrack.api.session.* and id=cpp-local-1", first));
            EXPECT(ftrack::event_expression_matches("source.app=cpp", first));
            EXPECT(!ftrack::event_expression_matches("topic=cpp.ping", first));
            EXPECT(status_of([&] { ftrack::event_expression_matches("topic=(", first); }) == FTRACK_STATUS_INVALID_ARGUMENT);
            EXPECT(status_of([&] { ftrack::event_expression_matches("topic=x", "{"); }) == FTRACK_STATUS_INVALID_ARGUMENT);
            ftrack::event_hub_unsubscribe(session, local);

            ftrack::event_hub_unsubscribe(session, watcher);
            EXPECT(status_of([&] { ftrack::event_hub_unsubscribe(session, watcher); }) == FTRACK_STATUS_NOT_FOUND);
            alpha.set_string("full_name", "Alpha from C++, again");
            writer.commit();
            EXPECT(dispatch_until(session, [&] { return sentinel > 1; }));
            EXPECT(seen->updates == 1);
            EXPECT(once_calls == 1);
            ftrack::event_hub_disconnect(session);
            EXPECT(!ftrack::event_hub_is_connected(session));
        }

        // options
        ftrack::SessionOptions options;
        options.server_url("http://127.0.0.1:9").api_key("k").api_user("u").timeout_ms(2000).max_attempts(1);
        options.security_roles_all_open_projects(false);
        EXPECT(status_of([&] { ftrack::Session s(options); }) == FTRACK_STATUS_CONNECTION);
        EXPECT(status_of([&] { options.timeout_ms(0); }) == FTRACK_STATUS_INVALID_ARGUMENT);
    } catch (const ftrack::Error &e) {
        ++failed;
        std::fprintf(stderr, "FAIL: unexpected ftrack::Error %s\n", e.what());
    }
    std::printf("cpp binding: %d passed, %d failed\n", passed, failed);
    return failed == 0 ? 0 : 1;
}
