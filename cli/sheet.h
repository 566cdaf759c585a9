/* Contact sheets (sheet.c): what impasto grid and impasto breed draw with. */
#ifndef IMPASTO_CLI_SHEET_H
#define IMPASTO_CLI_SHEET_H

#include "impasto.h"

/* Draws `text` in black, centred on column cx, glyph tops at row y, each font pixel s x s (a
 * glyph is 9 s high with its gap); cut to fit max_w pixels. sheet (sh, sw, 3). */
void sheet_label(float *sheet, int sw, int sh, const char *text, int cx, int y, int s, int max_w);
/* Pastes img (any channels; alpha over white, gray replicated) at (x0, y0) of the sheet, which
 * must hold it. */
void sheet_paste(float *sheet, int sw, const impasto_image *img, int x0, int y0);

#endif
