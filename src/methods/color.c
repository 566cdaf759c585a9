#include "methods/color.h"

/* YUV coefficients of torch7's image.rgb2yuv / yuv2rgb (BT.601 analogue YUV). */
static float clamp01(float v) { return v < 0.f ? 0.f : (v > 1.f ? 1.f : v); }

void color_keep_luminance(const float *styled, const float *content, size_t npix, float *out) {
    for (size_t i = 0; i < npix; i++) {
        const float *s = styled + 3 * i, *c = content + 3 * i;
        float y = 0.299f * s[0] + 0.587f * s[1] + 0.114f * s[2];
        float u = -0.14713f * c[0] - 0.28886f * c[1] + 0.436f * c[2];
        float v = 0.615f * c[0] - 0.51499f * c[1] - 0.10001f * c[2];
        out[3 * i + 0] = clamp01(y + 1.13983f * v);
        out[3 * i + 1] = clamp01(y - 0.39465f * u - 0.58060f * v);
        out[3 * i + 2] = clamp01(y + 2.03211f * u);
    }
}
