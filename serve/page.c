/* The page's files (serve/page/), linked into the binary as they are by `ld -r -b binary` (the
 * Makefile), so the server reads nothing from disk to serve them and they cannot differ from the
 * sources. ld names each file's bounds _binary_<name>_start/_end. */
#include "server.h"

#include <string.h>

extern const unsigned char _binary_index_html_start[], _binary_index_html_end[];
extern const unsigned char _binary_style_css_start[], _binary_style_css_end[];
extern const unsigned char _binary_app_js_start[], _binary_app_js_end[];

int page_find(const char *path, page_file *out) {
    page_file f;
    if (!strcmp(path, "/") || !strcmp(path, "/index.html")) {
        f = (page_file){"/", "text/html; charset=utf-8", _binary_index_html_start,
                        (size_t)(_binary_index_html_end - _binary_index_html_start)};
    } else if (!strcmp(path, "/style.css")) {
        f = (page_file){"/style.css", "text/css; charset=utf-8", _binary_style_css_start,
                        (size_t)(_binary_style_css_end - _binary_style_css_start)};
    } else if (!strcmp(path, "/app.js")) {
        f = (page_file){"/app.js", "text/javascript; charset=utf-8", _binary_app_js_start,
                        (size_t)(_binary_app_js_end - _binary_app_js_start)};
    } else {
        return 0;
    }
    *out = f;
    return 1;
}
