/* SPDX-License-Identifier: Apache-2.0 */
/* The embedded dashboard (cmake/embed.cmake -> cvb__dashboard_html) is the
 * byte-exact src/service/dashboard.html, NUL-terminated, and loads nothing
 * from outside the server (no http(s):// or protocol-relative URL in a
 * src/href, no <link>, no <script src>). Runs from the source dir. */
#include "test.h"
#include "service/dashboard.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void embedded_is_the_file(void) {
    const char *path = "src/service/dashboard.html";
    FILE *f = fopen(path, "rb");
    CHECK(f != NULL);
    if (f == NULL) return;
    static unsigned char buf[1 << 20];
    size_t n = fread(buf, 1, sizeof buf, f);
    fclose(f);
    CHECK(n > 0 && n < sizeof buf);
    CHECK(cvb__dashboard_html_len == n);
    CHECK(memcmp(cvb__dashboard_html, buf, n) == 0);
    CHECK(cvb__dashboard_html[cvb__dashboard_html_len] == '\0');
    const char *page = (const char *)cvb__dashboard_html;
    CHECK(strncmp(page, "<!DOCTYPE html>", 15) == 0);
    static const char *const banned[] = {"src=\"http", "href=\"http", "src=\"//", "href=\"//",
                                         "<link", "<script src", "url(", "@import"};
    for (size_t i = 0; i < sizeof banned / sizeof banned[0]; i++) {
        if (strstr(page, banned[i]) != NULL) fprintf(stderr, "found '%s'\n", banned[i]);
        CHECK(strstr(page, banned[i]) == NULL);
    }
    /* the hooks the chromium test and users' scripts rely on */
    static const char *const hooks[] = {"id=\"runs\"", "id=\"workers\"", "id=\"levels\"",
                                        "iframe id=\"report\"", "id=\"report-status\"",
                                        "data-run-id"};
    for (size_t i = 0; i < sizeof hooks / sizeof hooks[0]; i++) CHECK(strstr(page, hooks[i]) != NULL);
}

int main(void) {
    RUN(embedded_is_the_file);
    return test_summary();
}
