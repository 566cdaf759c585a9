/* EXIF orientation: the one EXIF tag that changes how a JPEG's pixels must be shown.
 *
 * Reference: EXIF 2.32 (CIPA DC-008) section 4.5.4 and TIFF 6.0 section 2 ("Image File Header",
 * "Image File Directory"). The APP1 payload is "Exif\0\0" then a TIFF file: byte order "II" or
 * "MM", the number 42, the offset of IFD0; an IFD is a 2-byte entry count then 12-byte entries
 * (tag, type, count, value-or-offset). Orientation is tag 0x0112, type SHORT, count 1. */
#include "io/codec.h"

#include <string.h>

static unsigned exif_u16(const unsigned char *p, int big) {
    return big ? (unsigned)p[0] << 8 | p[1] : (unsigned)p[1] << 8 | p[0];
}

static uint32_t exif_u32(const unsigned char *p, int big) {
    return big ? (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3]
               : (uint32_t)p[3] << 24 | (uint32_t)p[2] << 16 | (uint32_t)p[1] << 8 | p[0];
}

int image_exif_orientation(const unsigned char *app1, size_t len) {
    if (!app1 || len < 6 + 8 || memcmp(app1, "Exif\0\0", 6) != 0) return 1;
    const unsigned char *tiff = app1 + 6;
    size_t n = len - 6;
    int big;
    if (tiff[0] == 'I' && tiff[1] == 'I') big = 0;
    else if (tiff[0] == 'M' && tiff[1] == 'M') big = 1;
    else return 1;
    if (exif_u16(tiff + 2, big) != 42) return 1;
    uint32_t ifd = exif_u32(tiff + 4, big);
    if (ifd > n || n - ifd < 2) return 1;
    unsigned count = exif_u16(tiff + ifd, big);
    /* Offsets are bounded by n (< 64 KiB in a JPEG segment), so this cannot overflow. */
    for (size_t i = 0; i < count; i++) {
        size_t e = (size_t)ifd + 2 + 12 * i;
        if (e + 12 > n) return 1;
        if (exif_u16(tiff + e, big) != 0x0112) continue;
        unsigned type = exif_u16(tiff + e + 2, big);
        unsigned v;
        if (type == 3) v = exif_u16(tiff + e + 8, big);         /* SHORT, the standard type */
        else if (type == 4) v = exif_u32(tiff + e + 8, big);    /* LONG, seen from some writers */
        else return 1;
        return v >= 1 && v <= 8 ? (int)v : 1;
    }
    return 1;
}

void image_orient_size(int orientation, int w, int h, int *ow, int *oh) {
    int swap = orientation >= 5 && orientation <= 8;
    *ow = swap ? h : w;
    *oh = swap ? w : h;
}

/* For each orientation, EXIF says which visual side stored row 0 and stored column 0 are
 * (e.g. 6: row 0 is the right side, column 0 the top, i.e. the picture is shown turned 90°
 * clockwise). Inverting that gives where stored (sx, sy) lands in the upright picture, whose
 * width is ow (= h for 5..8):
 *   1 (sx, sy)        2 (w-1-sx, sy)        3 (w-1-sx, h-1-sy)    4 (sx, h-1-sy)
 *   5 (sy, sx)        6 (h-1-sy, sx)        7 (h-1-sy, w-1-sx)    8 (sy, w-1-sx)
 * Each is affine in sx, which is what first + sx * step expresses. */
void image_orient_row(int orientation, int w, int h, int sy, size_t *first, ptrdiff_t *step) {
    size_t W = (size_t)w, H = (size_t)h, y = (size_t)sy;
    switch (orientation) {
    case 2: *first = y * W + (W - 1); *step = -1; break;
    case 3: *first = (H - 1 - y) * W + (W - 1); *step = -1; break;
    case 4: *first = (H - 1 - y) * W; *step = 1; break;
    case 5: *first = y; *step = (ptrdiff_t)H; break;
    case 6: *first = H - 1 - y; *step = (ptrdiff_t)H; break;
    case 7: *first = (W - 1) * H + (H - 1 - y); *step = -(ptrdiff_t)H; break;
    case 8: *first = (W - 1) * H + y; *step = -(ptrdiff_t)H; break;
    default: *first = y * W; *step = 1; break;
    }
}
