/* SPDX-License-Identifier: Apache-2.0 */
/* Names of the per-frame stages (include/cvb/result.h), shared by the
 * reports, the store and the pipeline. */
#include "cvb/result.h"

const char *cvb_stage_name(enum cvb_stage s) {
    switch (s) {
#define CVB_X(e, name) \
    case CVB_STAGE_##e: return name;
        CVB_STAGE_LIST(CVB_X)
#undef CVB_X
    case CVB_STAGE_COUNT: break;
    }
    return "unknown";
}
