/* The library's random numbers: splitmix64 (Steele, Lea & Flood, "Fast splittable pseudorandom
 * number generators", OOPSLA 2014), whose whole state is one 64-bit word the caller keeps, so
 * every stream is a pure function of its seed. Used for Gatys' starting noise, the directions of
 * the sliced Wasserstein distance, and training's initial weights, photo order and crops.
 *
 * Every stream must stay bit-identical: a --seed reproduces a run, and tests compare against
 * results made before. Change nothing here without making every stream the same again. */
#ifndef IMPASTO_CORE_RNG_H
#define IMPASTO_CORE_RNG_H

#include <stddef.h>
#include <stdint.h>

/* The next 64 random bits; advances *state. */
uint64_t rng_next(uint64_t *state);

/* Uniform in the open interval (0, 1): the top 53 bits plus half a step, never 0 or 1, so safe
 * under log() (the Box-Muller transforms of Gatys' noise and the SWD directions). */
double rng_uniform_open(uint64_t *state);

/* Uniform in [0, 1): the top 53 bits (training's weight initialisation). */
double rng_uniform(uint64_t *state);

/* Uniform in 0..n-1 by remainder, for small n (the bias is below n / 2^64); 0 when n is 0
 * (training's shuffles and crops). */
size_t rng_below(uint64_t *state, size_t n);

/* The state of stream `kind` at counter `n` of `seed`: independent streams drawn without keeping
 * any state between them (training draws epoch e's photo order from (seed, order, e) and step s's
 * crops from (seed, crop, s * batch + b), so a resumed run draws what an uninterrupted one would). */
uint64_t rng_stream(uint64_t seed, uint64_t kind, uint64_t n);

#endif
