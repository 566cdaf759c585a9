/* Whole-file reads with a size limit, and atomic writes (temporary file + rename). */
#ifndef IMPASTO_CORE_FILEIO_H
#define IMPASTO_CORE_FILEIO_H

#include "impasto.h"
#include <stdio.h>

/* Reads all of `path` into a malloc'd buffer (NUL-terminated one byte past *size, for text).
 * Files larger than max_bytes fail with IMPASTO_ERR_TOO_LARGE before anything is allocated.
 * Anything but a regular file (a FIFO, a device, a folder) is IMPASTO_ERR_IO, found without
 * blocking: the file is opened non-blocking and checked with fstat before the first read. Every
 * reader of outside data (images, models, checkpoints, the upstream files) goes through here. */
impasto_status file_read_all(impasto_ctx *ctx, const char *path, size_t max_bytes,
                             unsigned char **data, size_t *size);

/* A file being written: `fp` writes to a temporary file beside `path`; atomic_commit flushes,
 * fsyncs and renames it over `path`; atomic_abort removes it. An existing file at `path` is
 * untouched until the rename, so a failed or interrupted write never loses it. */
typedef struct atomic_file {
    FILE *fp;
    char *path;
    char *tmp_path;
} atomic_file;

impasto_status atomic_open(impasto_ctx *ctx, const char *path, atomic_file *af);
/* Checks every write succeeded (a full disk is reported here), then renames. */
impasto_status atomic_commit(impasto_ctx *ctx, atomic_file *af);
void atomic_abort(atomic_file *af);

#endif
