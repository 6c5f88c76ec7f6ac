/* SPDX-License-Identifier: Apache-2.0 */
/* Status codes, error detail and logging shared by every cvbench module.
 *
 * Every function that can fail returns an int: 0 or a negative CVB_E* status
 * from the X-macro list below, which also generates cvb_strerror() and the
 * metric labels. Detail goes into a caller-provided struct cvb_err whose
 * message names the input and the problem. */
#ifndef CVB_COMMON_H
#define CVB_COMMON_H

#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>

/* X(NAME, value, label, description) */
#define CVB_STATUS_LIST(X)                                                     \
    X(OK, 0, "ok", "success")                                                  \
    X(EINVAL, -1, "invalid_argument", "invalid argument")                      \
    X(ENOMEM, -2, "out_of_memory", "out of memory")                            \
    X(EIO, -3, "io_error", "input/output error")                               \
    X(EFORMAT, -4, "bad_format", "malformed input")                            \
    X(EUNSUPPORTED, -5, "unsupported", "unsupported feature")                  \
    X(ESHAPE, -6, "bad_shape", "inconsistent shapes")                          \
    X(ERANGE, -7, "out_of_range", "value out of range")                        \
    X(ENOTFOUND, -8, "not_found", "not found")                                 \
    X(EINTERNAL, -9, "internal", "internal error")

enum cvb_status {
#define CVB_X(name, val, label, desc) CVB_##name = val,
    CVB_STATUS_LIST(CVB_X)
#undef CVB_X
};

#define CVB_ERR_MSG_MAX 512

/* Error detail. code is the same negative status the function returned;
 * msg is one line naming the input and what is wrong with it. */
struct cvb_err {
    int code;
    char msg[CVB_ERR_MSG_MAX];
};

/* Human description of a status ("malformed input"). Never NULL. */
const char *cvb_strerror(int code);
/* Short snake_case label of a status, for metrics and JSON ("bad_format"). */
const char *cvb_status_label(int code);

/* Record 'code' and a printf-style message in 'err' (which may be NULL) and
 * return 'code', so call sites read: return cvb_err_set(err, CVB_EIO, ...). */
int cvb_err_set(struct cvb_err *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Prefix the message already in 'err' with "<prefix>: "; returns err->code. */
int cvb_err_prefix(struct cvb_err *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
void cvb_err_clear(struct cvb_err *err);

/* ---- logging ---------------------------------------------------------------
 * One logger for the process. Output goes to a sink callback (default:
 * stderr). Output is bounded: each call site is rate limited and the total
 * number of bytes written is capped; past the cap one notice is written and
 * everything else dropped. */
enum cvb_log_level { CVB_LOG_ERROR = 0, CVB_LOG_WARN, CVB_LOG_INFO, CVB_LOG_DEBUG };

typedef void (*cvb_log_sink)(enum cvb_log_level level, const char *line, void *user);

void cvb_log_set_level(enum cvb_log_level level);
enum cvb_log_level cvb_log_get_level(void);
/* Cap on the bytes the logger will ever emit (0 = default 64 MiB). */
void cvb_log_set_max_bytes(uint64_t max_bytes);
void cvb_log_set_sink(cvb_log_sink sink, void *user);
/* Lines dropped so far by the per-site rate limit or the byte cap (lines
 * below the log level are filtered, not dropped, and not counted). For the
 * cvb_log_lines_dropped_total metric. */
uint64_t cvb_log_dropped_lines(void);
void cvb__log(enum cvb_log_level level, const char *file, int line, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));

#define cvb_log_error(...) cvb__log(CVB_LOG_ERROR, __FILE__, __LINE__, __VA_ARGS__)
#define cvb_log_warn(...) cvb__log(CVB_LOG_WARN, __FILE__, __LINE__, __VA_ARGS__)
#define cvb_log_info(...) cvb__log(CVB_LOG_INFO, __FILE__, __LINE__, __VA_ARGS__)
#define cvb_log_debug(...) cvb__log(CVB_LOG_DEBUG, __FILE__, __LINE__, __VA_ARGS__)

/* ---- small helpers ---------------------------------------------------------- */
/* Monotonic clock in nanoseconds. */
uint64_t cvb_now_ns(void);

/* Read a whole file into a fresh buffer (caller frees with free()). Files
 * larger than max_bytes are refused with CVB_ERANGE. */
int cvb_read_file(const char *path, size_t max_bytes, void **out, size_t *out_len,
                  struct cvb_err *err);

/* Normalise 'path' in place, lexically: "//" and "/./" collapse, "dir/.."
 * cancels, so "/a/scenarios/../data/m.onnx" becomes "/a/data/m.onnx". A
 * ".." after a symbolic link does not mean the link's parent, so the
 * result is kept only when it names the same file as 'path' (or neither
 * exists); otherwise 'path' is left as it is. Leading ".." of a relative
 * path stay. */
void cvb_path_normalize(char *path);

/* ---- bounded growable buffer -----------------------------------------------
 * A byte buffer that grows on demand up to max_bytes and never past it:
 * appends that would exceed the maximum fail with CVB_ERANGE and leave the
 * buffer as it was. data is NUL-terminated whenever it is not NULL. */
struct cvb_buf {
    char *data;
    size_t len;
    size_t cap;
    size_t max_bytes;
};

void cvb_buf_init(struct cvb_buf *b, size_t max_bytes);
/* Append n bytes; CVB_ERANGE past max_bytes, CVB_ENOMEM. */
int cvb_buf_append(struct cvb_buf *b, const void *p, size_t n);
int cvb_buf_printf(struct cvb_buf *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* Hand the contents to the caller (free with free(); never NULL on success:
 * an empty buffer gives ""), leaving b empty. *len (may be NULL) gets the
 * length. Returns NULL only when out of memory. */
char *cvb_buf_take(struct cvb_buf *b, size_t *len);
void cvb_buf_cleanup(struct cvb_buf *b);

#define CVB_ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

#endif
