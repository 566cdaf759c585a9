/* A ZIP reader for PyTorch checkpoints (zip.h; APPNOTE.TXT 6.3 section numbers below).
 *
 * Only what reading stored entries needs: the end of central directory record (and the zip64
 * one it points to through the locator), the central directory, and each entry's local header
 * (for the length of its name and extra field, which decide where the data starts: torch pads
 * the extra field so the data is 64-byte aligned). Sizes come from the central directory, as
 * torch writes the local headers with flag bit 3 (sizes in a data descriptor after the data). */
#include "formats/zip.h"
#include "core/ctx.h"

#include <stdlib.h>
#include <string.h>

#define SIG_LOCAL 0x04034b50u         /* 4.3.7 */
#define SIG_CENTRAL 0x02014b50u       /* 4.3.12 */
#define SIG_END 0x06054b50u           /* 4.3.16 */
#define SIG_END64 0x06064b50u         /* 4.3.14 */
#define SIG_END64_LOCATOR 0x07064b50u /* 4.3.15 */
#define LOCAL_SIZE 30                 /* fixed part of a local file header */
#define CENTRAL_SIZE 46               /* fixed part of a central directory header */
#define END_SIZE 22                   /* end of central directory record without its comment */
#define END64_SIZE 56                 /* zip64 end record without its extensible data */
#define LOCATOR_SIZE 20
#define EXTRA_ZIP64 0x0001            /* 4.5.3 */
#define MAX_COMMENT 65535

static uint16_t le16(const unsigned char *p) { return (uint16_t)(p[0] | p[1] << 8); }
static uint32_t le32(const unsigned char *p) {
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}
static uint64_t le64(const unsigned char *p) { return (uint64_t)le32(p) | (uint64_t)le32(p + 4) << 32; }

/* 1 when [off, off + len) lies inside [0, size). */
static int in_range(uint64_t off, uint64_t len, size_t size) {
    return off <= size && len <= size - off;
}

int zip_looks_like(const unsigned char *bytes, size_t size) {
    return size >= 4 && (le32(bytes) == SIG_LOCAL || le32(bytes) == SIG_END);
}

void zip_close(zip_archive *z) {
    if (!z) return;
    for (size_t i = 0; i < z->n; i++) free(z->e[i].name);
    free(z->e);
    z->e = NULL;
    z->n = 0;
}

/* The end of central directory record (4.3.16): searched backwards, and only accepted where its
 * comment ends exactly at the end of the file (a signature inside a comment is not taken). */
static long find_end(const unsigned char *b, size_t size) {
    if (size < END_SIZE) return -1;
    size_t lowest = size - END_SIZE > MAX_COMMENT ? size - END_SIZE - MAX_COMMENT : 0;
    for (size_t p = size - END_SIZE + 1; p-- > lowest;)
        if (le32(b + p) == SIG_END && p + END_SIZE + le16(b + p + 20) == size) return (long)p;
    return -1;
}

/* The zip64 extended information (4.5.3) of one central header: the fields whose 32-bit value
 * is 0xFFFFFFFF follow in this order: uncompressed size, compressed size, local header offset. */
static int read_zip64_extra(const unsigned char *x, size_t xlen, uint64_t *usize, uint64_t *csize,
                            uint64_t *offset) {
    size_t p = 0;
    while (p + 4 <= xlen) {
        uint16_t id = le16(x + p), len = le16(x + p + 2);
        if (len > xlen - p - 4) return 0;
        if (id == EXTRA_ZIP64) {
            const unsigned char *f = x + p + 4;
            size_t k = 0;
            uint64_t *want[3] = {usize, csize, offset};
            for (int i = 0; i < 3; i++) {
                if (*want[i] != 0xffffffffu) continue;
                if (k + 8 > len) return 0;
                *want[i] = le64(f + k);
                k += 8;
            }
            return 1;
        }
        p += 4 + (size_t)len;
    }
    /* No zip64 field: every 0xFFFFFFFF value is then taken at its face value, which the range
     * checks that follow refuse for any file under 4 GB. */
    return 1;
}

static int cmp_entry(const void *a, const void *b) {
    return strcmp(((const zip_entry *)a)->name, ((const zip_entry *)b)->name);
}

/* One central directory header at cd[*pos], checked against the whole file; fills e. */
static impasto_status read_central(impasto_ctx *ctx, const char *f, const unsigned char *b, size_t size,
                                   const unsigned char *cd, size_t cd_size, size_t *pos, zip_entry *e) {
    size_t p = *pos;
    if (cd_size - p < CENTRAL_SIZE || le32(cd + p) != SIG_CENTRAL)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip directory is damaged (entry at byte %zu)", f, p);
    const unsigned char *h = cd + p;
    uint16_t flags = le16(h + 8), method = le16(h + 10);
    uint64_t csize = le32(h + 20), usize = le32(h + 24), offset = le32(h + 42);
    size_t nlen = le16(h + 28), xlen = le16(h + 30), clen = le16(h + 32);
    uint16_t disk = le16(h + 34);
    if (cd_size - p - CENTRAL_SIZE < nlen + xlen + clen)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip directory is truncated", f);
    const unsigned char *name = h + CENTRAL_SIZE;
    if (nlen == 0 || memchr(name, 0, nlen))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a zip entry has an empty or damaged name", f);
    if (!read_zip64_extra(name + nlen, xlen, &usize, &csize, &offset))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: a zip entry's zip64 sizes are damaged", f);
    if (disk != 0 && disk != 0xffffu)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: a zip archive split over several files", f);
    e->name = malloc(nlen + 1);
    if (!e->name) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    memcpy(e->name, name, nlen);
    e->name[nlen] = 0;
    *pos = p + CENTRAL_SIZE + nlen + xlen + clen;

    /* The local header (4.3.7): its own name and extra lengths place the data. */
    if (!in_range(offset, LOCAL_SIZE, size) || le32(b + offset) != SIG_LOCAL)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: zip entry '%.200s' points to no local header (truncated?)",
                        f, e->name);
    const unsigned char *lh = b + offset;
    size_t lnlen = le16(lh + 26), lxlen = le16(lh + 28);
    uint64_t data = offset + LOCAL_SIZE + lnlen + lxlen;
    if (lnlen != nlen || !in_range(offset + LOCAL_SIZE, lnlen, size) || memcmp(lh + LOCAL_SIZE, name, nlen) != 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: zip entry '%.200s' has another name in its local header",
                        f, e->name);
    if (!in_range(data, csize, size))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: zip entry '%.200s' (%llu bytes) runs past the end of the "
                        "file: truncated", f, e->name, (unsigned long long)csize);
    if (method == 0 && csize != usize)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: stored zip entry '%.200s' has two different sizes", f, e->name);
    e->data = b + data;
    e->size = (size_t)csize;
    e->usize = usize > SIZE_MAX ? SIZE_MAX : (size_t)usize;
    e->crc = le32(h + 16);
    e->method = method;
    e->encrypted = flags & 1;
    return IMPASTO_OK;
}

impasto_status zip_open(impasto_ctx *ctx, const unsigned char *b, size_t size, const char *f, zip_archive *z) {
    memset(z, 0, sizeof *z);
    z->file = f;
    long endl = find_end(b, size);
    if (endl < 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: no zip directory at the end of the file: truncated or not "
                        "a zip archive", f);
    size_t end = (size_t)endl;
    const unsigned char *r = b + end;
    uint64_t count = le16(r + 10), cd_size = le32(r + 12), cd_off = le32(r + 16);
    size_t cd_limit = end;  /* the directory ends before the records that describe it */
    if (le16(r + 4) != 0 || le16(r + 6) != 0 || le16(r + 8) != le16(r + 10))
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: a zip archive split over several files", f);
    if (end >= LOCATOR_SIZE && le32(b + end - LOCATOR_SIZE) == SIG_END64_LOCATOR) {
        const unsigned char *loc = b + end - LOCATOR_SIZE;
        uint64_t off64 = le64(loc + 8);
        if (le32(loc + 4) != 0 || le32(loc + 16) > 1)
            return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: a zip archive split over several files", f);
        if (!in_range(off64, END64_SIZE, end - LOCATOR_SIZE) || le32(b + off64) != SIG_END64)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip64 directory record is missing or damaged", f);
        const unsigned char *r64 = b + off64;
        if (le32(r64 + 16) != 0 || le32(r64 + 20) != 0 || le64(r64 + 24) != le64(r64 + 32))
            return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: a zip archive split over several files", f);
        count = le64(r64 + 32);
        cd_size = le64(r64 + 40);
        cd_off = le64(r64 + 48);
        cd_limit = (size_t)off64;
    } else if (count == 0xffffu || cd_size == 0xffffffffu || cd_off == 0xffffffffu) {
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip directory needs zip64 records the file lacks", f);
    }
    if (count > ZIP_MAX_ENTRIES)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip directory lists %llu entries (at most %d)", f,
                        (unsigned long long)count, ZIP_MAX_ENTRIES);
    if (!in_range(cd_off, cd_size, cd_limit))
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip directory lies outside the file: truncated or "
                        "damaged", f);
    z->e = calloc(count ? (size_t)count : 1, sizeof *z->e);
    if (!z->e) return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory reading %s", f);
    const unsigned char *cd = b + cd_off;
    size_t pos = 0;
    impasto_status s = IMPASTO_OK;
    for (uint64_t i = 0; i < count && s == IMPASTO_OK; i++) {
        s = read_central(ctx, f, b, size, cd, (size_t)cd_size, &pos, &z->e[z->n]);
        if (z->e[z->n].name) z->n++;
    }
    if (s == IMPASTO_OK && pos != cd_size)
        s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: the zip directory holds more than its %llu entries", f,
                     (unsigned long long)count);
    if (s == IMPASTO_OK) {
        qsort(z->e, z->n, sizeof *z->e, cmp_entry);
        for (size_t i = 1; i < z->n && s == IMPASTO_OK; i++)
            if (strcmp(z->e[i - 1].name, z->e[i].name) == 0)
                s = ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: zip entry '%.200s' appears twice", f, z->e[i].name);
    }
    if (s != IMPASTO_OK) zip_close(z);
    return s;
}

zip_entry *zip_find(const zip_archive *z, const char *name) {
    zip_entry key = {.name = (char *)name};
    return z->n ? bsearch(&key, z->e, z->n, sizeof *z->e, cmp_entry) : NULL;
}

/* CRC-32 as ZIP uses it (4.4.7: the ISO 3309 / ITU-T V.42 polynomial, bit-reflected
 * 0xEDB88320, initial value and final XOR 0xFFFFFFFF). The table is made per call (1 KB, far
 * less work than any storage it checks) so the library keeps no global state. */
static uint32_t crc32_of(const unsigned char *p, size_t n) {
    uint32_t table[256];
    for (uint32_t i = 0; i < 256; i++) {
        uint32_t c = i;
        for (int k = 0; k < 8; k++) c = c & 1 ? 0xedb88320u ^ (c >> 1) : c >> 1;
        table[i] = c;
    }
    uint32_t c = 0xffffffffu;
    for (size_t i = 0; i < n; i++) c = table[(c ^ p[i]) & 0xff] ^ (c >> 8);
    return c ^ 0xffffffffu;
}

impasto_status zip_read(impasto_ctx *ctx, const zip_archive *z, zip_entry *e, const unsigned char **data,
                        size_t *size) {
    if (e->encrypted)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: zip entry '%.200s' is encrypted", z->file, e->name);
    if (e->method != 0)
        return ctx_fail(ctx, IMPASTO_ERR_UNSUPPORTED, "%s: zip entry '%.200s' is compressed (method %d), and "
                        "impasto reads only the uncompressed entries torch.save writes (save it again with "
                        "torch.save, or re-zip with `zip -0`)", z->file, e->name, e->method);
    if (!e->verified) {
#ifdef FUZZING_BUILD_MODE_UNSAFE_FOR_PRODUCTION
        /* Fuzz builds only (`make fuzz`): the CRC is taken as right, so mutated pickles reach the
         * unpickler instead of being refused here. */
        e->crc = crc32_of(e->data, e->size);
#endif
        if (crc32_of(e->data, e->size) != e->crc)
            return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s: zip entry '%.200s' fails its CRC-32 check: the file is "
                            "damaged", z->file, e->name);
        e->verified = 1;
    }
    *data = e->data;
    *size = e->size;
    return IMPASTO_OK;
}
