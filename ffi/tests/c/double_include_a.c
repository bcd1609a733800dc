/* Including ftrack.h twice in one translation unit, and in two units linked together. */
#include "ftrack.h"
#include "ftrack.h"

const char *double_include_b(void);

int main(void) {
    ftrack_status status = FTRACK_STATUS_OK;
    return (status == FTRACK_STATUS_OK && double_include_b() != NULL) ? 0 : 1;
}
