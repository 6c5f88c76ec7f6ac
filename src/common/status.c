/* SPDX-License-Identifier: Apache-2.0 */
/* Status strings and struct cvb_err helpers. */
#include "cvb/common.h"

#include <stdio.h>
#include <string.h>

const char *cvb_strerror(int code) {
    switch (code) {
#define CVB_X(name, val, label, desc)                                          \
    case val:                                                                  \
        return desc;
        CVB_STATUS_LIST(CVB_X)
#undef CVB_X
    }
    return "unknown error";
}

const char *cvb_status_label(int code) {
    switch (code) {
#define CVB_X(name, val, label, desc)                                          \
    case val:                                                                  \
        return label;
        CVB_STATUS_LIST(CVB_X)
#undef CVB_X
    }
    return "unknown";
}

int cvb_err_set(struct cvb_err *err, int code, const char *fmt, ...) {
    if (err == NULL) return code;
    err->code = code;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->msg, sizeof err->msg, fmt, ap);
    va_end(ap);
    return code;
}

int cvb_err_prefix(struct cvb_err *err, const char *fmt, ...) {
    if (err == NULL) return CVB_EINTERNAL;
    char prefix[CVB_ERR_MSG_MAX];
    char old[CVB_ERR_MSG_MAX];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    memcpy(old, err->msg, sizeof old);
    snprintf(err->msg, sizeof err->msg, "%.200s: %.300s", prefix, old);
    return err->code;
}

void cvb_err_clear(struct cvb_err *err) {
    if (err == NULL) return;
    err->code = 0;
    err->msg[0] = '\0';
}
