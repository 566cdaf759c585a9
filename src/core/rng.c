/* splitmix64 and the draws made from it (rng.h). */
#include "core/rng.h"

uint64_t rng_next(uint64_t *state) {
    uint64_t z = (*state += 0x9E3779B97F4A7C15ull);
    z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ull;
    z = (z ^ (z >> 27)) * 0x94D049BB133111EBull;
    return z ^ (z >> 31);
}

double rng_uniform_open(uint64_t *state) {
    return ((rng_next(state) >> 11) + 0.5) * (1.0 / 9007199254740992.0);
}

double rng_uniform(uint64_t *state) { return (double)(rng_next(state) >> 11) * (1.0 / 9007199254740992.0); }

size_t rng_below(uint64_t *state, size_t n) { return n ? (size_t)(rng_next(state) % n) : 0; }

uint64_t rng_stream(uint64_t seed, uint64_t kind, uint64_t n) {
    uint64_t s = seed;
    uint64_t a = rng_next(&s) ^ (kind * 0xD1B54A32D192ED03ull);
    s = a;
    return rng_next(&s) ^ n * 0x9E3779B97F4A7C15ull;
}
