/* impasto_image itself: allocation within the context's pixel limit, the header size check the
 * decoders share, creation, freeing and the accessors. */
#include "core/image.h"
#include "core/ctx.h"

#include <limits.h>
#include <stdlib.h>

impasto_status image_alloc(impasto_ctx *ctx, int width, int height, int channels,
                           impasto_image **out) {
    *out = NULL;
    if (width <= 0 || height <= 0 || channels < 1 || channels > 4)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "invalid image size %dx%d with %d channels",
                        width, height, channels);
    size_t pixels, nfloat, nbytes;
    if (!size_mul((size_t)width, (size_t)height, &pixels) || pixels > ctx->max_pixels)
        return ctx_fail(
            ctx, IMPASTO_ERR_TOO_LARGE,
            "an image of %dx%d pixels is over the limit of %zu pixels", width,
            height, ctx->max_pixels);
    if (!size_mul(pixels, (size_t)channels, &nfloat) || !size_mul(nfloat, sizeof(float), &nbytes))
        return ctx_fail(ctx, IMPASTO_ERR_TOO_LARGE, "an image of %dx%d pixels is too large", width,
                        height);
    impasto_image *img = malloc(sizeof *img);
    float *data = calloc(nfloat, sizeof(float));
    if (!img || !data) {
        free(img);
        free(data);
        return ctx_fail(ctx, IMPASTO_ERR_NOMEM, "out of memory for a %dx%d image", width, height);
    }
    img->width = width;
    img->height = height;
    img->channels = channels;
    img->data = data;
    *out = img;
    return IMPASTO_OK;
}

impasto_status image_check_pixels(impasto_ctx *ctx, const char *name, uint64_t width,
                                  uint64_t height) {
    if (width == 0 || height == 0)
        return ctx_fail(ctx, IMPASTO_ERR_FORMAT, "%s has an empty size (%llux%llu pixels)", name,
                        (unsigned long long)width, (unsigned long long)height);
    /* Both sides are below 2^32 in PNG and JPEG headers, so the product fits in 64 bits. */
    if (width > INT_MAX || height > INT_MAX || width * height > (uint64_t)ctx->max_pixels)
        return ctx_fail(
            ctx, IMPASTO_ERR_TOO_LARGE,
            "%s is %llux%llu pixels, over the limit of %zu pixels", name,
            (unsigned long long)width, (unsigned long long)height, ctx->max_pixels);
    return IMPASTO_OK;
}

impasto_status impasto_image_create(impasto_ctx *ctx, int width, int height, int channels,
                                    impasto_image **out) {
    if (!ctx || !out)
        return ctx_fail(ctx, IMPASTO_ERR_INVALID_ARG, "creating an image: no place given for the result");
    return image_alloc(ctx, width, height, channels, out);
}

void impasto_image_free(impasto_image *img) {
    if (!img) return;
    free(img->data);
    free(img);
}

int impasto_image_width(const impasto_image *img) { return img ? img->width : 0; }
int impasto_image_height(const impasto_image *img) { return img ? img->height : 0; }
int impasto_image_channels(const impasto_image *img) { return img ? img->channels : 0; }
float *impasto_image_data(impasto_image *img) { return img ? img->data : NULL; }
const float *impasto_image_cdata(const impasto_image *img) { return img ? img->data : NULL; }
