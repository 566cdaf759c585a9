/* The library's one clock, for durations: the seconds in progress reports, the timings of runs and
 * the per-layer profiling timers. */
#ifndef IMPASTO_CORE_CLOCK_H
#define IMPASTO_CORE_CLOCK_H

/* Seconds on CLOCK_MONOTONIC (never set back; its zero is arbitrary, so only differences mean
 * anything), to about a nanosecond. */
double clock_seconds(void);

#endif
