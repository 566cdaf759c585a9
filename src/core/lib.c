/* Library-wide entry points that belong to no one module: the running library's version and the
 * deallocator for buffers the library hands to its caller. */
#include "impasto.h"

#include <stdlib.h>

/* IMPASTO_VERSION is expanded here, when the library is compiled, so a program gets the version
 * of the libimpasto it runs with, not of the header it was compiled against. */
const char *impasto_version(void) { return IMPASTO_VERSION; }

/* Every buffer the library returns comes from this library's malloc, so this library's free
 * must release it. */
void impasto_free(void *p) { free(p); }
