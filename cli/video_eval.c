/* impasto eval --temporal OUT --reference IN: how much a stylised video flickers, as the warping
 * error (impasto_warping_error) of each pair of consecutive output frames along the input's
 * optical flow, and its mean over the pairs. */
#include "cli.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

static const char *CMD = "eval";

static void json_path(const char *s) {
    putchar('"');
    for (const unsigned char *p = (const unsigned char *)s; *p; p++) {
        if (*p == '"' || *p == '\\') printf("\\%c", *p);
        else if (*p < 0x20) printf("\\u%04x", *p);
        else putchar(*p);
    }
    putchar('"');
}

int cli_eval_temporal(const char *output, const char *reference, int json, int verbose, int threads,
                      size_t max_pixels) {
    if (!output || !reference) {
        cli_error(CMD, 1, "--temporal OUT needs --reference IN (the video OUT was made from)");
        return EXIT_USAGE;
    }
    if (!impasto_video_supported()) {
        cli_error(CMD, 0, "this impasto was built without video support (FFmpeg's libraries)");
        return 1;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) {
        cli_error(CMD, 0, "out of memory");
        return 1;
    }
    impasto_ctx_set_threads(ctx, threads);
    if (max_pixels) impasto_ctx_set_max_pixels(ctx, max_pixels);
    impasto_video_reader *ro = NULL, *ri = NULL;
    impasto_image *in[2] = {NULL, NULL}, *out[2] = {NULL, NULL}, *raw = NULL;
    double *errs = NULL, sum = 0, trusted_sum = 0;
    size_t cap = 0, npairs = 0;
    long frames = 0;
    int rc = 1;
    impasto_status s = impasto_video_open(ctx, output, &ro);
    if (s == IMPASTO_OK) s = impasto_video_open(ctx, reference, &ri);
    if (s != IMPASTO_OK) {
        rc = cli_fail(CMD, ctx, s, NULL);
        goto done;
    }
    for (;;) {
        impasto_image *o = NULL;
        if ((s = impasto_video_read(ctx, ro, &o)) != IMPASTO_OK) {
            rc = cli_fail(CMD, ctx, s, output);
            goto done;
        }
        if ((s = impasto_video_read(ctx, ri, &raw)) != IMPASTO_OK) {
            impasto_image_free(o);
            rc = cli_fail(CMD, ctx, s, reference);
            goto done;
        }
        if (!o || !raw) {
            /* A longer reference is fine (a run with --frames N made the first N frames). */
            if (o) {
                cli_error(CMD, 0, "%s has more frames than %s (%ld): it was not made from it", output, reference, frames);
                impasto_image_free(o);
                goto done;
            }
            break;
        }
        /* The input at the output's size (a --size run), so the flow is on the output's grid. */
        impasto_image *i = raw;
        raw = NULL;
        if (impasto_image_width(i) != impasto_image_width(o) || impasto_image_height(i) != impasto_image_height(o)) {
            impasto_image *r = NULL;
            s = impasto_image_resize(ctx, i, impasto_image_width(o), impasto_image_height(o), &r);
            impasto_image_free(i);
            if (s != IMPASTO_OK) {
                impasto_image_free(o);
                rc = cli_fail(CMD, ctx, s, reference);
                goto done;
            }
            i = r;
        }
        impasto_image_free(in[0]);
        impasto_image_free(out[0]);
        in[0] = in[1];
        out[0] = out[1];
        in[1] = i;
        out[1] = o;
        frames++;
        if (!in[0]) continue;
        double e = 0, trusted = 0;
        if ((s = impasto_warping_error(ctx, in[0], in[1], out[0], out[1], &e, &trusted)) != IMPASTO_OK) {
            rc = cli_fail(CMD, ctx, s, output);
            goto done;
        }
        if (npairs == cap) {
            size_t nc = cap ? 2 * cap : 256;
            double *ne = realloc(errs, nc * sizeof *ne);
            if (!ne) {
                cli_error(CMD, 0, "out of memory");
                goto done;
            }
            errs = ne;
            cap = nc;
        }
        errs[npairs++] = e;
        sum += e;
        trusted_sum += trusted;
    }
    if (npairs == 0) {
        cli_error(CMD, 0, "%s has one frame: the warping error needs two", output);
        goto done;
    }
    const double mean = sum / (double)npairs, trusted_mean = trusted_sum / (double)npairs;
    if (json) {
        printf("{\"output\": ");
        json_path(output);
        printf(", \"reference\": ");
        json_path(reference);
        printf(", \"frames\": %ld, \"pairs\": %zu, \"warping_error\": %.9g, \"trusted\": %.6f,\n \"per_pair\": [", frames,
               npairs, mean, trusted_mean);
        for (size_t k = 0; k < npairs; k++) printf("%s%.9g", k ? ", " : "", errs[k]);
        printf("]}\n");
    } else {
        if (verbose)
            for (size_t k = 0; k < npairs; k++) printf("frames %zu-%zu  %.6f\n", k + 1, k + 2, errs[k]);
        printf("%s: warping error %.6f (mean over %zu frame pairs; %.1f%% of the pixels trusted)\n", output, mean, npairs,
               100 * trusted_mean);
    }
    rc = 0;
done:
    free(errs);
    impasto_image_free(raw);
    for (int k = 0; k < 2; k++) {
        impasto_image_free(in[k]);
        impasto_image_free(out[k]);
    }
    impasto_video_close(ro);
    impasto_video_close(ri);
    impasto_ctx_free(ctx);
    return rc;
}
