/* impasto convert: upstream weight files -> impasto's safetensors. */
#include "cli.h"

#include <getopt.h>
#include <string.h>
#include <unistd.h>

static const char *CMD = "convert";

static void usage(FILE *f) {
    fputs("usage: impasto convert vgg19 DIR [DIR...] -o OUT.safetensors\n"
          "       impasto convert adain DIR -o OUT.safetensors\n"
          "       impasto convert lst-r31 DIR -o OUT.safetensors\n"
          "       impasto convert ncnn-transformernet --param PARAM.bin WEIGHTS.bin -o OUT.safetensors\n"
          "\n"
          "  vgg19   DIRs hold the upstream VGG-19 weights: the uint8 manifest (manifest.json and one\n"
          "          file per tensor; every md5 is verified) and/or the exact float32 TensorFlow.js\n"
          "          head (model.json and shards). Float32 is used where both have a layer, after\n"
          "          checking they agree within one quantisation step. docs/models.md says where to\n"
          "          download them.\n"
          "  adain   DIR holds the AdaIN TensorFlow graphs encoder_opt_quantized.pb and\n"
          "          decoder_opt_quantized.pb (vgg_normalised to relu4_1 and its decoder)\n"
          "  lst-r31 DIR holds LinearStyleTransfer's relu3_1 graphs vgg_31_opt.pb and decoder_31_opt.pb\n"
          "  ncnn-transformernet   a fast-neural-style network (Johnson et al. 2016) in ncnn's\n"
          "          files: the binary param shared by all styles (transformernet.param.bin, given\n"
          "          with --param) and one style's weights (candy.bin, mosaic.bin, ...). Written\n"
          "          with PyTorch's TransformerNet names, for `impasto fast`.\n"
          "  -o, --output FILE   the converted model\n"
          "      --param FILE    ncnn-transformernet: the binary param file\n"
          "  -h, --help\n",
          f);
}

int cmd_convert(int argc, char **argv) {
    static const struct option opts[] = {
        {"output", required_argument, 0, 'o'}, {"param", required_argument, 0, 'p'},
        {"help", no_argument, 0, 'h'}, {0, 0, 0, 0}};
    const char *output = NULL, *param = NULL;
    optind = 1;
    opterr = 0;
    int c;
    while ((c = getopt_long(argc, argv, ":o:p:h", opts, NULL)) != -1) {
        switch (c) {
        case 'o': output = optarg; break;
        case 'p': param = optarg; break;
        case 'h': usage(stdout); return 0;
        case ':': cli_error(CMD, 1, "%s needs a value", argv[optind - 1]); return EXIT_USAGE;
        default: cli_error(CMD, 1, "unknown option '%s'", argv[optind - 1]); return EXIT_USAGE;
        }
    }
    if (optind >= argc) {
        cli_error(CMD, 1, "which network? (vgg19, adain, lst-r31 or ncnn-transformernet)");
        return EXIT_USAGE;
    }
    const char *kind = argv[optind++];
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
    if (optind >= argc) {
        cli_error(CMD, 1, ncnn ? "no weights file given" : "no upstream folder given");
        return EXIT_USAGE;
    }
    if (ncnn && argc - optind > 1) {
        cli_error(CMD, 1, "one weights file at a time, got %d", argc - optind);
        return EXIT_USAGE;
    }
    if ((adain || lst) && argc - optind != 1) {
        cli_error(CMD, 1, "%s takes one upstream folder", kind);
        return EXIT_USAGE;
    }
    if (!output) {
        cli_error(CMD, 1, "no output file (-o FILE)");
        return EXIT_USAGE;
    }
    impasto_ctx *ctx = impasto_ctx_create();
    if (!ctx) {
        cli_error(CMD, 0, "out of memory");
        return 1;
    }
    impasto_status s = vgg     ? impasto_convert_vgg19(ctx, (const char *const *)(argv + optind),
                                                       (size_t)(argc - optind), output)
                       : adain ? impasto_convert_adain(ctx, argv[optind], output)
                       : lst   ? impasto_convert_lst_r31(ctx, argv[optind], output)
                               : impasto_convert_ncnn_transformernet(ctx, param, argv[optind], output);
    if (s != IMPASTO_OK) cli_error(CMD, 0, "%s", impasto_ctx_error(ctx));
    else if (isatty(1)) printf("wrote %s\n", output);
    impasto_ctx_free(ctx);
    return s == IMPASTO_OK ? 0 : 1;
}
