// ftrack.hpp: header-only C++17 RAII wrapper over the libftrack C ABI (ftrack.h).
//
// * Every handle is a move-only owner that calls the matching ftrack_*_destroy.
// * Every failing call throws ftrack::Error, carrying the ftrack_status and this
//   thread's last error message (what failed and what to do; never the API key).
// * Strings are std::string (UTF-8) in and out; buffers are sized for you.
// * Thread rule: as in ftrack.h; sessions and entities may be shared between
//   threads, but an object must not be destroyed while another thread uses it.
//
//   ftrack::Session session = ftrack::Session::from_environment();
//   for (const ftrack::Entity &user : session.query("select username from User")) {
//       std::cout << user.get_string("username") << "\n";
//   }
//
// Link with -lftrack. Thin by design: each method is one C call.
#ifndef FTRACK_HPP
#define FTRACK_HPP

#include <cstddef>
#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#include "ftrack.h"

namespace ftrack {

/// Thrown for every status other than FTRACK_STATUS_OK.
class Error : public std::runtime_error {
public:
    Error(ftrack_status status, const std::string &message)
        : std::runtime_error(std::string(ftrack_status_name(status)) + ": " + message),
          status_(status), message_(message) {}

    /// The status code, e.g. FTRACK_STATUS_NOT_FOUND.
    ftrack_status status() const noexcept { return status_; }
    /// The status name, e.g. "FTRACK_STATUS_NOT_FOUND".
    const char *name() const noexcept { return ftrack_status_name(status_); }
    /// The library's message, without the status name.
    const std::string &message() const noexcept { return message_; }

private:
    ftrack_status status_;
    std::string message_;
};

namespace detail {

/// This thread's last error message.
inline std::string last_error_message() {
    size_t needed = 0;
    std::vector<char> buffer(256);
    ftrack_status status = ftrack_last_error_message(buffer.data(), buffer.size(), &needed);
    if (status == FTRACK_STATUS_BUFFER_TOO_SMALL) {
        buffer.resize(needed);
        status = ftrack_last_error_message(buffer.data(), buffer.size(), &needed);
    }
    return status == FTRACK_STATUS_OK ? std::string(buffer.data()) : std::string();
}

/// Throws Error unless `status` is OK.
inline void check(ftrack_status status) {
    if (status != FTRACK_STATUS_OK) {
        throw Error(status, last_error_message());
    }
}

/// Runs a buffer-pattern call `fill(buffer, len, &out_len)`, growing the buffer once.
template <typename Fill> std::string read_string(Fill fill) {
    std::vector<char> buffer(256);
    size_t needed = 0;
    ftrack_status status = fill(buffer.data(), buffer.size(), &needed);
    if (status == FTRACK_STATUS_BUFFER_TOO_SMALL) {
        buffer.resize(needed);
        status = fill(buffer.data(), buffer.size(), &needed);
    }
    check(status);
    return std::string(buffer.data(), needed > 0 ? needed - 1 : 0);
}

/// A move-only owner of a C handle.
template <typename T, void (*Destroy)(T *)> class Owner {
public:
    Owner() noexcept = default;
    explicit Owner(T *raw) noexcept : raw_(raw) {}
    Owner(const Owner &) = delete;
    Owner &operator=(const Owner &) = delete;
    Owner(Owner &&other) noexcept : raw_(std::exchange(other.raw_, nullptr)) {}
    Owner &operator=(Owner &&other) noexcept {
        if (this != &other) {
            reset();
            raw_ = std::exchange(other.raw_, nullptr);
        }
        return *this;
    }
    ~Owner() { reset(); }

    T *get() const noexcept { return raw_; }
    explicit operator bool() const noexcept { return raw_ != nullptr; }
    void reset() noexcept {
        if (raw_ != nullptr) {
            Destroy(raw_);
            raw_ = nullptr;
        }
    }

private:
    T *raw_ = nullptr;
};

} // namespace detail

class EntityList;

/// One entity of a session's cache. Owns its handle (not the server entity).
class Entity {
public:
    /// Takes ownership of a handle from the C API.
    explicit Entity(ftrack_entity *raw) noexcept : handle_(raw) {}

    ftrack_entity *raw() const noexcept { return handle_.get(); }

    std::string type_name() const {
        return detail::read_string(
            [&](char *b, size_t n, size_t *o) { return ftrack_entity_type_name(raw(), b, n, o); });
    }
    std::string id() const {
        return detail::read_string(
            [&](char *b, size_t n, size_t *o) { return ftrack_entity_id(raw(), b, n, o); });
    }

    std::string get_string(const std::string &attribute) const {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_entity_get_string(raw(), attribute.c_str(), b, n, o);
        });
    }
    /// Any attribute as JSON text (wire encoding).
    std::string get_json(const std::string &attribute) const {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_entity_get_json(raw(), attribute.c_str(), b, n, o);
        });
    }
    bool get_bool(const std::string &attribute) const {
        bool value = false;
        detail::check(ftrack_entity_get_bool(raw(), attribute.c_str(), &value));
        return value;
    }
    std::int64_t get_int64(const std::string &attribute) const {
        std::int64_t value = 0;
        detail::check(ftrack_entity_get_int64(raw(), attribute.c_str(), &value));
        return value;
    }
    double get_double(const std::string &attribute) const {
        double value = 0.0;
        detail::check(ftrack_entity_get_double(raw(), attribute.c_str(), &value));
        return value;
    }
    /// Microseconds since the Unix epoch, UTC.
    std::int64_t get_datetime(const std::string &attribute) const {
        std::int64_t value = 0;
        detail::check(ftrack_entity_get_datetime(raw(), attribute.c_str(), &value));
        return value;
    }
    bool is_null(const std::string &attribute) const {
        bool value = false;
        detail::check(ftrack_entity_is_null(raw(), attribute.c_str(), &value));
        return value;
    }
    /// The referenced entity, or std::nullopt for a null reference.
    std::optional<Entity> get_entity(const std::string &attribute) const {
        ftrack_entity *out = nullptr;
        detail::check(ftrack_entity_get_entity(raw(), attribute.c_str(), &out));
        if (out == nullptr) {
            return std::nullopt;
        }
        return Entity(out);
    }
    inline EntityList get_list(const std::string &attribute) const;

    void set_string(const std::string &attribute, const std::string &value) {
        detail::check(ftrack_entity_set_string(raw(), attribute.c_str(), value.c_str()));
    }
    void set_bool(const std::string &attribute, bool value) {
        detail::check(ftrack_entity_set_bool(raw(), attribute.c_str(), value));
    }
    void set_int64(const std::string &attribute, std::int64_t value) {
        detail::check(ftrack_entity_set_int64(raw(), attribute.c_str(), value));
    }
    void set_double(const std::string &attribute, double value) {
        detail::check(ftrack_entity_set_double(raw(), attribute.c_str(), value));
    }
    void set_datetime(const std::string &attribute, std::int64_t microseconds_utc) {
        detail::check(ftrack_entity_set_datetime(raw(), attribute.c_str(), microseconds_utc));
    }
    void set_null(const std::string &attribute) {
        detail::check(ftrack_entity_set_null(raw(), attribute.c_str()));
    }
    void set_entity(const std::string &attribute, const Entity &value) {
        detail::check(ftrack_entity_set_entity(raw(), attribute.c_str(), value.raw()));
    }
    void set_json(const std::string &attribute, const std::string &json) {
        detail::check(ftrack_entity_set_json(raw(), attribute.c_str(), json.c_str()));
    }
    void append(const std::string &attribute, const Entity &item) {
        detail::check(ftrack_entity_collection_append(raw(), attribute.c_str(), item.raw()));
    }
    void remove(const std::string &attribute, const Entity &item) {
        detail::check(ftrack_entity_collection_remove(raw(), attribute.c_str(), item.raw()));
    }

private:
    detail::Owner<ftrack_entity, ftrack_entity_destroy> handle_;
};

/// An immutable list of entities; indexing returns new Entity owners.
class EntityList {
public:
    explicit EntityList(ftrack_entity_list *raw) noexcept : handle_(raw) {}

    ftrack_entity_list *raw() const noexcept { return handle_.get(); }
    std::size_t size() const noexcept { return ftrack_entity_list_len(raw()); }
    bool empty() const noexcept { return size() == 0; }
    Entity at(std::size_t index) const {
        ftrack_entity *out = nullptr;
        detail::check(ftrack_entity_list_get(raw(), index, &out));
        return Entity(out);
    }
    Entity operator[](std::size_t index) const { return at(index); }

    /// Input iterator yielding Entity values.
    class iterator {
    public:
        iterator(const EntityList *list, std::size_t index) : list_(list), index_(index) {}
        Entity operator*() const { return list_->at(index_); }
        iterator &operator++() {
            ++index_;
            return *this;
        }
        bool operator!=(const iterator &other) const { return index_ != other.index_; }

    private:
        const EntityList *list_;
        std::size_t index_;
    };
    iterator begin() const { return iterator(this, 0); }
    iterator end() const { return iterator(this, size()); }

private:
    detail::Owner<ftrack_entity_list, ftrack_entity_list_destroy> handle_;
};

inline EntityList Entity::get_list(const std::string &attribute) const {
    ftrack_entity_list *out = nullptr;
    detail::check(ftrack_entity_get_list(raw(), attribute.c_str(), &out));
    return EntityList(out);
}

/// Session options (builder); setters return *this for chaining.
class SessionOptions {
public:
    SessionOptions() {
        ftrack_session_options *out = nullptr;
        detail::check(ftrack_session_options_create(&out));
        handle_ = Handle(out);
    }
    const ftrack_session_options *raw() const noexcept { return handle_.get(); }

    SessionOptions &server_url(const std::string &v) {
        detail::check(ftrack_session_options_set_server_url(handle_.get(), v.c_str()));
        return *this;
    }
    SessionOptions &api_key(const std::string &v) {
        detail::check(ftrack_session_options_set_api_key(handle_.get(), v.c_str()));
        return *this;
    }
    SessionOptions &api_user(const std::string &v) {
        detail::check(ftrack_session_options_set_api_user(handle_.get(), v.c_str()));
        return *this;
    }
    SessionOptions &timeout_ms(std::uint64_t v) {
        detail::check(ftrack_session_options_set_timeout_ms(handle_.get(), v));
        return *this;
    }
    SessionOptions &header(const std::string &name, const std::string &value) {
        detail::check(ftrack_session_options_add_header(handle_.get(), name.c_str(), value.c_str()));
        return *this;
    }
    SessionOptions &cookie(const std::string &name, const std::string &value) {
        detail::check(ftrack_session_options_add_cookie(handle_.get(), name.c_str(), value.c_str()));
        return *this;
    }
    SessionOptions &strict_api(bool v) {
        detail::check(ftrack_session_options_set_strict_api(handle_.get(), v));
        return *this;
    }
    SessionOptions &auto_populate(bool v) {
        detail::check(ftrack_session_options_set_auto_populate(handle_.get(), v));
        return *this;
    }
    SessionOptions &idempotent_role_changes(bool v) {
        detail::check(ftrack_session_options_set_idempotent_role_changes(handle_.get(), v));
        return *this;
    }
    SessionOptions &record_operations(bool v) {
        detail::check(ftrack_session_options_set_record_operations(handle_.get(), v));
        return *this;
    }
    SessionOptions &schema_cache_path(const std::string &v) {
        detail::check(ftrack_session_options_set_schema_cache_path(handle_.get(), v.c_str()));
        return *this;
    }
    SessionOptions &disable_schema_cache() {
        detail::check(ftrack_session_options_disable_schema_cache(handle_.get()));
        return *this;
    }
    SessionOptions &page_size(std::size_t v) {
        detail::check(ftrack_session_options_set_page_size(handle_.get(), v));
        return *this;
    }
    SessionOptions &max_attempts(std::uint32_t v) {
        detail::check(ftrack_session_options_set_max_attempts(handle_.get(), v));
        return *this;
    }
    SessionOptions &retry_delay_ms(std::uint64_t v) {
        detail::check(ftrack_session_options_set_retry_delay_ms(handle_.get(), v));
        return *this;
    }
    SessionOptions &ca_bundle_path(const std::string &v) {
        detail::check(ftrack_session_options_set_ca_bundle_path(handle_.get(), v.c_str()));
        return *this;
    }
    SessionOptions &persistent_cache_path(const std::string &v) {
        detail::check(ftrack_session_options_set_persistent_cache_path(handle_.get(), v.c_str()));
        return *this;
    }

private:
    using Handle = detail::Owner<ftrack_session_options, ftrack_session_options_destroy>;
    Handle handle_;
};

/// A connection to an ftrack server (see ftrack_session in ftrack.h).
class Session {
public:
    /// Connects with explicit values; an empty std::optional reads the environment.
    Session(const std::optional<std::string> &server_url, const std::optional<std::string> &api_key,
            const std::optional<std::string> &api_user) {
        ftrack_session *out = nullptr;
        detail::check(ftrack_session_create(server_url ? server_url->c_str() : nullptr,
                                            api_key ? api_key->c_str() : nullptr,
                                            api_user ? api_user->c_str() : nullptr, &out));
        handle_ = Handle(out);
    }
    /// Connects with options (which are copied).
    explicit Session(const SessionOptions &options) {
        ftrack_session *out = nullptr;
        detail::check(ftrack_session_create_with_options(options.raw(), &out));
        handle_ = Handle(out);
    }
    /// Connects using FTRACK_SERVER, FTRACK_API_KEY and FTRACK_API_USER.
    static Session from_environment() { return Session(std::nullopt, std::nullopt, std::nullopt); }

    ftrack_session *raw() const noexcept { return handle_.get(); }

    EntityList query(const std::string &expression) {
        ftrack_entity_list *out = nullptr;
        detail::check(ftrack_session_query(raw(), expression.c_str(), &out));
        return EntityList(out);
    }
    /// The first match, or std::nullopt when nothing matches.
    std::optional<Entity> query_first(const std::string &expression) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_session_query_first(raw(), expression.c_str(), &out);
        if (status == FTRACK_STATUS_NOT_FOUND) {
            return std::nullopt;
        }
        detail::check(status);
        return Entity(out);
    }
    /// Exactly one match; throws FTRACK_STATUS_NOT_FOUND or FTRACK_STATUS_MULTIPLE_RESULTS.
    Entity query_one(const std::string &expression) {
        ftrack_entity *out = nullptr;
        detail::check(ftrack_session_query_one(raw(), expression.c_str(), &out));
        return Entity(out);
    }
    Entity create(const std::string &entity_type, const std::string &data_json = "{}") {
        ftrack_entity *out = nullptr;
        detail::check(
            ftrack_session_create_entity(raw(), entity_type.c_str(), data_json.c_str(), &out));
        return Entity(out);
    }
    void delete_entity(Entity &entity) {
        detail::check(ftrack_session_delete_entity(raw(), entity.raw()));
    }
    void commit() { detail::check(ftrack_session_commit(raw())); }
    void rollback() { detail::check(ftrack_session_rollback(raw())); }
    std::size_t pending_count() {
        std::size_t count = 0;
        detail::check(ftrack_session_pending_count(raw(), &count));
        return count;
    }
    std::string pending_json() {
        return detail::read_string(
            [&](char *b, size_t n, size_t *o) { return ftrack_session_pending_json(raw(), b, n, o); });
    }
    /// Sends a raw batch once; a large answer is fetched without sending again.
    std::string call(const std::string &batch_json) {
        bool sent = false;
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            if (sent) {
                return ftrack_last_call_reply(b, n, o);
            }
            sent = true;
            return ftrack_session_call(raw(), batch_json.c_str(), b, n, o);
        });
    }

    // ---- security roles (issue 4); changes are recorded and sent by commit() ----

    /// Security roles, optionally of one type ("PROJECT", "ASSIGNED", "API").
    EntityList security_roles(const std::optional<std::string> &type = std::nullopt) {
        ftrack_entity_list *out = nullptr;
        detail::check(ftrack_security_roles(raw(), type ? type->c_str() : nullptr, &out));
        return EntityList(out);
    }
    /// The security role with this name (throws FTRACK_STATUS_NOT_FOUND).
    Entity find_security_role(const std::string &name) {
        ftrack_entity *out = nullptr;
        detail::check(ftrack_security_role_find(raw(), name.c_str(), &out));
        return Entity(out);
    }
    /// The user with this username (throws FTRACK_STATUS_NOT_FOUND).
    Entity find_user(const std::string &username) {
        ftrack_entity *out = nullptr;
        detail::check(ftrack_user_find(raw(), username.c_str(), &out));
        return Entity(out);
    }
    /// The project with this (short) name (throws FTRACK_STATUS_NOT_FOUND).
    Entity find_project(const std::string &name) {
        ftrack_entity *out = nullptr;
        detail::check(ftrack_project_find(raw(), name.c_str(), &out));
        return Entity(out);
    }
    /// The user's UserSecurityRole entities with role and granted projects loaded.
    EntityList user_security_roles(const Entity &user) {
        ftrack_entity_list *out = nullptr;
        detail::check(ftrack_user_security_roles(raw(), user.raw(), &out));
        return EntityList(out);
    }
    void role_append(const Entity &user, const Entity &role, bool all_open_projects) {
        detail::check(ftrack_user_role_append(raw(), user.raw(), role.raw(), all_open_projects));
    }
    void role_remove(const Entity &user, const Entity &role) {
        detail::check(ftrack_user_role_remove(raw(), user.raw(), role.raw()));
    }
    void role_replace(const Entity &user, const Entity &old_role, const Entity &new_role) {
        detail::check(ftrack_user_role_replace(raw(), user.raw(), old_role.raw(), new_role.raw()));
    }
    void grant_project(const Entity &user, const Entity &role, const Entity &project) {
        detail::check(ftrack_user_role_grant_project(raw(), user.raw(), role.raw(), project.raw()));
    }
    void revoke_project(const Entity &user, const Entity &role, const Entity &project) {
        detail::check(ftrack_user_role_revoke_project(raw(), user.raw(), role.raw(), project.raw()));
    }
    /// Every user x role x scope as a JSON array (see ftrack_security_role_audit_json).
    std::string security_role_audit_json() {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_security_role_audit_json(raw(), b, n, o);
        });
    }

private:
    using Handle = detail::Owner<ftrack_session, ftrack_session_destroy>;
    Handle handle_;
};

/// The library version (compare with FTRACK_VERSION_STRING).
inline std::string version() { return ftrack_version_string(); }

// ---- event hub and plugins (see ftrack_event_hub_* in ftrack.h) ----
//
// Handlers run on the thread that calls event_hub_dispatch (or the library's
// dispatch thread when SessionOptions asked for it). A handler returns 0 when
// it handled the event; it may call Event::set_reply. It must not throw: an
// exception is caught, logged through the session's logger as a failure.

/// The event a handler receives (valid only during the call), or a reply
/// returned by event_hub_publish_and_wait (owned).
class Event {
public:
    explicit Event(ftrack_event *raw, bool owned = false) : raw_(raw), owned_(owned) {}
    Event(const Event &) = delete;
    Event &operator=(const Event &) = delete;
    Event(Event &&other) noexcept : raw_(other.raw_), owned_(other.owned_) { other.raw_ = nullptr; }
    ~Event() {
        if (owned_) ftrack_event_destroy(raw_);
    }
    std::string topic() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_topic(raw_, b, n, o); });
    }
    std::string id() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_id(raw_, b, n, o); });
    }
    std::string data_json() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_data_json(raw_, b, n, o); });
    }
    std::string source_json() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_source_json(raw_, b, n, o); });
    }
    /// One value of the data by JSON pointer (strings unquoted); throws NOT_FOUND.
    std::string get(const std::string &pointer) const {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_event_data_get(raw_, pointer.c_str(), b, n, o);
        });
    }
    void set_reply(const std::string &json) { detail::check(ftrack_event_set_reply(raw_, json.c_str())); }

private:
    ftrack_event *raw_;
    bool owned_;
};

/// A subscriber's handler: return 0 when handled.
using EventHandler = std::function<int(Event &)>;

namespace detail {
inline std::mutex &handlers_mutex() {
    static std::mutex m;
    return m;
}
inline std::map<std::string, std::unique_ptr<EventHandler>> &handlers() {
    static std::map<std::string, std::unique_ptr<EventHandler>> h;
    return h;
}
inline int event_trampoline(void *user_data, ftrack_event *raw) {
    try {
        Event event(raw);
        return (*static_cast<EventHandler *>(user_data))(event);
    } catch (...) {
        return -1;
    }
}
} // namespace detail

inline void set_auto_connect_event_hub(SessionOptions &o, bool on) {
    detail::check(ftrack_session_options_set_auto_connect_event_hub(const_cast<ftrack_session_options *>(o.raw()), on));
}
inline void set_event_dispatch_thread(SessionOptions &o, bool on) {
    detail::check(ftrack_session_options_set_event_dispatch_thread(const_cast<ftrack_session_options *>(o.raw()), on));
}
inline void add_plugin_path(SessionOptions &o, const std::string &path) {
    detail::check(ftrack_session_options_add_plugin_path(const_cast<ftrack_session_options *>(o.raw()), path.c_str()));
}
inline void set_plugin_arguments(SessionOptions &o, const std::string &json) {
    detail::check(ftrack_session_options_set_plugin_arguments(const_cast<ftrack_session_options *>(o.raw()), json.c_str()));
}
inline void event_hub_connect(Session &s, uint64_t timeout_ms) { detail::check(ftrack_event_hub_connect(s.raw(), timeout_ms)); }
inline void event_hub_disconnect(Session &s) { detail::check(ftrack_event_hub_disconnect(s.raw())); }
inline bool event_hub_is_connected(Session &s) {
    bool out = false;
    detail::check(ftrack_event_hub_is_connected(s.raw(), &out));
    return out;
}
/// Subscribes `handler`; returns the subscriber id (keep it to unsubscribe).
inline std::string event_hub_subscribe(Session &s, const std::string &subscription, EventHandler handler,
                                       const std::optional<std::string> &subscriber_json = std::nullopt,
                                       int32_t priority = 100) {
    auto owned = std::make_unique<EventHandler>(std::move(handler));
    EventHandler *ptr = owned.get();
    std::string id = detail::read_string([&](char *b, size_t n, size_t *o) {
        return ftrack_event_hub_subscribe(s.raw(), subscription.c_str(),
                                          subscriber_json ? subscriber_json->c_str() : nullptr, priority,
                                          detail::event_trampoline, ptr, b, n, o);
    });
    // read_string's 256-byte first buffer holds any subscriber id, so the
    // subscription is made by exactly one call.
    std::lock_guard<std::mutex> lock(detail::handlers_mutex());
    detail::handlers()[id] = std::move(owned);
    return id;
}
inline void event_hub_unsubscribe(Session &s, const std::string &subscriber_id) {
    detail::check(ftrack_event_hub_unsubscribe(s.raw(), subscriber_id.c_str()));
    std::lock_guard<std::mutex> lock(detail::handlers_mutex());
    detail::handlers().erase(subscriber_id);
}
inline void event_hub_publish(Session &s, const std::string &topic, const std::string &data_json = "{}",
                              const std::string &target = "") {
    detail::check(ftrack_event_hub_publish(s.raw(), topic.c_str(), data_json.c_str(), target.c_str()));
}
inline Event event_hub_publish_and_wait(Session &s, const std::string &topic, const std::string &data_json,
                                        uint64_t timeout_ms, const std::string &target = "") {
    ftrack_event *out = nullptr;
    detail::check(ftrack_event_hub_publish_and_wait(s.raw(), topic.c_str(), data_json.c_str(), target.c_str(),
                                                    timeout_ms, &out));
    return Event(out, true);
}
/// Runs handlers of arrived events on this thread; returns how many were handled.
inline size_t event_hub_dispatch(Session &s, uint64_t timeout_ms) {
    size_t handled = 0;
    detail::check(ftrack_event_hub_dispatch(s.raw(), timeout_ms, &handled));
    return handled;
}

} // namespace ftrack

#endif // FTRACK_HPP
