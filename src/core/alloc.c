/* 64-byte aligned allocation (alloc.h). */
#include "core/alloc.h"

#include <stdint.h>
#include <stdlib.h>

size_t alloc_aligned_size(size_t bytes) {
    if (bytes == 0) return ALLOC_ALIGN;
    if (bytes > SIZE_MAX - (ALLOC_ALIGN - 1)) return 0;
    return (bytes + (ALLOC_ALIGN - 1)) & ~(size_t)(ALLOC_ALIGN - 1);
}

void *alloc_aligned(size_t bytes) {
    size_t rounded = alloc_aligned_size(bytes);
    return rounded ? aligned_alloc(ALLOC_ALIGN, rounded) : NULL;
}
