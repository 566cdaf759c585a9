#include "core/fileio.h"
#include "core/ctx.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

impasto_status file_read_all(impasto_ctx *ctx, const char *path, size_t max_bytes,
                             unsigned char **data, size_t *size) {
    *data = NULL;
    *size = 0;
    /* O_NONBLOCK: opening a FIFO for reading blocks until a writer appears (forever, if none
     * does), and opening some devices waits on the device; non-blocking, the open returns at once
     * and fstat then tells what the file is. */
    int fd = open(path, O_RDONLY | O_NONBLOCK | O_CLOEXEC);
    if (fd < 0) return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot open %s: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        impasto_status s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return s;
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return ctx_fail(ctx, IMPASTO_ERR_IO, "%s is not a regular file (a FIFO, device or folder)", path);
    }
    if ((unsigned long long)st.st_size > max_bytes) {
        close(fd);
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "%s is %lld bytes, more than the limit of %zu",
                        path, (long long)st.st_size, max_bytes);
    }
    /* A regular file: blocking reads again (O_NONBLOCK means nothing for one on most
     * filesystems, but a network filesystem may honour it with EAGAIN). */
    int flags = fcntl(fd, F_GETFL);
    if (flags < 0 || fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) != 0) {
        impasto_status s = ctx_fail(ctx, IMPASTO_ERR_IO, "cannot read %s: %s", path, strerror(errno));
        close(fd);
        return s;
    }
    size_t n = (size_t)st.st_size;
    unsigned char *buf = malloc(n + 1);
    if (!buf) {
        close(fd);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s (%zu bytes)", path, n);
    }
    /* Exactly the st_size bytes fstat promised: a file that shrinks meanwhile is an error, one
     * that grows is read as it was. */
    size_t got = 0;
    int err = 0;
    while (got < n) {
        ssize_t r = read(fd, buf + got, n - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            err = r < 0 ? errno : 0;
            break;
        }
        got += (size_t)r;
    }
    close(fd);
    if (got != n) {
        free(buf);
        if (err) return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot read %s: %s", path, strerror(err));
        return ctx_fail(ctx, IMPASTO_ERR_IO, "cannot read %s: it became shorter while being read", path);
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
