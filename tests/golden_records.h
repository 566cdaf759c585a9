/* Golden files of named float32 records, as tools/gen_golden_loss.py and gen_golden_optim.py write
 * them: repeated  name[16] (NUL-padded) | uint32 count | float32[count], all little-endian. */
#ifndef IMPASTO_TEST_GOLDEN_RECORDS_H
#define IMPASTO_TEST_GOLDEN_RECORDS_H

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef struct golden {
    unsigned char *data;
    size_t size;
} golden;

/* Reads the whole file; 0 when it is missing, empty or unreadable. Free with free(gd->data). */
static inline int golden_load(golden *gd, const char *path) {
    gd->data = NULL;
    gd->size = 0;
    FILE *fp = fopen(path, "rb");
    if (!fp) return 0;
    fseek(fp, 0, SEEK_END);
    long len = ftell(fp);
    fseek(fp, 0, SEEK_SET);
    if (len > 0 && (gd->data = malloc((size_t)len)) && fread(gd->data, 1, (size_t)len, fp) == (size_t)len)
        gd->size = (size_t)len;
    fclose(fp);
    return gd->size > 0;
}

/* The payload of the record called name (its count in *count), or NULL when absent or cut short. */
static inline const unsigned char *golden_find(const golden *gd, const char *name, size_t *count) {
    size_t off = 0;
    while (off + 20 <= gd->size) {
        const unsigned char *h = gd->data + off;
        uint32_t cnt = (uint32_t)h[16] | (uint32_t)h[17] << 8 | (uint32_t)h[18] << 16 | (uint32_t)h[19] << 24;
        if (off + 20 + (size_t)cnt * 4 > gd->size) return NULL;
        if (strncmp((const char *)h, name, 16) == 0) {
            *count = cnt;
            return h + 20;
        }
        off += 20 + (size_t)cnt * 4;
    }
    return NULL;
}

static inline float golden_value(const unsigned char *payload, size_t i) {
    const unsigned char *b = payload + 4 * i;
    uint32_t bits = (uint32_t)b[0] | (uint32_t)b[1] << 8 | (uint32_t)b[2] << 16 | (uint32_t)b[3] << 24;
    float v;
    memcpy(&v, &bits, 4);
    return v;
}

/* The record's values as floats (malloc'd), its count in *count; NULL when absent. */
static inline float *golden_get(const golden *gd, const char *name, size_t *count) {
    size_t cnt;
    const unsigned char *p = golden_find(gd, name, &cnt);
    if (!p) return NULL;
    float *v = malloc((cnt ? cnt : 1) * sizeof *v);
    for (size_t i = 0; i < cnt; i++) v[i] = golden_value(p, i);
    *count = cnt;
    return v;
}

/* The same widened to double. */
static inline double *golden_get_f64(const golden *gd, const char *name, size_t *count) {
    size_t cnt;
    const unsigned char *p = golden_find(gd, name, &cnt);
    if (!p) return NULL;
    double *v = malloc((cnt ? cnt : 1) * sizeof *v);
    for (size_t i = 0; i < cnt; i++) v[i] = golden_value(p, i);
    *count = cnt;
    return v;
}

#endif
