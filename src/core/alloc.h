/* Buffers aligned to whole 64-byte lines (a cache line, one AVX-512 register), so vector loops
 * start on a line and two threads' buffers never share one: the network plans' feature maps and
 * the GEMM's packing arenas. */
#ifndef IMPASTO_CORE_ALLOC_H
#define IMPASTO_CORE_ALLOC_H

#include <stddef.h>

#define ALLOC_ALIGN 64

/* What alloc_aligned(bytes) allocates: bytes rounded up to whole 64-byte lines (aligned_alloc
 * takes only multiples of the alignment), 0 bytes as one line; 0 when the rounding overflows. */
size_t alloc_aligned_size(size_t bytes);

/* alloc_aligned_size(bytes) uninitialised bytes, 64-byte aligned, released with free(); NULL when
 * out of memory or too large. */
void *alloc_aligned(size_t bytes);

#endif
