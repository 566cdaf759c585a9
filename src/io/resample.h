/* Resampling's one internal helper (the public entry points, impasto_image_resize and
 * impasto_image_resize_max_side, are in impasto.h). */
#ifndef IMPASTO_IO_RESAMPLE_H
#define IMPASTO_IO_RESAMPLE_H

/* The size impasto_image_resize_max_side gives a width x height image (both > 0, max_side > 0):
 * the longer side max_side, the other in proportion rounded to nearest, at least 1. */
void image_max_side_size(int width, int height, int max_side, int *out_width, int *out_height);

#endif
