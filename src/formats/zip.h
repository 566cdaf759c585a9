/* ZIP archives as PyTorch writes them (torch.save since 1.6: one folder holding data.pkl,
 * data/<key> per storage, version; every entry stored uncompressed, each file's data aligned to
 * 64 bytes by padding in the local header's extra field, sizes given in the central directory
 * only (general-purpose flag bit 3), and the zip64 end records written always).
 *
 * Reference: PKWARE's APPNOTE.TXT 6.3 ("ZIP File Format Specification"): 4.3.6 local file
 * header, 4.3.12 central directory header, 4.3.14-4.3.16 zip64 end of central directory record,
 * its locator and the end of central directory record, 4.5.3 the zip64 extended information
 * extra field (id 0x0001).
 *
 * The reader works on the archive's bytes in memory and trusts none of them: every offset and
 * length is checked against the bytes before use, entry names must be unique and match their
 * local headers, and a stored entry's CRC-32 is verified before its bytes are handed out. */
#ifndef IMPASTO_FORMATS_ZIP_H
#define IMPASTO_FORMATS_ZIP_H

#include "impasto.h"
#include <stddef.h>
#include <stdint.h>

/* A state_dict has one entry per storage: 65536 is far beyond any network's tensor count. */
#define ZIP_MAX_ENTRIES 65536

typedef struct zip_entry {
    char *name;                 /* NUL-terminated copy of the entry's name */
    const unsigned char *data;  /* the entry's stored bytes, inside the archive's bytes */
    size_t size;                /* compressed size (the stored bytes) */
    size_t usize;               /* uncompressed size */
    uint32_t crc;               /* CRC-32 of the uncompressed bytes, from the central directory */
    int method;                 /* 0: stored; anything else cannot be read */
    int encrypted;
    int verified;               /* the CRC-32 was checked (once per entry) */
} zip_entry;

typedef struct zip_archive {
    zip_entry *e;   /* n entries, sorted by name */
    size_t n;
    const char *file;  /* for messages (not owned) */
} zip_archive;

/* 1 when the bytes start like a ZIP archive (a local file header, or the end record of an
 * empty archive). */
int zip_looks_like(const unsigned char *bytes, size_t size);

/* Reads the central directory of the archive in bytes[0..size) (which must outlive z). Any
 * inconsistency is IMPASTO_ERR_FORMAT naming `file`; a multi-file archive is UNSUPPORTED. */
impasto_status zip_open(impasto_ctx *ctx, const unsigned char *bytes, size_t size, const char *file,
                        zip_archive *z);
void zip_close(zip_archive *z);

/* The entry named `name` exactly, or NULL. */
zip_entry *zip_find(const zip_archive *z, const char *name);

/* The bytes of a stored entry, after checking its CRC-32. A compressed or encrypted entry is
 * IMPASTO_ERR_UNSUPPORTED, a CRC mismatch IMPASTO_ERR_FORMAT. */
impasto_status zip_read(impasto_ctx *ctx, const zip_archive *z, zip_entry *e, const unsigned char **data,
                        size_t *size);

#endif
