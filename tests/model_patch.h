/* Copies of model files with some weights replaced, for the tests of what loading and running do
 * with bad weights (NaN or infinite values refused at load; finite but huge ones overflowing at
 * run time). The copy is byte for byte the original but for the replaced float32 values, found
 * through the safetensors header's data_offsets (tests read the header with cJSON themselves so
 * they do not depend on the reader they test). */
#ifndef IMPASTO_TEST_MODEL_PATCH_H
#define IMPASTO_TEST_MODEL_PATCH_H

#include <cjson/cJSON.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Reads all of `path` into a malloc'd buffer; NULL on failure. */
static unsigned char *model_patch_read(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    if (!f) return NULL;
    unsigned char *b = NULL;
    long n = fseek(f, 0, SEEK_END) == 0 ? ftell(f) : -1;
    if (n > 0 && fseek(f, 0, SEEK_SET) == 0 && (b = malloc((size_t)n)) && fread(b, 1, (size_t)n, f) != (size_t)n) {
        free(b);
        b = NULL;
    }
    fclose(f);
    *size = n > 0 ? (size_t)n : 0;
    return b;
}

/* Writes src to dst with elements [first, first + count) of F32 tensor `tensor` set to `value`
 * (count is clipped to the tensor's end). Returns 1 on success, 0 if anything is missing. */
static int model_patch_copy(const char *src, const char *dst, const char *tensor, size_t first, size_t count,
                            float value) {
    size_t size = 0;
    unsigned char *b = model_patch_read(src, &size);
    if (!b || size < 8) {
        free(b);
        return 0;
    }
    uint64_t hlen = 0;
    for (int i = 7; i >= 0; i--) hlen = hlen << 8 | b[i];
    int ok = 0;
    cJSON *root = hlen <= size - 8 ? cJSON_ParseWithLength((const char *)b + 8, (size_t)hlen) : NULL;
    const cJSON *t = cJSON_GetObjectItemCaseSensitive(root, tensor);
    const cJSON *dt = cJSON_GetObjectItemCaseSensitive(t, "dtype");
    const cJSON *off = cJSON_GetObjectItemCaseSensitive(t, "data_offsets");
    if (cJSON_IsString(dt) && strcmp(dt->valuestring, "F32") == 0 && cJSON_GetArraySize(off) == 2) {
        const size_t begin = 8 + (size_t)hlen + (size_t)cJSON_GetArrayItem(off, 0)->valuedouble;
        const size_t end = 8 + (size_t)hlen + (size_t)cJSON_GetArrayItem(off, 1)->valuedouble;
        if (begin <= end && end <= size) {
            const size_t n = (end - begin) / 4;
            uint32_t u;
            memcpy(&u, &value, sizeof u);
            for (size_t i = first; i < n && i - first < count; i++)
                for (int k = 0; k < 4; k++) b[begin + 4 * i + (size_t)k] = (unsigned char)(u >> (8 * k));
            FILE *f = fopen(dst, "wb");
            ok = f && fwrite(b, 1, size, f) == size;
            if (f && fclose(f) != 0) ok = 0;
        }
    }
    cJSON_Delete(root);
    free(b);
    return ok;
}

#endif
