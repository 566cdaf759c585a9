#include "core/fileio.h"
#include "core/ctx.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

impasto_status file_read_all(impasto_ctx *ctx, const char *path, size_t max_bytes,
                             unsigned char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fileno(fp), &st) != 0 || !S_ISREG(st.st_mode)) {
        fclose(fp);
        return ctx_fail(ctx, IMPASTO_ERR_IO, "%s is not a regular file", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        fclose(fp);
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "%s is %lld bytes, more than the limit of %zu",
                        path, (long long)st.st_size, max_bytes);
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        fclose(fp);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, n);
    }
    size_t got = fread(buf, 1, n, fp);
    int err = ferror(fp);
    fclose(fp);
    if (got != n || err) {
        free(buf);
        return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot read %s", path);
    }
    buf[n] = 0;
    *data = buf;
    *size = n;
    return IMPASTO_OK;
}

impasto_status atomic_open(impasto_ctx *ctx, const char *path, atomic_file *af) {
    memset(af, 0, sizeof *af);
    size_t len = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(len + 16);
    if (!af->path || !af->tmp_path) {
        atomic_abort(af);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory");
    }
    /* Same folder as the target so the rename stays on one filesystem. */
    snprintf(af->tmp_path, len + 16, "%s.tmp-XXXXXX", path);
    int fd = mkstemp(af->tmp_path);
    if (fd < 0) {
        impasto_status s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", path, strerror(errno));
        free(af->tmp_path);
        af->tmp_path = NULL;
        atomic_abort(af);
        return s;
    }
    fchmod(fd, 0644);
    af->fp = fdopen(fd, "wb");
    if (!af->fp) {
        close(fd);
        atomic_abort(af);
        return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", path, strerror(errno));
    }
    return IMPASTO_OK;
}

impasto_status atomic_commit(impasto_ctx *ctx, atomic_file *af) {
    int bad = ferror(af->fp);
    if (fflush(af->fp) != 0) bad = 1;
    if (!bad && fsync(fileno(af->fp)) != 0) bad = 1;
    int e = errno;
    if (fclose(af->fp) != 0) bad = 1, e = errno;
    af->fp = NULL;
    if (bad) {
        impasto_status s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", af->path,
                                    strerror(e ? e : EIO));
        atomic_abort(af);
        return s;
    }
    if (rename(af->tmp_path, af->path) != 0) {
        impasto_status s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot write %s: %s", af->path, strerror(errno));
        atomic_abort(af);
        return s;
    }
    free(af->tmp_path);
    free(af->path);
    af->tmp_path = af->path = NULL;
    return IMPASTO_OK;
}

void atomic_abort(atomic_file *af) {
    if (af->fp) fclose(af->fp);
    if (af->tmp_path) unlink(af->tmp_path);
    free(af->tmp_path);
    free(af->path);
    memset(af, 0, sizeof *af);
}
