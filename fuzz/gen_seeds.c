/* Writes the fuzz targets' seed corpora: small valid files of every kind each reader accepts, so
 * the fuzzer starts from inside the formats rather than having to discover their magic numbers.
 * Run by `make fuzz` as `gen_seeds OUTDIR`; writes
 * OUTDIR/{png,jpeg,safetensors,vgg_manifest,ncnn,graphdef,pth,gan_model,video}/ (video: FFmpeg builds).
 * Nothing here is committed: the seeds are regenerated on every run. */
#include "fuzz_targets.h"
#include "formats/md5.h"

#include <errno.h>
#include <jpeglib.h>
#include <png.h>
#include <sys/stat.h>

static const char *outdir;
static int failures;

static void put(const char *target, const char *name, const void *data, size_t n) {
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    FILE *fp = fopen(path, "wb");
    if (!fp || fwrite(data, 1, n, fp) != n || fclose(fp) != 0) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        failures++;
    }
}

/* A file the library itself wrote (impasto_image_save), moved into the corpus. */
static void put_saved(impasto_ctx *ctx, const char *target, const char *name, int w, int h, int ch) {
    impasto_image *img;
    if (impasto_image_create(ctx, w, h, ch, &img) != IMPASTO_OK) {
        failures++;
        return;
    }
    float *p = impasto_image_data(img);
    for (size_t i = 0; i < (size_t)w * h * ch; i++) p[i] = (float)((i * 37) % 256) / 255.0f;
    char path[1024];
    snprintf(path, sizeof path, "%s/%s/%s", outdir, target, name);
    if (impasto_image_save(ctx, img, path, 0) != IMPASTO_OK) {
        fprintf(stderr, "gen_seeds: %s\n", impasto_ctx_error(ctx));
        failures++;
    }
    impasto_image_free(img);
}

/* ---- PNG variants the library's own writer does not make: palette + tRNS, 16-bit, 1-bit gray,
 * interlaced. */
static void png_variant(const char *name, int w, int h, int depth, int ctype, int interlace) {
    char path[1024];
    snprintf(path, sizeof path, "%s/png/%s", outdir, name);
    FILE *fp = fopen(path, "wb");
    png_structp png = png_create_write_struct(PNG_LIBPNG_VER_STRING, NULL, NULL, NULL);
    png_infop info = png ? png_create_info_struct(png) : NULL;
    unsigned char *row = malloc((size_t)w * 8);
    if (!fp || !png || !info || !row || setjmp(png_jmpbuf(png))) {
        fprintf(stderr, "gen_seeds: cannot write %s\n", path);
        failures++;
        png_destroy_write_struct(&png, &info);
        free(row);
        if (fp) fclose(fp);
        return;
    }
    png_init_io(png, fp);
    png_set_IHDR(png, info, (png_uint_32)w, (png_uint_32)h, depth, ctype, interlace,
                 PNG_COMPRESSION_TYPE_DEFAULT, PNG_FILTER_TYPE_DEFAULT);
    if (ctype == PNG_COLOR_TYPE_PALETTE) {
        png_color pal[4] = {{0, 0, 0}, {255, 0, 0}, {0, 255, 0}, {0, 0, 255}};
        png_byte trns[2] = {0, 128};
        png_set_PLTE(png, info, pal, 4);
        png_set_tRNS(png, info, trns, 2, NULL);
    }
    png_write_info(png, info);
    int passes = png_set_interlace_handling(png);
    size_t rowbytes = png_get_rowbytes(png, info);
    for (int pass = 0; pass < passes; pass++)
        for (int y = 0; y < h; y++) {
            for (size_t i = 0; i < rowbytes; i++) row[i] = (unsigned char)((i * 7 + (size_t)y * 13) & 0xff);
            if (ctype == PNG_COLOR_TYPE_PALETTE)
                for (size_t i = 0; i < rowbytes; i++) row[i] &= 0x55; /* indices 0..3 at 2 bits */
            png_write_row(png, row);
        }
    png_write_end(png, NULL);
    png_destroy_write_struct(&png, &info);
    free(row);
    if (fclose(fp) != 0) failures++;
}

/* ---- JPEG: progressive, CMYK with an Adobe marker, and an EXIF orientation segment. */
static void jpeg_variant(const char *name, int w, int h, int cmyk, int progressive, int orientation) {
    struct jpeg_compress_struct c;
    struct jpeg_error_mgr err;
    c.err = jpeg_std_error(&err);
    jpeg_create_compress(&c);
    unsigned char *mem = NULL;
    unsigned long size = 0;
    jpeg_mem_dest(&c, &mem, &size);
    c.image_width = (JDIMENSION)w;
    c.image_height = (JDIMENSION)h;
    c.input_components = cmyk ? 4 : 3;
    c.in_color_space = cmyk ? JCS_CMYK : JCS_RGB;
    jpeg_set_defaults(&c);
    jpeg_set_quality(&c, 80, TRUE);
    if (progressive) jpeg_simple_progression(&c);
    jpeg_start_compress(&c, TRUE);
    if (orientation) {
        /* "Exif\0\0", big-endian TIFF header, IFD0 at 8 with one entry: 0x0112 SHORT 1. */
        unsigned char app1[6 + 8 + 2 + 12 + 4] = {'E', 'x', 'i', 'f', 0, 0, 'M', 'M', 0, 42, 0, 0, 0, 8,
                                                  0, 1, 0x01, 0x12, 0, 3, 0, 0, 0, 1, 0, (unsigned char)orientation};
        jpeg_write_marker(&c, JPEG_APP0 + 1, app1, sizeof app1);
    }
    unsigned char *row = malloc((size_t)w * 4);
    while (row && c.next_scanline < c.image_height) {
        for (int i = 0; i < w * c.input_components; i++) row[i] = (unsigned char)(i * 5 + (int)c.next_scanline * 11);
        JSAMPROW r[1] = {row};
        jpeg_write_scanlines(&c, r, 1);
    }
    jpeg_finish_compress(&c);
    jpeg_destroy_compress(&c);
    if (row) put("jpeg", name, mem, size);
    else failures++;
    free(row);
    free(mem);
}

/* ---- safetensors: the library's writer, plus hand-made headers for the other dtypes. */
static void st_handmade(const char *name, const char *json, size_t data_bytes) {
    size_t hl = strlen(json), n = 8 + hl + data_bytes;
    unsigned char *buf = calloc(1, n);
    if (!buf) {
        failures++;
        return;
    }
    for (int i = 0; i < 8; i++) buf[i] = (unsigned char)((uint64_t)hl >> (8 * i));
    memcpy(buf + 8, json, hl);
    for (size_t i = 0; i < data_bytes; i++) buf[8 + hl + i] = (unsigned char)(i * 29 + 3);
    put("safetensors", name, buf, n);
    free(buf);
}

static void st_seeds(impasto_ctx *ctx) {
    float a[24], b[3];
    for (int i = 0; i < 24; i++) a[i] = (float)i * 0.25f - 3.0f;
    for (int i = 0; i < 3; i++) b[i] = (float)i;
    st_write_tensor t[2] = {{"conv1_1.weight", 4, {2, 3, 2, 2}, a}, {"conv1_1.bias", 1, {3}, b}};
    const char *meta[] = {"kind", "vgg19", "source", "gen_seeds"};
    char path[1024];
    snprintf(path, sizeof path, "%s/safetensors/written.safetensors", outdir);
    if (safetensors_write(ctx, path, t, 2, meta, 2) != IMPASTO_OK) failures++;
    st_handmade("dtypes.safetensors",
                "{\"h\":{\"dtype\":\"F16\",\"shape\":[2,2],\"data_offsets\":[0,8]},"
                "\"b\":{\"dtype\":\"BF16\",\"shape\":[3],\"data_offsets\":[8,14]},"
                "\"u\":{\"dtype\":\"U8\",\"shape\":[2],\"data_offsets\":[14,16]},"
                "\"i\":{\"dtype\":\"I32\",\"shape\":[1],\"data_offsets\":[16,20]},"
                "\"l\":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[24,32]},"
                "\"e\":{\"dtype\":\"F32\",\"shape\":[0,4],\"data_offsets\":[32,32]}}",
                32);
    st_handmade("meta.safetensors", "{\"__metadata__\":{\"kind\":\"vgg19\",\"a\":\"\\u00e9\"}}    ", 0);
}

/* ---- manifests: VGG-19's conv1_1 in each upstream format, over fuzz_manifest_dir's files. */
static void manifest_seeds(void) {
    unsigned char k[FUZZ_U8_KERNEL_BYTES], bias[FUZZ_U8_BIAS_BYTES];
    fuzz_data_file(FUZZ_U8_KERNEL, k, sizeof k);
    fuzz_data_file(FUZZ_U8_BIAS, bias, sizeof bias);
    char hk[33], hb[33], text[4096];
    md5_hex(k, sizeof k, hk);
    md5_hex(bias, sizeof bias, hb);
    int n = snprintf(text, sizeof text,
                     "%c{\"weights\":{"
                     "\"conv1_1/kernel\":{\"filename\":\"" FUZZ_U8_KERNEL "\",\"size\":1728,\"dtype\":\"float32\","
                     "\"shape\":[3,3,3,64],\"checksum\":\"%s\",\"quantization\":{\"dtype\":\"uint8\","
                     "\"scale\":0.004,\"min_value\":-0.5}},"
                     "\"conv1_1/bias\":{\"filename\":\"" FUZZ_U8_BIAS "\",\"size\":64,\"shape\":[64],"
                     "\"checksum\":\"%s\",\"quantization\":{\"dtype\":\"uint8\",\"scale\":0.01,\"min_value\":-1}},"
                     "\"fc6/kernel\":{\"filename\":\"absent\"}}}",
                     0, hk, hb);
    put("vgg_manifest", "uint8.json", text, (size_t)n);
    n = snprintf(text, sizeof text,
                 "%c{\"format\":\"layers-model\",\"modelTopology\":{},\"weightsManifest\":["
                 "{\"paths\":[\"" FUZZ_TFJS_SHARD "\"],\"weights\":["
                 "{\"name\":\"block1_conv1/kernel\",\"shape\":[3,3,3,64],\"dtype\":\"float32\"},"
                 "{\"name\":\"block1_conv1/bias\",\"shape\":[64],\"dtype\":\"float32\"}]},"
                 "{\"paths\":[\"group2-shard1of2.bin\",\"group2-shard2of2.bin\"],\"weights\":["
                 "{\"name\":\"block1_conv2/kernel\",\"shape\":[3,3,64,64],\"dtype\":\"float32\"}]}]}",
                 1);
    put("vgg_manifest", "tfjs.json", text, (size_t)n);
}

/* ---- ncnn: a small param (Input, Convolution with an array parameter, ReLU) and weight blobs
 * of each storage tag; the first byte picks the reader (fuzz_run_ncnn). */
static void put_i32s(const char *name, unsigned char first, const int32_t *v, size_t n, const unsigned char *tail,
                     size_t ntail) {
    unsigned char buf[2048];
    if (1 + 4 * n + ntail > sizeof buf) {
        fprintf(stderr, "gen_seeds: seed %s too large\n", name);
        failures++;
        return;
    }
    buf[0] = first;
    for (size_t i = 0; i < n; i++)
        for (int b = 0; b < 4; b++) buf[1 + 4 * i + (size_t)b] = (unsigned char)((uint32_t)v[i] >> (8 * b));
    if (ntail) memcpy(buf + 1 + 4 * n, tail, ntail);
    put("ncnn", name, buf, 1 + 4 * n + ntail);
}

static void ncnn_seeds(void) {
    const int32_t param[] = {7767517, 3, 3,
                             16, 0, 1, 0, 0, 8, 1, 8, 2, 3, -233,
                             6, 1, 1, 0, 1, 0, 4, 1, 3, 5, 1, 6, 108, -23300 - 10, 2, 0x3f800000, 0x40000000, -233,
                             26, 1, 1, 1, 2, 0, 0x3dcccccd, -233};
    put_i32s("small.param", 0, param, sizeof param / sizeof param[0], NULL, 0);
    /* Blob 0 tagged, blob 1 plain (3 then 4 values: first byte 6). */
    const unsigned char f16[] = {0x47, 0x6b, 0x30, 0x01, 0x00, 0x3c, 0x00, 0xc0, 0x55, 0x35, 0, 0,
                                 0, 0, 0x80, 0x3f, 0, 0, 0, 0x40, 0, 0, 0x40, 0x40, 0, 0, 0x80, 0x40};
    put_i32s("f16.bin", 7, NULL, 0, f16, sizeof f16);
    const unsigned char f32[] = {0, 0, 0, 0, 0, 0, 0x80, 0x3f, 0, 0, 0x20, 0x41, 0, 0, 0xc0, 0xbf};
    put_i32s("f32.bin", 7, NULL, 0, f32, sizeof f32);
    unsigned char table[4 + 1024 + 4];
    memset(table, 0, sizeof table);
    table[0] = 0x78, table[1] = 0x56, table[2] = 0x34, table[3] = 0x12;
    table[4 + 1024] = 1, table[4 + 1025] = 2, table[4 + 1026] = 255;
    put_i32s("table.bin", 7, NULL, 0, table, sizeof table);
}

/* ---- graphdef: a tiny protobuf writer and the node kinds the AdaIN converter reads. */
typedef struct pbuf {
    unsigned char b[1024];
    size_t n;
} pbuf;

static void pb_put_varint(pbuf *w, uint64_t v) {
    do {
        unsigned char c = v & 0x7f;
        v >>= 7;
        w->b[w->n++] = c | (v ? 0x80 : 0);
    } while (v);
}
static void pb_put_bytes(pbuf *w, unsigned field, const void *p, size_t n) {
    pb_put_varint(w, (uint64_t)field << 3 | 2);
    pb_put_varint(w, n);
    memcpy(w->b + w->n, p, n);
    w->n += n;
}
static void pb_put_str(pbuf *w, unsigned field, const char *s) { pb_put_bytes(w, field, s, strlen(s)); }
static void pb_put_msg(pbuf *w, unsigned field, const pbuf *m) { pb_put_bytes(w, field, m->b, m->n); }
static void pb_put_attr(pbuf *node, const char *key, const pbuf *value) {
    pbuf e = {0};
    pb_put_str(&e, 1, key);
    pb_put_msg(&e, 2, value);
    pb_put_msg(node, 5, &e);
}

/* A Const node: dtype, a 1-D shape of n (a scalar for 0), the bytes as tensor_content (or, for a
 * scalar, one float_val). */
static void pb_put_const(pbuf *g, const char *name, int dtype, int n, const void *content, size_t clen) {
    pbuf dim = {0}, shape = {0}, tensor = {0}, av = {0}, node = {0};
    pb_put_varint(&dim, 1 << 3);
    pb_put_varint(&dim, (uint64_t)n);
    if (n > 0) pb_put_msg(&shape, 2, &dim);
    pb_put_varint(&tensor, 1 << 3);
    pb_put_varint(&tensor, (uint64_t)dtype);
    pb_put_msg(&tensor, 2, &shape);
    if (clen == 4 && !n) {
        pb_put_varint(&tensor, 5 << 3 | 5);
        memcpy(tensor.b + tensor.n, content, 4);
        tensor.n += 4;
    } else {
        pb_put_bytes(&tensor, 4, content, clen);
    }
    pb_put_msg(&av, 8, &tensor);
    pb_put_str(&node, 1, name);
    pb_put_str(&node, 2, "Const");
    pb_put_attr(&node, "value", &av);
    pb_put_msg(g, 1, &node);
}

static void graphdef_seeds(void) {
    pbuf g = {0};
    const float f[3] = {103.939f, 116.779f, 123.68f}, lo = -0.3f, hi = 0.7f;
    const unsigned char q[6] = {0, 1, 2, 127, 128, 255};
    pb_put_const(&g, "k_quantized_const", TF_DT_QUINT8, 6, q, sizeof q);
    pb_put_const(&g, "k_min", TF_DT_FLOAT, 0, &lo, 4);
    pb_put_const(&g, "k_max", TF_DT_FLOAT, 0, &hi, 4);
    pb_put_const(&g, "mean", TF_DT_FLOAT, 3, f, sizeof f);
    pbuf node = {0}, mode = {0}, T = {0}, strides = {0}, list = {0};
    pb_put_str(&node, 1, "k");
    pb_put_str(&node, 2, "Dequantize");
    pb_put_str(&node, 3, "k_quantized_const");
    pb_put_str(&node, 3, "k_min:0");
    pb_put_str(&node, 3, "^k_max");
    pb_put_str(&mode, 2, "MIN_FIRST");
    pb_put_attr(&node, "mode", &mode);
    pb_put_varint(&T, 6 << 3);
    pb_put_varint(&T, TF_DT_QUINT8);
    pb_put_attr(&node, "T", &T);
    const unsigned char ones[4] = {1, 1, 1, 1};
    pb_put_bytes(&list, 3, ones, sizeof ones);
    pb_put_msg(&strides, 1, &list);
    pb_put_attr(&node, "strides", &strides);
    pb_put_msg(&g, 1, &node);
    pbuf id = {0};
    pb_put_str(&id, 1, "k_identity");
    pb_put_str(&id, 2, "Identity");
    pb_put_str(&id, 3, "k");
    pb_put_msg(&g, 1, &id);
    put("graphdef", "dequantize.pb", g.b, g.n);
}

/* ---- PyTorch checkpoints: the small ones tools/gen_pth_tests.py made with torch.save (zip and
 * legacy layouts, protocols 2 and 4, float16/bfloat16/float64, views), copied from tests/data/pth
 * (make fuzz runs from the repository root). */
static void pth_seeds(void) {
    static const char *const names[] = {"tiny.pth", "mixed.pth", "mixed_legacy.pth", "v1_legacy.pth", "proto4.pth",
                                        "ckpt.pth", "dataparallel.pth", "resnet_tiny.pth", "resnet_tiny_old.pth",
                                        "unet_tiny.pth"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        char path[256];
        snprintf(path, sizeof path, "tests/data/pth/%s", names[i]);
        FILE *fp = fopen(path, "rb");
        unsigned char buf[65536];
        size_t n = fp ? fread(buf, 1, sizeof buf, fp) : 0;
        if (fp) fclose(fp);
        if (!n || n == sizeof buf) {
            fprintf(stderr, "gen_seeds: cannot read %s (run from the repository root)\n", path);
            failures++;
            continue;
        }
        put("pth", names[i], buf, n);
    }
}

/* ---- CycleGAN / pix2pix model files: a small generator of each kind, written by the library. */
static void gan_seed(impasto_ctx *ctx, const char *arch, gan_norm norm, const char *name) {
    gan_gen_spec g = {0};
    gan_gen_parse(arch, &g);
    g.in_c = g.out_c = 3, g.ngf = 2, g.norm = norm;
    net *n = NULL;
    char buf[5][32], path[1024];
    const char *kv[14] = {"kind", "gan-generator"};
    const size_t nkv = 1 + gan_gen_meta(&g, buf, kv + 2);
    gan_named_net nn = {"", NULL};
    snprintf(path, sizeof path, "%s/gan_model/%s", outdir, name);
    if (gan_generator_create(ctx, &g, &n) != IMPASTO_OK || !(nn.n = n) ||
        gan_nets_write(ctx, path, &nn, 1, NULL, 0, kv, nkv) != IMPASTO_OK) {
        fprintf(stderr, "gen_seeds: %s\n", impasto_ctx_error(ctx));
        failures++;
    }
    net_free(n);
}

/* ---- video: short clips the library's own writer makes, in the containers and codecs a user's
 * files come in (H.264 in MP4 and Matroska, MPEG-4 part 2 in AVI), odd and even sizes. */
#ifdef IMPASTO_VIDEO
static void video_seed(impasto_ctx *ctx, const char *name, const char *codec, int w, int h, int frames) {
    char path[1024];
    snprintf(path, sizeof path, "%s/video/%s", outdir, name);
    impasto_video_writer_options opt;
    impasto_video_writer_options_init(&opt);
    opt.codec = codec;
    opt.fps_num = 10;
    opt.fps_den = 1;
    impasto_video_writer *wr = NULL;
    impasto_image *img = NULL;
    impasto_status s = impasto_video_writer_open(ctx, path, NULL, &opt, &wr);
    if (s == IMPASTO_OK) s = impasto_image_create(ctx, w, h, 3, &img);
    for (int k = 0; s == IMPASTO_OK && k < frames; k++) {
        float *p = impasto_image_data(img);
        for (int y = 0; y < h; y++)
            for (int x = 0; x < w; x++)
                for (int c = 0; c < 3; c++)
                    p[((size_t)y * (size_t)w + (size_t)x) * 3 + (size_t)c] = (float)((x + 2 * k + c * y) % 16) / 15.0f;
        s = impasto_video_write(ctx, wr, img);
    }
    if (s == IMPASTO_OK) s = impasto_video_writer_finish(ctx, wr, NULL, 1);
    if (s != IMPASTO_OK) {
        fprintf(stderr, "gen_seeds: %s: %s\n", name, impasto_ctx_error(ctx));
        failures++;
    }
    impasto_image_free(img);
    impasto_video_writer_free(wr);
}

static void video_seeds(impasto_ctx *ctx) {
    video_seed(ctx, "h264.mp4", NULL, 16, 16, 3);
    video_seed(ctx, "h264_odd.mkv", NULL, 9, 7, 2);
    video_seed(ctx, "mpeg4.avi", "mpeg4", 16, 8, 3);
}
#endif

int main(int argc, char **argv) {
    if (argc != 2) {
        fprintf(stderr, "usage: gen_seeds OUTDIR\n");
        return 2;
    }
    outdir = argv[1];
    const char *sub[] = {"", "/png", "/jpeg", "/safetensors", "/vgg_manifest", "/ncnn", "/graphdef", "/pth", "/gan_model",
                         "/video"};
    for (int i = 0; i < 10; i++) {
        char path[1024];
        snprintf(path, sizeof path, "%s%s", outdir, sub[i]);
        if (mkdir(path, 0755) != 0 && errno != EEXIST) {
            fprintf(stderr, "gen_seeds: cannot create %s\n", path);
            return 1;
        }
    }
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) return 1;
    put_saved(ctx, "png", "gray.png", 5, 3, 1);
    put_saved(ctx, "png", "ga.png", 3, 4, 2);
    put_saved(ctx, "png", "rgb.png", 7, 5, 3);
    put_saved(ctx, "png", "rgba.png", 4, 4, 4);
    png_variant("palette_trns.png", 6, 5, 2, PNG_COLOR_TYPE_PALETTE, PNG_INTERLACE_NONE);
    png_variant("rgb16_interlaced.png", 9, 9, 16, PNG_COLOR_TYPE_RGB, PNG_INTERLACE_ADAM7);
    png_variant("gray1.png", 17, 3, 1, PNG_COLOR_TYPE_GRAY, PNG_INTERLACE_NONE);
    put_saved(ctx, "jpeg", "gray.jpg", 9, 7, 1);
    put_saved(ctx, "jpeg", "rgb.jpg", 17, 9, 3);
    jpeg_variant("progressive.jpg", 19, 11, 0, 1, 0);
    jpeg_variant("cmyk.jpg", 8, 8, 1, 0, 0);
    jpeg_variant("exif6.jpg", 12, 5, 0, 0, 6);
    jpeg_variant("exif3.jpg", 5, 4, 0, 1, 3);
    st_seeds(ctx);
    gan_seed(ctx, "resnet_1blocks", GAN_NORM_INSTANCE, "resnet.safetensors");
    gan_seed(ctx, "unet_32", GAN_NORM_BATCH, "unet.safetensors");
    manifest_seeds();
    ncnn_seeds();
    graphdef_seeds();
    pth_seeds();
#ifdef IMPASTO_VIDEO
    video_seeds(ctx);
#endif
    impasto_ctx_free(ctx);
    return failures ? 1 : 0;
}
