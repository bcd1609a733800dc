// ftrack.hpp: header-only C++17 wrapper over the libftrack C ABI (ftrack.h).
//
// Two layers, one per error style:
//
// * Non-throwing, always available, also with -fno-exceptions (Unreal's default):
//   every operation has a `try_` form that returns ftrack::Result<T> (or
//   Result<void>): the ftrack_status, this thread's last error message (what
//   failed and what to do; never the API key) and, on success, the value.
//
//       ftrack::Result<ftrack::Session> session = ftrack::Session::try_from_environment();
//       if (!session) { log(session.message()); return; }
//       ftrack::Result<ftrack::EntityList> users = session->try_query("select username from User");
//
// * Throwing, only when exceptions are enabled (__cpp_exceptions): the same
//   operations without `try_`, throwing ftrack::Error.
//
//       ftrack::Session session = ftrack::Session::from_environment();
//       for (const ftrack::Entity &user : session.query("select username from User")) { ... }
//
// Result::value() on a failed result throws ftrack::Error with exceptions and
// calls std::abort() without; check ok() (or operator bool) first.
//
// * Handles: Session, EntityList and SessionOptions are move-only owners; Entity
//   is copyable (ftrack_entity_clone: copies share the entity's data).
// * EntityList iterators meet the standard iterator requirements (input iterator
//   for C++17 algorithms, random access for C++20 ranges): range-for,
//   std::vector<ftrack::Entity>(list.begin(), list.end()), <algorithm>.
// * Datetimes are ftrack::DateTime, a std::chrono::system_clock time point in
//   microseconds (UTC).
// * Strings are std::string (UTF-8) in and out; buffers are sized for you.
// * Thread rule: as in ftrack.h; sessions and entities may be shared between
//   threads, but an object must not be destroyed while another thread uses it.
//
// Link with -lftrack (CMake: ftrack::ftrack; pkg-config: ftrack).
#ifndef FTRACK_HPP
#define FTRACK_HPP

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <deque>
#include <iterator>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#if !defined(FTRACK_HPP_EXCEPTIONS)
#if defined(__cpp_exceptions) || defined(__EXCEPTIONS) || defined(_CPPUNWIND)
/// 1 when the throwing layer is available (exceptions are enabled), else 0.
#define FTRACK_HPP_EXCEPTIONS 1
#else
#define FTRACK_HPP_EXCEPTIONS 0
#endif
#endif

#if FTRACK_HPP_EXCEPTIONS
#include <stdexcept>
#endif

#include "ftrack.h"

namespace ftrack {

/// A point in time as ftrack stores it: microseconds since the Unix epoch, UTC.
using DateTime = std::chrono::time_point<std::chrono::system_clock, std::chrono::microseconds>;

/// The outcome of an operation without a value: a status and, on failure, this
/// thread's last error message captured right after the failing call.
class Status {
public:
    /// Success.
    Status() noexcept = default;
    /// A given status and message.
    Status(ftrack_status code, std::string message) noexcept
        : code_(code), message_(std::move(message)) {}

    /// True for FTRACK_STATUS_OK.
    bool ok() const noexcept { return code_ == FTRACK_STATUS_OK; }
    /// Same as ok().
    explicit operator bool() const noexcept { return ok(); }
    /// The status code, e.g. FTRACK_STATUS_NOT_FOUND.
    ftrack_status code() const noexcept { return code_; }
    /// The status name, e.g. "FTRACK_STATUS_NOT_FOUND".
    const char *name() const noexcept { return ftrack_status_name(code_); }
    /// The library's message (empty on success).
    const std::string &message() const noexcept { return message_; }

private:
    ftrack_status code_ = FTRACK_STATUS_OK;
    std::string message_;
};

#if FTRACK_HPP_EXCEPTIONS
/// Thrown by the throwing layer for every status other than FTRACK_STATUS_OK.
class Error : public std::runtime_error {
public:
    /// An error with a status and the library's message.
    Error(ftrack_status status, const std::string &message)
        : std::runtime_error(std::string(ftrack_status_name(status)) + ": " + message),
          status_(status), message_(message) {}
    /// From a failed Status.
    explicit Error(const Status &status) : Error(status.code(), status.message()) {}

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
#endif

namespace detail {

/// This thread's last error message ("" when it cannot be read).
inline std::string last_error_message() noexcept {
    size_t needed = 0;
    char small[256];
    ftrack_status status = ftrack_last_error_message(small, sizeof small, &needed);
    if (status == FTRACK_STATUS_OK) {
        return std::string(small);
    }
    if (status == FTRACK_STATUS_BUFFER_TOO_SMALL) {
        std::string text(needed, '\0');
        if (ftrack_last_error_message(&text[0], text.size(), &needed) == FTRACK_STATUS_OK) {
            text.resize(needed > 0 ? needed - 1 : 0);
            return text;
        }
    }
    return std::string();
}

/// The Status of a C call: OK, or the code with the message read at once.
inline Status status_of(ftrack_status code) noexcept {
    if (code == FTRACK_STATUS_OK) {
        return Status();
    }
    return Status(code, last_error_message());
}

/// What Result::value() does on a failed result: throw, or abort without exceptions.
[[noreturn]] inline void fail(const Status &status) {
#if FTRACK_HPP_EXCEPTIONS
    throw Error(status);
#else
    (void)status;
    std::abort();
#endif
}

} // namespace detail

/// The outcome of an operation that yields a T: a Status and, on success, the value.
template <typename T> class [[nodiscard]] Result {
public:
    /// Success with a value.
    Result(T value) noexcept(std::is_nothrow_move_constructible<T>::value)
        : value_(std::move(value)) {}
    /// Failure (`status` must not be OK).
    Result(Status status) noexcept : status_(std::move(status)) {}

    /// True on success.
    bool ok() const noexcept { return status_.ok(); }
    /// Same as ok().
    explicit operator bool() const noexcept { return ok(); }
    /// The status and message.
    const Status &status() const noexcept { return status_; }
    /// The status code.
    ftrack_status code() const noexcept { return status_.code(); }
    /// The library's message (empty on success).
    const std::string &message() const noexcept { return status_.message(); }

    /// The value; on failure throws Error (or aborts without exceptions).
    T &value() & {
        check();
        return *value_;
    }
    /// The value; on failure throws Error (or aborts without exceptions).
    const T &value() const & {
        check();
        return *value_;
    }
    /// The value, moved out; on failure throws Error (or aborts without exceptions).
    T value() && {
        check();
        return std::move(*value_);
    }
    /// The value, or `fallback` on failure.
    T value_or(T fallback) && { return ok() ? std::move(*value_) : std::move(fallback); }
    /// The value's members; see value().
    T *operator->() { return &value(); }
    /// The value's members; see value().
    const T *operator->() const { return &value(); }
    /// The value; see value().
    T &operator*() & { return value(); }
    /// The value; see value().
    const T &operator*() const & { return value(); }

private:
    void check() const {
        if (!ok()) {
            detail::fail(status_);
        }
    }

    Status status_;
    std::optional<T> value_;
};

/// The outcome of an operation without a value.
template <> class [[nodiscard]] Result<void> {
public:
    /// Success.
    Result() noexcept = default;
    /// The given status.
    Result(Status status) noexcept : status_(std::move(status)) {}

    /// True on success.
    bool ok() const noexcept { return status_.ok(); }
    /// Same as ok().
    explicit operator bool() const noexcept { return ok(); }
    /// The status and message.
    const Status &status() const noexcept { return status_; }
    /// The status code.
    ftrack_status code() const noexcept { return status_.code(); }
    /// The library's message (empty on success).
    const std::string &message() const noexcept { return status_.message(); }
    /// Nothing on success; on failure throws Error (or aborts without exceptions).
    void value() const {
        if (!ok()) {
            detail::fail(status_);
        }
    }

private:
    Status status_;
};

namespace detail {

/// Result<void> of a C call.
inline Result<void> done(ftrack_status code) noexcept { return Result<void>(status_of(code)); }

/// Result<T> of a C call that wrote `value` on success.
template <typename T> Result<T> with(ftrack_status code, T value) {
    if (code != FTRACK_STATUS_OK) {
        return Result<T>(status_of(code));
    }
    return Result<T>(std::move(value));
}

/// Runs a buffer-pattern call `fill(buffer, len, &out_len)`, growing the buffer once.
template <typename Fill> Result<std::string> read_string(Fill fill) {
    std::vector<char> buffer(256);
    size_t needed = 0;
    ftrack_status status = fill(buffer.data(), buffer.size(), &needed);
    if (status == FTRACK_STATUS_BUFFER_TOO_SMALL) {
        buffer.resize(needed);
        status = fill(buffer.data(), buffer.size(), &needed);
    }
    if (status != FTRACK_STATUS_OK) {
        return Result<std::string>(status_of(status));
    }
    return Result<std::string>(std::string(buffer.data(), needed > 0 ? needed - 1 : 0));
}

/// The text of a library-owned string (then freed), or the failure.
inline Result<std::string> take_string(ftrack_status status, ftrack_string *str) {
    std::string text;
    if (str != nullptr) {
        text.assign(ftrack_string_data(str), ftrack_string_len(str));
        ftrack_string_destroy(str);
    }
    if (status != FTRACK_STATUS_OK) {
        return Result<std::string>(status_of(status));
    }
    return Result<std::string>(std::move(text));
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
    T *release() noexcept { return std::exchange(raw_, nullptr); }
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

/// One entity of a session's cache. Owns a handle (not the server entity).
/// Copyable: a copy is a second handle to the same entity, sharing its data.
class Entity {
public:
    /// Takes ownership of a handle from the C API.
    explicit Entity(ftrack_entity *raw) noexcept : handle_(raw) {}
    /// A second handle to the same entity (ftrack_entity_clone). Fails only on
    /// an internal error: throws Error, or aborts without exceptions; use
    /// try_clone() to handle that case.
    Entity(const Entity &other) : handle_(other.raw() ? other.try_clone().value().release() : nullptr) {}
    /// Replaces this handle with a second handle to `other`'s entity.
    Entity &operator=(const Entity &other) {
        if (this != &other) {
            Entity copy(other);
            *this = std::move(copy);
        }
        return *this;
    }
    /// Moves the handle; `other` becomes empty (raw() == nullptr).
    Entity(Entity &&other) noexcept = default;
    /// Moves the handle; `other` becomes empty (raw() == nullptr).
    Entity &operator=(Entity &&other) noexcept = default;

    /// The C handle (still owned by this object).
    ftrack_entity *raw() const noexcept { return handle_.get(); }
    /// Gives up ownership of the C handle (the caller destroys it).
    ftrack_entity *release() noexcept { return handle_.release(); }

    // ---- non-throwing ----

    /// A second handle to the same entity.
    Result<Entity> try_clone() const {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_entity_clone(raw(), &out);
        return detail::with(status, Entity(out));
    }
    /// The entity type, e.g. "User".
    Result<std::string> try_type_name() const {
        return detail::read_string(
            [&](char *b, size_t n, size_t *o) { return ftrack_entity_type_name(raw(), b, n, o); });
    }
    /// The primary key as text.
    Result<std::string> try_id() const {
        return detail::read_string(
            [&](char *b, size_t n, size_t *o) { return ftrack_entity_id(raw(), b, n, o); });
    }
    /// A text attribute.
    Result<std::string> try_get_string(const std::string &attribute) const {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_entity_get_string(raw(), attribute.c_str(), b, n, o);
        });
    }
    /// Any attribute as JSON text (wire encoding).
    Result<std::string> try_get_json(const std::string &attribute) const {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_entity_get_json(raw(), attribute.c_str(), b, n, o);
        });
    }
    /// A boolean attribute.
    Result<bool> try_get_bool(const std::string &attribute) const {
        bool value = false;
        ftrack_status status = ftrack_entity_get_bool(raw(), attribute.c_str(), &value);
        return detail::with(status, value);
    }
    /// An integer attribute.
    Result<std::int64_t> try_get_int64(const std::string &attribute) const {
        std::int64_t value = 0;
        ftrack_status status = ftrack_entity_get_int64(raw(), attribute.c_str(), &value);
        return detail::with(status, value);
    }
    /// A number attribute.
    Result<double> try_get_double(const std::string &attribute) const {
        double value = 0.0;
        ftrack_status status = ftrack_entity_get_double(raw(), attribute.c_str(), &value);
        return detail::with(status, value);
    }
    /// A datetime attribute.
    Result<DateTime> try_get_datetime(const std::string &attribute) const {
        std::int64_t micros = 0;
        ftrack_status status = ftrack_entity_get_datetime(raw(), attribute.c_str(), &micros);
        return detail::with(status, DateTime(std::chrono::microseconds(micros)));
    }
    /// Whether an attribute is null.
    Result<bool> try_is_null(const std::string &attribute) const {
        bool value = false;
        ftrack_status status = ftrack_entity_is_null(raw(), attribute.c_str(), &value);
        return detail::with(status, value);
    }
    /// The referenced entity, or std::nullopt for a null reference.
    Result<std::optional<Entity>> try_get_entity(const std::string &attribute) const {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_entity_get_entity(raw(), attribute.c_str(), &out);
        if (status != FTRACK_STATUS_OK) {
            return Result<std::optional<Entity>>(detail::status_of(status));
        }
        if (out == nullptr) {
            return Result<std::optional<Entity>>(std::optional<Entity>());
        }
        return Result<std::optional<Entity>>(std::optional<Entity>(Entity(out)));
    }
    /// A collection attribute, as a snapshot list.
    inline Result<EntityList> try_get_list(const std::string &attribute) const;

    /// Sets a text attribute (recorded; sent by commit).
    Result<void> try_set_string(const std::string &attribute, const std::string &value) {
        return detail::done(ftrack_entity_set_string(raw(), attribute.c_str(), value.c_str()));
    }
    /// Sets a boolean attribute.
    Result<void> try_set_bool(const std::string &attribute, bool value) {
        return detail::done(ftrack_entity_set_bool(raw(), attribute.c_str(), value));
    }
    /// Sets an integer attribute.
    Result<void> try_set_int64(const std::string &attribute, std::int64_t value) {
        return detail::done(ftrack_entity_set_int64(raw(), attribute.c_str(), value));
    }
    /// Sets a number attribute.
    Result<void> try_set_double(const std::string &attribute, double value) {
        return detail::done(ftrack_entity_set_double(raw(), attribute.c_str(), value));
    }
    /// Sets a datetime attribute (any system_clock time point; kept to the microsecond).
    template <typename Duration>
    Result<void> try_set_datetime(const std::string &attribute,
                                  std::chrono::time_point<std::chrono::system_clock, Duration> when) {
        const auto micros =
            std::chrono::duration_cast<std::chrono::microseconds>(when.time_since_epoch()).count();
        return detail::done(
            ftrack_entity_set_datetime(raw(), attribute.c_str(), static_cast<std::int64_t>(micros)));
    }
    /// Sets an attribute to null.
    Result<void> try_set_null(const std::string &attribute) {
        return detail::done(ftrack_entity_set_null(raw(), attribute.c_str()));
    }
    /// Sets a reference attribute.
    Result<void> try_set_entity(const std::string &attribute, const Entity &value) {
        return detail::done(ftrack_entity_set_entity(raw(), attribute.c_str(), value.raw()));
    }
    /// Sets an attribute from JSON text.
    Result<void> try_set_json(const std::string &attribute, const std::string &json) {
        return detail::done(ftrack_entity_set_json(raw(), attribute.c_str(), json.c_str()));
    }
    /// Appends to a collection attribute.
    Result<void> try_append(const std::string &attribute, const Entity &item) {
        return detail::done(ftrack_entity_collection_append(raw(), attribute.c_str(), item.raw()));
    }
    /// Removes from a collection attribute.
    Result<void> try_remove(const std::string &attribute, const Entity &item) {
        return detail::done(ftrack_entity_collection_remove(raw(), attribute.c_str(), item.raw()));
    }

#if FTRACK_HPP_EXCEPTIONS
    // ---- throwing: each is its try_ form's value() ----

    /// See try_clone().
    Entity clone() const { return try_clone().value(); }
    /// See try_type_name().
    std::string type_name() const { return try_type_name().value(); }
    /// See try_id().
    std::string id() const { return try_id().value(); }
    /// See try_get_string().
    std::string get_string(const std::string &attribute) const {
        return try_get_string(attribute).value();
    }
    /// See try_get_json().
    std::string get_json(const std::string &attribute) const {
        return try_get_json(attribute).value();
    }
    /// See try_get_bool().
    bool get_bool(const std::string &attribute) const { return try_get_bool(attribute).value(); }
    /// See try_get_int64().
    std::int64_t get_int64(const std::string &attribute) const {
        return try_get_int64(attribute).value();
    }
    /// See try_get_double().
    double get_double(const std::string &attribute) const {
        return try_get_double(attribute).value();
    }
    /// See try_get_datetime().
    DateTime get_datetime(const std::string &attribute) const {
        return try_get_datetime(attribute).value();
    }
    /// See try_is_null().
    bool is_null(const std::string &attribute) const { return try_is_null(attribute).value(); }
    /// See try_get_entity().
    std::optional<Entity> get_entity(const std::string &attribute) const {
        return try_get_entity(attribute).value();
    }
    /// See try_get_list().
    inline EntityList get_list(const std::string &attribute) const;
    /// See try_set_string().
    void set_string(const std::string &attribute, const std::string &value) {
        try_set_string(attribute, value).value();
    }
    /// See try_set_bool().
    void set_bool(const std::string &attribute, bool value) {
        try_set_bool(attribute, value).value();
    }
    /// See try_set_int64().
    void set_int64(const std::string &attribute, std::int64_t value) {
        try_set_int64(attribute, value).value();
    }
    /// See try_set_double().
    void set_double(const std::string &attribute, double value) {
        try_set_double(attribute, value).value();
    }
    /// See try_set_datetime().
    template <typename Duration>
    void set_datetime(const std::string &attribute,
                      std::chrono::time_point<std::chrono::system_clock, Duration> when) {
        try_set_datetime(attribute, when).value();
    }
    /// See try_set_null().
    void set_null(const std::string &attribute) { try_set_null(attribute).value(); }
    /// See try_set_entity().
    void set_entity(const std::string &attribute, const Entity &value) {
        try_set_entity(attribute, value).value();
    }
    /// See try_set_json().
    void set_json(const std::string &attribute, const std::string &json) {
        try_set_json(attribute, json).value();
    }
    /// See try_append().
    void append(const std::string &attribute, const Entity &item) {
        try_append(attribute, item).value();
    }
    /// See try_remove().
    void remove(const std::string &attribute, const Entity &item) {
        try_remove(attribute, item).value();
    }
#endif

private:
    detail::Owner<ftrack_entity, ftrack_entity_destroy> handle_;
};

/// An immutable list of entities; reading an element returns a new Entity.
class EntityList {
public:
    /// Takes ownership of a handle from the C API.
    explicit EntityList(ftrack_entity_list *raw) noexcept : handle_(raw) {}

    /// The C handle (still owned by this object).
    ftrack_entity_list *raw() const noexcept { return handle_.get(); }
    /// Number of entities.
    std::size_t size() const noexcept { return ftrack_entity_list_len(raw()); }
    /// True when there are none.
    bool empty() const noexcept { return size() == 0; }

    /// The entity at `index` (FTRACK_STATUS_INVALID_ARGUMENT past the end).
    Result<Entity> try_at(std::size_t index) const {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_entity_list_get(raw(), index, &out);
        return detail::with(status, Entity(out));
    }
#if FTRACK_HPP_EXCEPTIONS
    /// See try_at().
    Entity at(std::size_t index) const { return try_at(index).value(); }
#endif
    /// The entity at `index`; the index must be valid (else: Result::value()'s
    /// failure: throws, or aborts without exceptions).
    Entity operator[](std::size_t index) const { return try_at(index).value(); }

    /// A random-access iterator yielding Entity values (C++17: an input iterator
    /// by category, since it yields values, not references; C++20: a random-access
    /// iterator by concept). Valid while the list lives.
    class iterator {
    public:
        using iterator_category = std::input_iterator_tag;
#if __cplusplus >= 202002L
        using iterator_concept = std::random_access_iterator_tag;
#endif
        using value_type = Entity;
        using difference_type = std::ptrdiff_t;
        using pointer = void;
        using reference = Entity;

        iterator() noexcept = default;
        iterator(const EntityList *list, std::size_t index) noexcept : list_(list), index_(index) {}

        Entity operator*() const { return (*list_)[index_]; }
        Entity operator[](difference_type n) const { return *(*this + n); }

        iterator &operator++() noexcept {
            ++index_;
            return *this;
        }
        iterator operator++(int) noexcept {
            iterator old = *this;
            ++index_;
            return old;
        }
        iterator &operator--() noexcept {
            --index_;
            return *this;
        }
        iterator operator--(int) noexcept {
            iterator old = *this;
            --index_;
            return old;
        }
        iterator &operator+=(difference_type n) noexcept {
            index_ = static_cast<std::size_t>(static_cast<difference_type>(index_) + n);
            return *this;
        }
        iterator &operator-=(difference_type n) noexcept { return *this += -n; }
        friend iterator operator+(iterator it, difference_type n) noexcept { return it += n; }
        friend iterator operator+(difference_type n, iterator it) noexcept { return it += n; }
        friend iterator operator-(iterator it, difference_type n) noexcept { return it -= n; }
        friend difference_type operator-(const iterator &a, const iterator &b) noexcept {
            return static_cast<difference_type>(a.index_) - static_cast<difference_type>(b.index_);
        }
        friend bool operator==(const iterator &a, const iterator &b) noexcept {
            return a.list_ == b.list_ && a.index_ == b.index_;
        }
        friend bool operator!=(const iterator &a, const iterator &b) noexcept { return !(a == b); }
        friend bool operator<(const iterator &a, const iterator &b) noexcept {
            return a.index_ < b.index_;
        }
        friend bool operator>(const iterator &a, const iterator &b) noexcept { return b < a; }
        friend bool operator<=(const iterator &a, const iterator &b) noexcept { return !(b < a); }
        friend bool operator>=(const iterator &a, const iterator &b) noexcept { return !(a < b); }

    private:
        const EntityList *list_ = nullptr;
        std::size_t index_ = 0;
    };
    /// The iterator type (the list is immutable).
    using const_iterator = iterator;

    /// First element.
    iterator begin() const noexcept { return iterator(this, 0); }
    /// Past the last element.
    iterator end() const noexcept { return iterator(this, size()); }

    /// Every entity, as a vector.
    Result<std::vector<Entity>> try_to_vector() const {
        std::vector<Entity> out;
        out.reserve(size());
        for (std::size_t i = 0; i < size(); ++i) {
            Result<Entity> item = try_at(i);
            if (!item) {
                return Result<std::vector<Entity>>(item.status());
            }
            out.push_back(std::move(item).value());
        }
        return Result<std::vector<Entity>>(std::move(out));
    }

private:
    detail::Owner<ftrack_entity_list, ftrack_entity_list_destroy> handle_;
};

inline Result<EntityList> Entity::try_get_list(const std::string &attribute) const {
    ftrack_entity_list *out = nullptr;
    ftrack_status status = ftrack_entity_get_list(raw(), attribute.c_str(), &out);
    return detail::with(status, EntityList(out));
}
#if FTRACK_HPP_EXCEPTIONS
inline EntityList Entity::get_list(const std::string &attribute) const {
    return try_get_list(attribute).value();
}
#endif

/// Session options (builder); setters return *this for chaining.
///
/// Setters never fail silently: the first failing one is kept (status()) and
/// Session::try_create(options) returns it without connecting. With exceptions
/// enabled a failing setter also throws Error at once.
class SessionOptions {
public:
    /// Empty options (defaults and the FTRACK_* environment apply).
    SessionOptions() {
        ftrack_session_options *out = nullptr;
        apply(ftrack_session_options_create(&out));
        handle_ = Handle(out);
    }

    /// The C handle (still owned by this object).
    const ftrack_session_options *raw() const noexcept { return handle_.get(); }
    /// OK, or the first setter's failure.
    const Status &status() const noexcept { return first_error_; }

    /// Server URL.
    SessionOptions &server_url(const std::string &v) {
        return apply(ftrack_session_options_set_server_url(handle_.get(), v.c_str()));
    }
    /// API key.
    SessionOptions &api_key(const std::string &v) {
        return apply(ftrack_session_options_set_api_key(handle_.get(), v.c_str()));
    }
    /// API user.
    SessionOptions &api_user(const std::string &v) {
        return apply(ftrack_session_options_set_api_user(handle_.get(), v.c_str()));
    }
    /// Request timeout in milliseconds (not 0).
    SessionOptions &timeout_ms(std::uint64_t v) {
        return apply(ftrack_session_options_set_timeout_ms(handle_.get(), v));
    }
    /// Request timeout.
    template <typename Rep, typename Period>
    SessionOptions &timeout(std::chrono::duration<Rep, Period> v) {
        return timeout_ms(static_cast<std::uint64_t>(
            std::chrono::duration_cast<std::chrono::milliseconds>(v).count()));
    }
    /// An extra HTTP header.
    SessionOptions &header(const std::string &name, const std::string &value) {
        return apply(ftrack_session_options_add_header(handle_.get(), name.c_str(), value.c_str()));
    }
    /// An extra cookie.
    SessionOptions &cookie(const std::string &name, const std::string &value) {
        return apply(ftrack_session_options_add_cookie(handle_.get(), name.c_str(), value.c_str()));
    }
    /// Strict API mode.
    SessionOptions &strict_api(bool v) {
        return apply(ftrack_session_options_set_strict_api(handle_.get(), v));
    }
    /// Auto-populate unloaded attributes.
    SessionOptions &auto_populate(bool v) {
        return apply(ftrack_session_options_set_auto_populate(handle_.get(), v));
    }
    /// Idempotent role changes.
    SessionOptions &idempotent_role_changes(bool v) {
        return apply(ftrack_session_options_set_idempotent_role_changes(handle_.get(), v));
    }
    /// Record operations until commit.
    SessionOptions &record_operations(bool v) {
        return apply(ftrack_session_options_set_record_operations(handle_.get(), v));
    }
    /// Schema cache file.
    SessionOptions &schema_cache_path(const std::string &v) {
        return apply(ftrack_session_options_set_schema_cache_path(handle_.get(), v.c_str()));
    }
    /// No schema cache.
    SessionOptions &disable_schema_cache() {
        return apply(ftrack_session_options_disable_schema_cache(handle_.get()));
    }
    /// Query page size.
    SessionOptions &page_size(std::size_t v) {
        return apply(ftrack_session_options_set_page_size(handle_.get(), v));
    }
    /// Page requests of one query on the wire at once (default 4).
    SessionOptions &max_concurrent_pages(std::size_t v) {
        return apply(ftrack_session_options_set_max_concurrent_pages(handle_.get(), v));
    }
    /// Attempts per request.
    SessionOptions &max_attempts(std::uint32_t v) {
        return apply(ftrack_session_options_set_max_attempts(handle_.get(), v));
    }
    /// Delay between attempts in milliseconds.
    SessionOptions &retry_delay_ms(std::uint64_t v) {
        return apply(ftrack_session_options_set_retry_delay_ms(handle_.get(), v));
    }
    /// CA bundle file.
    SessionOptions &ca_bundle_path(const std::string &v) {
        return apply(ftrack_session_options_set_ca_bundle_path(handle_.get(), v.c_str()));
    }
    /// Persistent cache file.
    SessionOptions &persistent_cache_path(const std::string &v) {
        return apply(ftrack_session_options_set_persistent_cache_path(handle_.get(), v.c_str()));
    }
    /// How long establishing a connection may take.
    SessionOptions &connect_timeout_ms(std::uint64_t v) {
        return apply(ftrack_session_options_set_connect_timeout_ms(handle_.get(), v));
    }
    /// The longest one request may take, whatever its phases.
    SessionOptions &request_deadline_ms(std::uint64_t v) {
        return apply(ftrack_session_options_set_request_deadline_ms(handle_.get(), v));
    }
    /// The largest reply accepted, in bytes.
    SessionOptions &max_reply_bytes(std::uint64_t v) {
        return apply(ftrack_session_options_set_max_reply_bytes(handle_.get(), v));
    }
    /// Allows plain http:// to other hosts (the API key then travels in clear text).
    SessionOptions &allow_insecure_http(bool v) {
        return apply(ftrack_session_options_set_allow_insecure_http(handle_.get(), v));
    }
    /// Log lines of `level` and more severe, from session start-up on, go to
    /// `callback(user_data, level, message)` (see ftrack_session_options_set_logger).
    SessionOptions &logger(ftrack_log_level level, ftrack_log_fn callback, void *user_data) {
        return apply(ftrack_session_options_set_logger(handle_.get(),
                                                       static_cast<std::uint32_t>(level),
                                                       callback, user_data));
    }

    /// Scope of roles appended through User.security_roles (default false: no project).
    SessionOptions &security_roles_all_open_projects(bool v) {
        return apply(
            ftrack_session_options_set_security_roles_all_open_projects(handle_.get(), v));
    }

private:
    SessionOptions &apply(ftrack_status code) {
        if (code != FTRACK_STATUS_OK) {
            Status failure = detail::status_of(code);
            if (first_error_.ok()) {
                first_error_ = failure;
            }
#if FTRACK_HPP_EXCEPTIONS
            throw Error(failure);
#endif
        }
        return *this;
    }

    using Handle = detail::Owner<ftrack_session_options, ftrack_session_options_destroy>;
    Handle handle_;
    Status first_error_;
};

/// A lazy query result: one request per page, nothing sent before the first. Move-only.
class QueryCursor {
public:
    /// Takes ownership of a handle from the C API.
    explicit QueryCursor(ftrack_query_cursor *raw) noexcept : handle_(raw) {}
    /// The C handle (still owned by this object).
    ftrack_query_cursor *raw() const noexcept { return handle_.get(); }
    /// The next page, or std::nullopt when every page has been read (one request).
    Result<std::optional<EntityList>> try_next_page() {
        ftrack_entity_list *out = nullptr;
        ftrack_status status = ftrack_query_cursor_next_page(raw(), &out);
        if (status != FTRACK_STATUS_OK) {
            return Result<std::optional<EntityList>>(detail::status_of(status));
        }
        if (out == nullptr) {
            return Result<std::optional<EntityList>>(std::optional<EntityList>());
        }
        return Result<std::optional<EntityList>>(std::optional<EntityList>(EntityList(out)));
    }
#if FTRACK_HPP_EXCEPTIONS
    /// See try_next_page().
    std::optional<EntityList> next_page() { return try_next_page().value(); }
#endif

private:
    detail::Owner<ftrack_query_cursor, ftrack_query_cursor_destroy> handle_;
};

class Event;
/// A subscriber's handler (see try_event_hub_subscribe), or a reply handler
/// (see try_event_hub_publish_event): return 0 when handled.
using EventHandler = std::function<int(Event &)>;

namespace detail {
/// Reply handlers (try_event_hub_publish_event) kept per session, as the
/// library keeps the callbacks of the latest 10000 events: past it the oldest
/// is forgotten (its later replies are not handled).
constexpr std::size_t max_reply_handlers = 10000;

/// The event handlers (subscribers and reply handlers) registered through this
/// header. The library gets a handler's address as user_data; the trampoline
/// looks it up here and runs a shared copy, so a handler that unsubscribes
/// itself while it runs is destroyed only once that call returned, and one
/// forgotten here (a reply handler past the bound) is skipped. The library
/// guarantees the rest: once ftrack_event_hub_unsubscribe or
/// ftrack_session_destroy returned, the handlers they removed are not running
/// on another thread and are never called again, so freeing them then is safe.
struct EventHandlers {
    std::mutex mutex;
    std::map<const void *, std::shared_ptr<EventHandler>> by_address;
    /// (session, subscriber id) -> address: ids are unique per session only.
    std::map<std::pair<const ftrack_session *, std::string>, const void *> by_id;
    /// Each session's reply handlers, oldest first (at most max_reply_handlers).
    std::map<const ftrack_session *, std::deque<const void *>> replies;

    /// Removes the subscribers `reject` selects and returns their handlers, to
    /// be destroyed after the lock is released (a handler's captures may call
    /// back into this header).
    template <typename Reject> std::vector<std::shared_ptr<EventHandler>> remove_if(Reject reject) {
        std::vector<std::shared_ptr<EventHandler>> doomed;
        std::lock_guard<std::mutex> lock(mutex);
        for (auto it = by_id.begin(); it != by_id.end();) {
            if (reject(it->first)) {
                take(it->second, doomed);
                it = by_id.erase(it);
            } else {
                ++it;
            }
        }
        return doomed;
    }
    /// Removes every handler of `session`, subscribers and reply handlers;
    /// returns them, as remove_if.
    std::vector<std::shared_ptr<EventHandler>> forget(const ftrack_session *session) {
        std::vector<std::shared_ptr<EventHandler>> doomed = remove_if(
            [session](const std::pair<const ftrack_session *, std::string> &key) { return key.first == session; });
        std::lock_guard<std::mutex> lock(mutex);
        auto found = replies.find(session);
        if (found != replies.end()) {
            for (const void *address : found->second) {
                take(address, doomed);
            }
            replies.erase(found);
        }
        return doomed;
    }
    /// Moves the handler at `address` out of by_address (the lock is held).
    void take(const void *address, std::vector<std::shared_ptr<EventHandler>> &doomed) {
        auto found = by_address.find(address);
        if (found != by_address.end()) {
            doomed.push_back(std::move(found->second));
            by_address.erase(found);
        }
    }
};
/// The one registry (never destroyed: a library thread may still look a
/// handler up while the process exits).
inline EventHandlers &event_handlers() {
    static EventHandlers *handlers = new EventHandlers();
    return *handlers;
}
/// Forgets the event handlers of a session, destroys the handle (which waits
/// until none of its callbacks runs on another thread), then frees the
/// handlers. Forgetting first: once destroyed, the address may be reused by a
/// new session, whose handlers must stay.
inline void destroy_session(ftrack_session *session) {
    std::vector<std::shared_ptr<EventHandler>> doomed = event_handlers().forget(session);
    ftrack_session_destroy(session);
}
} // namespace detail

/// A connection to an ftrack server (see ftrack_session in ftrack.h). Move-only.
/// Destroying it also frees the event handlers subscribed on it.
class Session {
public:
    /// Takes ownership of a handle from the C API.
    explicit Session(ftrack_session *raw) noexcept : handle_(raw) {}

    // ---- non-throwing ----

    /// Connects with explicit values; an empty std::optional reads the environment.
    static Result<Session> try_create(const std::optional<std::string> &server_url,
                                      const std::optional<std::string> &api_key,
                                      const std::optional<std::string> &api_user) {
        ftrack_session *out = nullptr;
        ftrack_status status = ftrack_session_create(server_url ? server_url->c_str() : nullptr,
                                                     api_key ? api_key->c_str() : nullptr,
                                                     api_user ? api_user->c_str() : nullptr, &out);
        return detail::with(status, Session(out));
    }
    /// Connects with options (which are copied); a failed setter's status is returned.
    static Result<Session> try_create(const SessionOptions &options) {
        if (!options.status().ok()) {
            return Result<Session>(options.status());
        }
        ftrack_session *out = nullptr;
        ftrack_status status = ftrack_session_create_with_options(options.raw(), &out);
        return detail::with(status, Session(out));
    }
    /// Connects using FTRACK_SERVER, FTRACK_API_KEY and FTRACK_API_USER.
    static Result<Session> try_from_environment() {
        return try_create(std::nullopt, std::nullopt, std::nullopt);
    }

    /// The C handle (still owned by this object).
    ftrack_session *raw() const noexcept { return handle_.get(); }

    /// Runs a query.
    Result<EntityList> try_query(const std::string &expression) {
        ftrack_entity_list *out = nullptr;
        ftrack_status status = ftrack_session_query(raw(), expression.c_str(), &out);
        return detail::with(status, EntityList(out));
    }
    /// The first match, or std::nullopt when nothing matches.
    Result<std::optional<Entity>> try_query_first(const std::string &expression) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_session_query_first(raw(), expression.c_str(), &out);
        if (status == FTRACK_STATUS_NOT_FOUND) {
            return Result<std::optional<Entity>>(std::optional<Entity>());
        }
        if (status != FTRACK_STATUS_OK) {
            return Result<std::optional<Entity>>(detail::status_of(status));
        }
        return Result<std::optional<Entity>>(std::optional<Entity>(Entity(out)));
    }
    /// Exactly one match (FTRACK_STATUS_NOT_FOUND / FTRACK_STATUS_MULTIPLE_RESULTS).
    Result<Entity> try_query_one(const std::string &expression) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_session_query_one(raw(), expression.c_str(), &out);
        return detail::with(status, Entity(out));
    }
    /// Creates an entity (recorded; sent by commit).
    Result<Entity> try_create_entity(const std::string &entity_type,
                                     const std::string &data_json = "{}") {
        ftrack_entity *out = nullptr;
        ftrack_status status =
            ftrack_session_create_entity(raw(), entity_type.c_str(), data_json.c_str(), &out);
        return detail::with(status, Entity(out));
    }
    /// Deletes an entity (recorded; sent by commit).
    Result<void> try_delete_entity(const Entity &entity) {
        return detail::done(ftrack_session_delete_entity(raw(), entity.raw()));
    }
    /// Sends the recorded operations as one atomic batch.
    Result<void> try_commit() { return detail::done(ftrack_session_commit(raw())); }
    /// Drops the recorded operations.
    Result<void> try_rollback() { return detail::done(ftrack_session_rollback(raw())); }
    /// Number of recorded operations.
    Result<std::size_t> try_pending_count() {
        std::size_t count = 0;
        ftrack_status status = ftrack_session_pending_count(raw(), &count);
        return detail::with(status, count);
    }
    /// The recorded operations as JSON.
    Result<std::string> try_pending_json() {
        ftrack_string *out = nullptr;
        ftrack_status status = ftrack_session_pending_json_string(raw(), &out);
        return detail::take_string(status, out);
    }
    /// Sends a raw batch once and returns the whole answer.
    Result<std::string> try_call(const std::string &batch_json) {
        ftrack_string *out = nullptr;
        ftrack_status status = ftrack_session_call_string(raw(), batch_json.c_str(), &out);
        return detail::take_string(status, out);
    }

    // the ftrack_api-shaped surface (issue 8)

    /// The entity with this id (cache first), or std::nullopt when there is none.
    Result<std::optional<Entity>> try_get(const std::string &entity_type, const std::string &id) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_session_get(raw(), entity_type.c_str(), id.c_str(), &out);
        if (status == FTRACK_STATUS_NOT_FOUND) {
            return Result<std::optional<Entity>>(std::optional<Entity>());
        }
        if (status != FTRACK_STATUS_OK) {
            return Result<std::optional<Entity>>(detail::status_of(status));
        }
        return Result<std::optional<Entity>>(std::optional<Entity>(Entity(out)));
    }
    /// Gets or creates (and commits) by identifying keys (a JSON array; none = all keys).
    Result<Entity> try_ensure(const std::string &entity_type, const std::string &data_json,
                              const std::optional<std::string> &identifying_keys_json = std::nullopt) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_session_ensure(
            raw(), entity_type.c_str(), data_json.c_str(),
            identifying_keys_json ? identifying_keys_json->c_str() : nullptr, &out);
        return detail::with(status, Entity(out));
    }
    /// Loads projections for the entities, one query per type.
    Result<void> try_populate(const std::vector<const Entity *> &entities,
                              const std::string &projections) {
        std::vector<const ftrack_entity *> raws;
        for (const Entity *e : entities) {
            raws.push_back(e->raw());
        }
        return detail::done(
            ftrack_session_populate(raw(), raws.data(), raws.size(), projections.c_str()));
    }
    /// Clears the cache and the recorded operations.
    Result<void> try_reset() { return detail::done(ftrack_session_reset(raw())); }
    /// A lazy result; page_size 0 uses the session's page size.
    Result<QueryCursor> try_query_cursor(const std::string &expression, std::size_t page_size = 0) {
        ftrack_query_cursor *out = nullptr;
        ftrack_status status =
            ftrack_session_query_cursor(raw(), expression.c_str(), page_size, &out);
        return detail::with(status, QueryCursor(out));
    }
    /// Turns auto-populate on or off.
    Result<void> try_set_auto_populate(bool on) {
        return detail::done(ftrack_session_set_auto_populate(raw(), on));
    }
    /// Whether auto-populate is on.
    Result<bool> try_auto_populate() {
        bool on = false;
        ftrack_status status = ftrack_session_get_auto_populate(raw(), &on);
        return detail::with(status, on);
    }
    /// Turns operation recording on or off.
    Result<void> try_set_record_operations(bool on) {
        return detail::done(ftrack_session_set_record_operations(raw(), on));
    }
    /// Whether operation recording is on.
    Result<bool> try_record_operations() {
        bool on = false;
        ftrack_status status = ftrack_session_get_record_operations(raw(), &on);
        return detail::with(status, on);
    }
    /// The recorded operations as JSON (see ftrack_session_recorded_operations_json).
    Result<std::string> try_recorded_operations_json() {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_session_recorded_operations_json(raw(), b, n, o);
        });
    }
    /// The schema of one type as JSON, derived collections marked.
    Result<std::string> try_entity_schema_json(const std::string &entity_type) {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_session_entity_schema_json(raw(), entity_type.c_str(), b, n, o);
        });
    }
    /// The entity type names as a JSON array.
    Result<std::string> try_entity_types_json() {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_session_entity_types_json(raw(), b, n, o);
        });
    }

    // security roles; changes are recorded and sent by commit

    /// Security roles, optionally of one type ("PROJECT", "ASSIGNED", "API").
    Result<EntityList> try_security_roles(const std::optional<std::string> &type = std::nullopt) {
        ftrack_entity_list *out = nullptr;
        ftrack_status status = ftrack_security_roles(raw(), type ? type->c_str() : nullptr, &out);
        return detail::with(status, EntityList(out));
    }
    /// The security role with this name (FTRACK_STATUS_NOT_FOUND).
    Result<Entity> try_find_security_role(const std::string &name) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_security_role_find(raw(), name.c_str(), &out);
        return detail::with(status, Entity(out));
    }
    /// The user with this username (FTRACK_STATUS_NOT_FOUND).
    Result<Entity> try_find_user(const std::string &username) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_user_find(raw(), username.c_str(), &out);
        return detail::with(status, Entity(out));
    }
    /// The project with this (short) name (FTRACK_STATUS_NOT_FOUND).
    Result<Entity> try_find_project(const std::string &name) {
        ftrack_entity *out = nullptr;
        ftrack_status status = ftrack_project_find(raw(), name.c_str(), &out);
        return detail::with(status, Entity(out));
    }
    /// Users matching a query condition (nullopt: all) with their roles loaded by
    /// one paged query, so role changes to them validate without a request each.
    Result<EntityList> try_users(const std::optional<std::string> &criteria = std::nullopt) {
        ftrack_entity_list *out = nullptr;
        ftrack_status status = ftrack_users(raw(), criteria ? criteria->c_str() : nullptr, &out);
        return detail::with(status, EntityList(out));
    }
    /// The user's UserSecurityRole entities with role and granted projects loaded.
    Result<EntityList> try_user_security_roles(const Entity &user) {
        ftrack_entity_list *out = nullptr;
        ftrack_status status = ftrack_user_security_roles(raw(), user.raw(), &out);
        return detail::with(status, EntityList(out));
    }
    /// Gives the user a role (on all open projects, or on granted ones only).
    Result<void> try_role_append(const Entity &user, const Entity &role, bool all_open_projects) {
        return detail::done(
            ftrack_user_role_append(raw(), user.raw(), role.raw(), all_open_projects));
    }
    /// Takes a role from the user.
    Result<void> try_role_remove(const Entity &user, const Entity &role) {
        return detail::done(ftrack_user_role_remove(raw(), user.raw(), role.raw()));
    }
    /// Replaces one of the user's roles with another.
    Result<void> try_role_replace(const Entity &user, const Entity &old_role,
                                  const Entity &new_role) {
        return detail::done(
            ftrack_user_role_replace(raw(), user.raw(), old_role.raw(), new_role.raw()));
    }
    /// Grants a project to the user's role.
    Result<void> try_grant_project(const Entity &user, const Entity &role, const Entity &project) {
        return detail::done(
            ftrack_user_role_grant_project(raw(), user.raw(), role.raw(), project.raw()));
    }
    /// Revokes a project from the user's role.
    Result<void> try_revoke_project(const Entity &user, const Entity &role, const Entity &project) {
        return detail::done(
            ftrack_user_role_revoke_project(raw(), user.raw(), role.raw(), project.raw()));
    }
    /// Makes this session's in-flight call, on any thread, return
    /// FTRACK_STATUS_CANCELLED (see ftrack_session_cancel).
    Result<void> try_cancel() { return detail::done(ftrack_session_cancel(raw())); }
    /// Sends this session's log lines of `level` and more severe to `callback`
    /// (NULL stops logging).
    Result<void> try_set_logger(ftrack_log_level level, ftrack_log_fn callback, void *user_data) {
        return detail::done(ftrack_session_set_logger(raw(), static_cast<std::uint32_t>(level),
                                                      callback, user_data));
    }
    /// Reports long operations' progress to `callback`, which returns non-zero to
    /// cancel (NULL stops reporting).
    Result<void> try_set_progress(ftrack_progress_fn callback, void *user_data) {
        return detail::done(ftrack_session_set_progress(raw(), callback, user_data));
    }
    /// Every user x role x scope as a JSON array (see ftrack_security_role_audit_json),
    /// read once.
    Result<std::string> try_security_role_audit_json() {
        ftrack_string *out = nullptr;
        ftrack_status status = ftrack_security_role_audit_json_string(raw(), &out);
        return detail::take_string(status, out);
    }

#if FTRACK_HPP_EXCEPTIONS
    // ---- throwing: each is its try_ form's value() ----

    /// See try_create().
    Session(const std::optional<std::string> &server_url, const std::optional<std::string> &api_key,
            const std::optional<std::string> &api_user)
        : Session(try_create(server_url, api_key, api_user).value()) {}
    /// See try_create(const SessionOptions &).
    explicit Session(const SessionOptions &options) : Session(try_create(options).value()) {}
    /// See try_from_environment().
    static Session from_environment() { return try_from_environment().value(); }

    /// See try_query().
    EntityList query(const std::string &expression) { return try_query(expression).value(); }
    /// See try_query_first().
    std::optional<Entity> query_first(const std::string &expression) {
        return try_query_first(expression).value();
    }
    /// See try_query_one().
    Entity query_one(const std::string &expression) { return try_query_one(expression).value(); }
    /// See try_create_entity().
    Entity create(const std::string &entity_type, const std::string &data_json = "{}") {
        return try_create_entity(entity_type, data_json).value();
    }
    /// See try_delete_entity().
    void delete_entity(const Entity &entity) { try_delete_entity(entity).value(); }
    /// See try_commit().
    void commit() { try_commit().value(); }
    /// See try_rollback().
    void rollback() { try_rollback().value(); }
    /// See try_pending_count().
    std::size_t pending_count() { return try_pending_count().value(); }
    /// See try_pending_json().
    std::string pending_json() { return try_pending_json().value(); }
    /// See try_call().
    std::string call(const std::string &batch_json) { return try_call(batch_json).value(); }
    /// See try_security_roles().
    EntityList security_roles(const std::optional<std::string> &type = std::nullopt) {
        return try_security_roles(type).value();
    }
    /// See try_find_security_role().
    Entity find_security_role(const std::string &name) {
        return try_find_security_role(name).value();
    }
    /// See try_find_user().
    Entity find_user(const std::string &username) { return try_find_user(username).value(); }
    /// See try_find_project().
    Entity find_project(const std::string &name) { return try_find_project(name).value(); }
    /// See try_users().
    EntityList users(const std::optional<std::string> &criteria = std::nullopt) {
        return try_users(criteria).value();
    }
    /// See try_user_security_roles().
    EntityList user_security_roles(const Entity &user) {
        return try_user_security_roles(user).value();
    }
    /// See try_role_append().
    void role_append(const Entity &user, const Entity &role, bool all_open_projects) {
        try_role_append(user, role, all_open_projects).value();
    }
    /// See try_role_remove().
    void role_remove(const Entity &user, const Entity &role) {
        try_role_remove(user, role).value();
    }
    /// See try_role_replace().
    void role_replace(const Entity &user, const Entity &old_role, const Entity &new_role) {
        try_role_replace(user, old_role, new_role).value();
    }
    /// See try_grant_project().
    void grant_project(const Entity &user, const Entity &role, const Entity &project) {
        try_grant_project(user, role, project).value();
    }
    /// See try_revoke_project().
    void revoke_project(const Entity &user, const Entity &role, const Entity &project) {
        try_revoke_project(user, role, project).value();
    }
    /// See try_security_role_audit_json().
    std::string security_role_audit_json() { return try_security_role_audit_json().value(); }
    /// See try_get().
    std::optional<Entity> get(const std::string &entity_type, const std::string &id) {
        return try_get(entity_type, id).value();
    }
    /// See try_ensure().
    Entity ensure(const std::string &entity_type, const std::string &data_json,
                  const std::optional<std::string> &identifying_keys_json = std::nullopt) {
        return try_ensure(entity_type, data_json, identifying_keys_json).value();
    }
    /// See try_populate().
    void populate(const std::vector<const Entity *> &entities, const std::string &projections) {
        try_populate(entities, projections).value();
    }
    /// See try_reset().
    void reset() { try_reset().value(); }
    /// See try_query_cursor().
    QueryCursor query_cursor(const std::string &expression, std::size_t page_size = 0) {
        return try_query_cursor(expression, page_size).value();
    }
    /// See try_set_auto_populate().
    void set_auto_populate(bool on) { try_set_auto_populate(on).value(); }
    /// See try_auto_populate().
    bool auto_populate() { return try_auto_populate().value(); }
    /// See try_set_record_operations().
    void set_record_operations(bool on) { try_set_record_operations(on).value(); }
    /// See try_record_operations().
    bool record_operations() { return try_record_operations().value(); }
    /// See try_recorded_operations_json().
    std::string recorded_operations_json() { return try_recorded_operations_json().value(); }
    /// See try_entity_schema_json().
    std::string entity_schema_json(const std::string &entity_type) {
        return try_entity_schema_json(entity_type).value();
    }
    /// See try_entity_types_json().
    std::string entity_types_json() { return try_entity_types_json().value(); }
    /// See try_cancel().
    void cancel() { try_cancel().value(); }
    /// See try_set_logger().
    void set_logger(ftrack_log_level level, ftrack_log_fn callback, void *user_data) {
        try_set_logger(level, callback, user_data).value();
    }
    /// See try_set_progress().
    void set_progress(ftrack_progress_fn callback, void *user_data) {
        try_set_progress(callback, user_data).value();
    }
#endif

private:
    using Handle = detail::Owner<ftrack_session, detail::destroy_session>;
    Handle handle_;
};

/// The library version (compare with FTRACK_VERSION_STRING).
inline std::string version() { return ftrack_version_string(); }
/// The library version as a number (compare with FTRACK_VERSION_NUMBER).
inline std::uint32_t version_number() { return ftrack_version_number(); }

// ---- event hub and plugins (see ftrack_event_hub_* in ftrack.h) ----
//
// Handlers run on the thread that calls try_event_hub_dispatch (or the
// library's dispatch thread when the options asked for it). A handler returns
// 0 when it handled the event; it may call Event::try_set_reply, and any
// function of this header, unsubscribing itself included. With exceptions
// enabled, an exception escaping a handler is caught and reported as a failure
// (logged through the session's logger). Reply handlers of
// try_event_hub_publish_event follow the same rules. The header keeps each
// handler (and what it captures) until it is unsubscribed or its Session
// destroyed (a reply handler: until the Session is destroyed, or 10000 newer
// ones replaced it); once that returned, the handler is not running on another
// thread and is never called again (the library guarantees it), so its
// captures may go.

/// The event a handler receives (valid only during the call), or a reply
/// returned by try_event_hub_publish_and_wait (owned, freed on destruction).
class Event {
public:
    explicit Event(ftrack_event *raw, bool owned = false) noexcept : raw_(raw), owned_(owned) {}
    Event(const Event &) = delete;
    Event &operator=(const Event &) = delete;
    Event(Event &&other) noexcept
        : raw_(std::exchange(other.raw_, nullptr)), owned_(std::exchange(other.owned_, false)) {}
    Event &operator=(Event &&) = delete;
    ~Event() {
        if (owned_) ftrack_event_destroy(raw_);
    }
    /// The C handle (owned by this object only for a reply).
    ftrack_event *raw() const noexcept { return raw_; }
    /// The topic, e.g. "ftrack.update".
    Result<std::string> try_topic() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_topic(raw_, b, n, o); });
    }
    /// The event id.
    Result<std::string> try_id() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_id(raw_, b, n, o); });
    }
    /// The data as JSON.
    Result<std::string> try_data_json() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_data_json(raw_, b, n, o); });
    }
    /// The source (publisher id, user) as JSON.
    Result<std::string> try_source_json() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_source_json(raw_, b, n, o); });
    }
    /// The whole event as a JSON object in its wire form (id, topic, data,
    /// source, target, inReplyToEvent, sent): what subscriptions match
    /// against (try_event_expression_matches) and what
    /// try_event_hub_publish_event takes back.
    Result<std::string> try_json() const {
        return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_json(raw_, b, n, o); });
    }
    /// One value of the data by JSON pointer, e.g. "/entities/0/entityId"
    /// (strings unquoted; others as JSON); NOT_FOUND when absent.
    Result<std::string> try_data_get(const std::string &pointer) const {
        return detail::read_string([&](char *b, size_t n, size_t *o) {
            return ftrack_event_data_get(raw_, pointer.c_str(), b, n, o);
        });
    }
    /// In a handler: the reply (JSON) sent back to the publisher.
    Result<void> try_set_reply(const std::string &json) { return detail::done(ftrack_event_set_reply(raw_, json.c_str())); }

#if FTRACK_HPP_EXCEPTIONS
    /// See try_topic().
    std::string topic() const { return try_topic().value(); }
    /// See try_id().
    std::string id() const { return try_id().value(); }
    /// See try_data_json().
    std::string data_json() const { return try_data_json().value(); }
    /// See try_source_json().
    std::string source_json() const { return try_source_json().value(); }
    /// See try_json().
    std::string json() const { return try_json().value(); }
    /// See try_data_get().
    std::string data_get(const std::string &pointer) const { return try_data_get(pointer).value(); }
    /// See try_set_reply().
    void set_reply(const std::string &json) { try_set_reply(json).value(); }
#endif

private:
    ftrack_event *raw_;
    bool owned_;
};

namespace detail {
inline int event_trampoline(void *user_data, ftrack_event *raw) {
    std::shared_ptr<EventHandler> handler;
    {
        EventHandlers &handlers = event_handlers();
        std::lock_guard<std::mutex> lock(handlers.mutex);
        auto found = handlers.by_address.find(user_data);
        if (found == handlers.by_address.end()) {
            return 0; // a reply handler forgotten past the bound: nothing to run
        }
        handler = found->second;
    }
    Event event(raw);
#if FTRACK_HPP_EXCEPTIONS
    try {
        return (*handler)(event);
    } catch (...) {
        return -1;
    }
#else
    return (*handler)(event);
#endif
}
inline ftrack_session_options *mutable_options(SessionOptions &o) noexcept {
    // The options functions lock the handle internally.
    return const_cast<ftrack_session_options *>(o.raw());
}
} // namespace detail

inline Result<void> try_set_auto_connect_event_hub(SessionOptions &o, bool on) {
    return detail::done(ftrack_session_options_set_auto_connect_event_hub(detail::mutable_options(o), on));
}
inline Result<void> try_set_event_dispatch_thread(SessionOptions &o, bool on) {
    return detail::done(ftrack_session_options_set_event_dispatch_thread(detail::mutable_options(o), on));
}
inline Result<void> try_add_plugin_path(SessionOptions &o, const std::string &path) {
    return detail::done(ftrack_session_options_add_plugin_path(detail::mutable_options(o), path.c_str()));
}
inline Result<void> try_set_plugin_arguments(SessionOptions &o, const std::string &json) {
    return detail::done(ftrack_session_options_set_plugin_arguments(detail::mutable_options(o), json.c_str()));
}
inline Result<void> try_event_hub_connect(Session &s, uint64_t timeout_ms) {
    return detail::done(ftrack_event_hub_connect(s.raw(), timeout_ms));
}
inline Result<void> try_event_hub_disconnect(Session &s) { return detail::done(ftrack_event_hub_disconnect(s.raw())); }
inline Result<bool> try_event_hub_is_connected(Session &s) {
    bool out = false;
    ftrack_status status = ftrack_event_hub_is_connected(s.raw(), &out);
    return detail::with(status, out);
}
/// Subscribes `handler`; returns the subscriber id (keep it to unsubscribe).
/// `subscriber_json` is subscriber metadata (a JSON object; its "id" is used
/// when present, else one is generated).
inline Result<std::string> try_event_hub_subscribe(Session &s, const std::string &subscription, EventHandler handler,
                                                   const std::optional<std::string> &subscriber_json = std::nullopt,
                                                   int32_t priority = 100) {
    auto owned = std::make_shared<EventHandler>(std::move(handler));
    const void *address = owned.get();
    detail::EventHandlers &handlers = detail::event_handlers();
    {
        // Registered first: a dispatch thread may run it as soon as the library has it.
        std::lock_guard<std::mutex> lock(handlers.mutex);
        handlers.by_address[address] = owned;
    }
    // One call: the library subscribes even when the id does not fit, so the
    // buffer must hold any id: a generated one (32 characters) or the
    // metadata's "id", never longer than the JSON text holding it.
    std::vector<char> buffer(std::max<size_t>(256, subscriber_json ? subscriber_json->size() + 1 : 0));
    size_t needed = 0;
    ftrack_status status = ftrack_event_hub_subscribe(
        s.raw(), subscription.c_str(), subscriber_json ? subscriber_json->c_str() : nullptr, priority,
        detail::event_trampoline, const_cast<void *>(address), buffer.data(), buffer.size(), &needed);
    if (status != FTRACK_STATUS_OK) {
        Status failure = detail::status_of(status);
        if (status != FTRACK_STATUS_BUFFER_TOO_SMALL) { // else subscribed: the handler must stay
            std::lock_guard<std::mutex> lock(handlers.mutex);
            handlers.by_address.erase(address);
        }
        return Result<std::string>(failure);
    }
    std::string id(buffer.data(), needed > 0 ? needed - 1 : 0);
    {
        std::lock_guard<std::mutex> lock(handlers.mutex);
        handlers.by_id[{s.raw(), id}] = address;
    }
    return Result<std::string>(std::move(id));
}
/// Removes a subscriber; its handler is destroyed once no call of it is running.
inline Result<void> try_event_hub_unsubscribe(Session &s, const std::string &subscriber_id) {
    Result<void> r = detail::done(ftrack_event_hub_unsubscribe(s.raw(), subscriber_id.c_str()));
    if (r.ok()) {
        const ftrack_session *session = s.raw();
        detail::event_handlers().remove_if([&](const std::pair<const ftrack_session *, std::string> &key) {
            return key.first == session && key.second == subscriber_id;
        });
    }
    return r;
}
inline Result<void> try_event_hub_publish(Session &s, const std::string &topic, const std::string &data_json = "{}",
                                          const std::string &target = "") {
    return detail::done(ftrack_event_hub_publish(s.raw(), topic.c_str(), data_json.c_str(), target.c_str()));
}
/// Publishes and waits up to `timeout_ms` for the first reply (TIMEOUT when none came).
inline Result<Event> try_event_hub_publish_and_wait(Session &s, const std::string &topic, const std::string &data_json,
                                                    uint64_t timeout_ms, const std::string &target = "") {
    ftrack_event *out = nullptr;
    ftrack_status status = ftrack_event_hub_publish_and_wait(s.raw(), topic.c_str(), data_json.c_str(),
                                                             target.c_str(), timeout_ms, &out);
    if (status != FTRACK_STATUS_OK) {
        return Result<Event>(detail::status_of(status));
    }
    return Result<Event>(Event(out, true));
}
/// Publishes an event given as one JSON object (`topic` required; `id`,
/// `data`, `target`, `source`, `in_reply_to_event` kept when given: see
/// ftrack_event_hub_publish_event) and returns its id. `on_reply`, when given,
/// runs for every reply to it, where handlers run (try_event_hub_dispatch or
/// the dispatch thread), as often as replies come; its return value is only
/// logged when not 0. The header keeps it until the Session is destroyed, or
/// until 10000 newer events were published with a reply handler on the
/// session (as the library, which then forgets it too).
inline Result<std::string> try_event_hub_publish_event(Session &s, const std::string &event_json,
                                                       EventHandler on_reply = nullptr) {
    const ftrack_session *session = s.raw();
    detail::EventHandlers &handlers = detail::event_handlers();
    const void *address = nullptr;
    if (on_reply) {
        auto owned = std::make_shared<EventHandler>(std::move(on_reply));
        address = owned.get();
        std::lock_guard<std::mutex> lock(handlers.mutex);
        // Registered first: a dispatch thread may run it as soon as the library has it.
        handlers.by_address[address] = std::move(owned);
    }
    // One call: the library publishes even when the id does not fit, so the
    // buffer must hold any id: a generated one (32 characters) or the event's
    // "id", never longer than the JSON text holding it.
    std::vector<char> buffer(std::max<size_t>(256, event_json.size() + 1));
    size_t needed = 0;
    ftrack_status status = ftrack_event_hub_publish_event(
        s.raw(), event_json.c_str(), address != nullptr ? detail::event_trampoline : nullptr,
        const_cast<void *>(address), buffer.data(), buffer.size(), &needed);
    std::vector<std::shared_ptr<EventHandler>> doomed; // destroyed after the lock is released
    if (address != nullptr) {
        std::lock_guard<std::mutex> lock(handlers.mutex);
        if (status != FTRACK_STATUS_OK && status != FTRACK_STATUS_BUFFER_TOO_SMALL) {
            handlers.take(address, doomed); // not published: the library does not hold it
        } else {
            std::deque<const void *> &kept = handlers.replies[session];
            kept.push_back(address);
            while (kept.size() > detail::max_reply_handlers) {
                handlers.take(kept.front(), doomed);
                kept.pop_front();
            }
        }
    }
    if (status != FTRACK_STATUS_OK) {
        return Result<std::string>(detail::status_of(status));
    }
    return Result<std::string>(std::string(buffer.data(), needed > 0 ? needed - 1 : 0));
}
/// The id of the session's event hub: the source.id of the events it
/// publishes, which replies target ("id=<hub id>"). Stable for the session's life.
inline Result<std::string> try_event_hub_id(Session &s) {
    return detail::read_string([&](char *b, size_t n, size_t *o) { return ftrack_event_hub_id(s.raw(), b, n, o); });
}
/// Whether a subscription expression (the language of try_event_hub_subscribe)
/// matches a JSON value: an event as Event::try_json gives it for a
/// subscription, or subscriber metadata for a target. INVALID_ARGUMENT for a
/// bad expression (the message says where) or JSON.
inline Result<bool> try_event_expression_matches(const std::string &expression, const std::string &json) {
    bool out = false;
    ftrack_status status = ftrack_event_expression_matches(expression.c_str(), json.c_str(), &out);
    return detail::with(status, out);
}
/// Runs handlers of arrived events on this thread; returns how many were handled.
inline Result<size_t> try_event_hub_dispatch(Session &s, uint64_t timeout_ms) {
    size_t handled = 0;
    ftrack_status status = ftrack_event_hub_dispatch(s.raw(), timeout_ms, &handled);
    return detail::with(status, handled);
}

#if FTRACK_HPP_EXCEPTIONS
// The throwing forms of the event hub functions (ftrack::Error on failure).
inline void set_auto_connect_event_hub(SessionOptions &o, bool on) { try_set_auto_connect_event_hub(o, on).value(); }
inline void set_event_dispatch_thread(SessionOptions &o, bool on) { try_set_event_dispatch_thread(o, on).value(); }
inline void add_plugin_path(SessionOptions &o, const std::string &path) { try_add_plugin_path(o, path).value(); }
inline void set_plugin_arguments(SessionOptions &o, const std::string &json) { try_set_plugin_arguments(o, json).value(); }
inline void event_hub_connect(Session &s, uint64_t timeout_ms) { try_event_hub_connect(s, timeout_ms).value(); }
inline void event_hub_disconnect(Session &s) { try_event_hub_disconnect(s).value(); }
inline bool event_hub_is_connected(Session &s) { return try_event_hub_is_connected(s).value(); }
inline std::string event_hub_subscribe(Session &s, const std::string &subscription, EventHandler handler,
                                       const std::optional<std::string> &subscriber_json = std::nullopt,
                                       int32_t priority = 100) {
    return try_event_hub_subscribe(s, subscription, std::move(handler), subscriber_json, priority).value();
}
inline void event_hub_unsubscribe(Session &s, const std::string &subscriber_id) {
    try_event_hub_unsubscribe(s, subscriber_id).value();
}
inline void event_hub_publish(Session &s, const std::string &topic, const std::string &data_json = "{}",
                              const std::string &target = "") {
    try_event_hub_publish(s, topic, data_json, target).value();
}
inline Event event_hub_publish_and_wait(Session &s, const std::string &topic, const std::string &data_json,
                                        uint64_t timeout_ms, const std::string &target = "") {
    return try_event_hub_publish_and_wait(s, topic, data_json, timeout_ms, target).value();
}
inline size_t event_hub_dispatch(Session &s, uint64_t timeout_ms) { return try_event_hub_dispatch(s, timeout_ms).value(); }
inline std::string event_hub_publish_event(Session &s, const std::string &event_json, EventHandler on_reply = nullptr) {
    return try_event_hub_publish_event(s, event_json, std::move(on_reply)).value();
}
inline std::string event_hub_id(Session &s) { return try_event_hub_id(s).value(); }
inline bool event_expression_matches(const std::string &expression, const std::string &json) {
    return try_event_expression_matches(expression, json).value();
}
#endif

} // namespace ftrack

#endif // FTRACK_HPP
