/* A fast style network over a photo, from memory to memory: the picture is decoded from bytes
 * and the result encoded to PNG bytes, as a server or a binding would do it.
 *
 *   build/examples/fast models/candy.safetensors examples/images/horses.jpg out.png
 */
#include <impasto.h>
#include <stdio.h>
#include <stdlib.h>

/* The whole file in a malloc'd buffer, or NULL. */
static unsigned char *read_file(const char *path, size_t *size) {
    FILE *f = fopen(path, "rb");
    unsigned char *buf = NULL;
    long n;
    if (f && fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) > 0 && fseek(f, 0, SEEK_SET) == 0 &&
        (buf = malloc((size_t)n)) && fread(buf, 1, (size_t)n, f) != (size_t)n) {
        free(buf);
        buf = NULL;
    }
    if (buf) *size = (size_t)n;
    if (f) fclose(f);
    return buf;
}

int main(int argc, char **argv) {
    if (argc != 4) {
        fprintf(stderr, "usage: %s NETWORK.safetensors PHOTO OUT.png\n", argv[0]);
        return 2;
    }
    size_t size = 0, png_size = 0;
    unsigned char *bytes = read_file(argv[2], &size);
    if (!bytes) {
        fprintf(stderr, "cannot read %s\n", argv[2]);
        return 1;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    impasto_fast_model *net = NULL;
    impasto_image *photo = NULL, *out = NULL;
    void *png = NULL;
    impasto_fast_options opt;
    impasto_fast_options_init(&opt);
    int rc = 1;
    if (ctx && impasto_fast_load(ctx, argv[1], &net) == IMPASTO_OK &&
        impasto_image_load_memory(ctx, bytes, size, &photo) == IMPASTO_OK &&
        impasto_fast_stylize(ctx, net, photo, &opt, &out) == IMPASTO_OK &&
        impasto_image_save_memory(ctx, out, "png", 0, &png, &png_size) == IMPASTO_OK) {
        FILE *f = fopen(argv[3], "wb");
        rc = !f || fwrite(png, 1, png_size, f) != png_size;
        if (f && fclose(f) != 0) rc = 1;
        if (rc) fprintf(stderr, "cannot write %s\n", argv[3]);
        else printf("%s: %dx%d in the style of %s, %zu bytes of PNG\n", argv[3], impasto_image_width(out),
                    impasto_image_height(out), impasto_fast_style(net), png_size);
    } else {
        fprintf(stderr, "%s\n", ctx ? impasto_ctx_error(ctx) : "out of memory");
    }
    impasto_free(png);
    impasto_image_free(out);
    impasto_image_free(photo);
    impasto_fast_free(net);
    impasto_ctx_free(ctx);
    free(bytes);
    return rc;
}
