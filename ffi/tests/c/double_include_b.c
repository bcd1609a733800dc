/* The second unit of the double-include check: the header declares, never defines. */
#include "ftrack.h"
#include "ftrack.h"

const char *double_include_b(void);

const char *double_include_b(void) {
    return ftrack_version_string();
}
