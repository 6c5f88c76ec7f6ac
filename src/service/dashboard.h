/* SPDX-License-Identifier: Apache-2.0 */
/* The dashboard page (src/service/dashboard.html), embedded in the binary at
 * build time by cmake/embed.cmake (CMakeLists.txt, "embedded dashboard"):
 * cvb__dashboard_html holds the file's bytes plus a terminating NUL that
 * cvb__dashboard_html_len does not count. GET / serves it as text/html. */
#ifndef CVB_SERVICE_DASHBOARD_H
#define CVB_SERVICE_DASHBOARD_H

#include <stddef.h>

extern const unsigned char cvb__dashboard_html[];
extern const size_t cvb__dashboard_html_len;

#endif
