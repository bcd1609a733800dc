// Lists the active users of the ftrack server named by FTRACK_SERVER,
// FTRACK_API_USER and FTRACK_API_KEY, through the C++ wrapper ftrack.hpp of an
// installed libftrack (see CMakeLists.txt). Exits non-zero on any failure.
#include <cstdio>
#include <string>

#include <ftrack.hpp>

int main() {
    if (ftrack_version_number() != FTRACK_VERSION_NUMBER) {
        std::fprintf(stderr, "header %s does not match library %s\n", FTRACK_VERSION_STRING,
                     ftrack_version_string());
        return 1;
    }
    try {
        ftrack::Session session = ftrack::Session::from_environment();
        ftrack::EntityList users =
            session.query("select username from User where is_active is true order by username");
        if (users.size() == 0) {
            std::fprintf(stderr, "no active users\n");
            return 1;
        }
        for (std::size_t i = 0; i < users.size(); ++i) {
            std::printf("user %s\n", users.at(i).get_string("username").c_str());
        }
        std::printf("libftrack %s: %zu active users\n", ftrack_version_string(), users.size());
        return 0;
    } catch (const ftrack::Error &error) {
        std::fprintf(stderr, "%s\n", error.what());
        return 1;
    }
}
