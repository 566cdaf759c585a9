/* impasto convert: upstream weight files -> impasto's safetensors. */
#include "opts.h"

#include <string.h>
#include <unistd.h>

static const char *CMD = "convert";

typedef struct convert_settings {
    cli_common common;
    const char *output, *param;
} convert_settings;

#define S convert_settings
static const cli_opt OPTS[] = {
    {"Options", "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, NULL,
     "the converted model (.safetensors)", CLI_COMPLETE_FILE, NULL},
    {"Options", "param", 0, CLI_STRING, offsetof(S, param), "FILE", 0, 0, NULL, NULL,
     "ncnn-transformernet: the binary param file (transformernet.param.bin)", CLI_COMPLETE_FILE, NULL},
    {CLI_G_COMMON, "quiet", 'q', CLI_FLAG, offsetof(S, common.quiet), NULL, 0, 0, NULL, NULL, "no \"wrote\" line", 0,
     NULL},
    CLI_OPTS_END};
#undef S

static void init(void *p) { (void)p; }

static int run(void *p, int argc, char **argv) {
    const convert_settings *st = p;
    const char *output = st->output, *param = st->param;
    int next = 0;
    if (next >= argc) {
        cli_error(CMD, 1, "which network? (vgg19, adain, lst-r31 or ncnn-transformernet)");
        return EXIT_USAGE;
    }
    const char *kind = argv[next++];
    const int vgg = !strcmp(kind, "vgg19"), adain = !strcmp(kind, "adain"), lst = !strcmp(kind, "lst-r31");
    const int ncnn = !strcmp(kind, "ncnn-transformernet");
    if (!vgg && !adain && !lst && !ncnn) {
        cli_error(CMD, 1, "unknown network '%s' (known: vgg19, adain, lst-r31, ncnn-transformernet)", kind);
        return EXIT_USAGE;
    }
    if (ncnn && !param) {
        cli_error(CMD, 1, "ncnn-transformernet needs the param file (--param PARAM.bin)");
        return EXIT_USAGE;
    }
    if (!ncnn && param) {
        cli_error(CMD, 1, "--param is for ncnn-transformernet only");
        return EXIT_USAGE;
    }
    if (next >= argc) {
        cli_error(CMD, 1, ncnn ? "no weights file given" : "no upstream folder given");
        return EXIT_USAGE;
    }
    if (ncnn && argc - next > 1) {
        cli_error(CMD, 1, "one weights file at a time, got %d", argc - next);
        return EXIT_USAGE;
    }
    if ((adain || lst) && argc - next != 1) {
        cli_error(CMD, 1, "%s takes one upstream folder", kind);
        return EXIT_USAGE;
    }
    if (!output) {
        cli_error(CMD, 1, "no output file (-o FILE.safetensors)");
        return EXIT_USAGE;
    }
    if (!cli_model_output_ok(CMD, output)) return EXIT_USAGE;
    cli_inputs in = {0};
    int ok = cli_inputs_add(CMD, &in, param), not_input = 0;
    for (int i = next; ok && i < argc; i++) ok = cli_inputs_add(CMD, &in, argv[i]);
    not_input = ok && cli_output_not_input(CMD, &in, output);
    cli_inputs_free(&in);
    if (!ok) return 1;
    if (!not_input) return EXIT_USAGE;
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) {
        cli_error(CMD, 0, "out of memory");
        return 1;
    }
    impasto_status s = vgg     ? impasto_convert_vgg19(ctx, (const char *const *)(argv + next),
                                                       (size_t)(argc - next), output)
                       : adain ? impasto_convert_adain(ctx, argv[next], output)
                       : lst   ? impasto_convert_lst_r31(ctx, argv[next], output)
                               : impasto_convert_ncnn_transformernet(ctx, param, argv[next], output);
    int rc = 0;
    if (s != IMPASTO_OK) rc = cli_fail(CMD, ctx, s, NULL);
    else if (!st->common.quiet && isatty(STDOUT_FILENO)) printf("wrote %s\n", output);
    impasto_ctx_free(ctx);
    return rc;
}

const cli_command CLI_CONVERT = {
    .name = "convert",
    .summary = "convert upstream pretrained weights to impasto's safetensors",
    .synopsis = "vgg19|adain|lst-r31 DIR... -o OUT.safetensors\n"
                "       impasto convert ncnn-transformernet --param PARAM.bin WEIGHTS.bin -o OUT.safetensors",
    .description = "  vgg19   DIRs hold the upstream VGG-19 weights: the uint8 manifest (manifest.json and one\n"
                   "          file per tensor; every md5 is verified) and/or the exact float32 TensorFlow.js\n"
                   "          head (model.json and shards). Float32 is used where both have a layer, after\n"
                   "          checking they agree within one quantisation step (docs/models.md).\n"
                   "  adain   DIR holds the AdaIN TensorFlow graphs encoder_opt_quantized.pb and\n"
                   "          decoder_opt_quantized.pb (vgg_normalised to relu4_1 and its decoder)\n"
                   "  lst-r31 DIR holds LinearStyleTransfer's relu3_1 graphs vgg_31_opt.pb and decoder_31_opt.pb\n"
                   "  ncnn-transformernet   a fast-neural-style network (Johnson et al. 2016) in ncnn's files:\n"
                   "          the binary param shared by all styles (--param) and one style's weights (candy.bin,\n"
                   "          mosaic.bin, ...), written with PyTorch's TransformerNet names, for `impasto fast`.",
    .opts = OPTS,
    .settings_size = sizeof(convert_settings),
    .init = init,
    .run = run,
    .positional = "KIND DIR...",
    .positional_complete = CLI_COMPLETE_FILE,
};
