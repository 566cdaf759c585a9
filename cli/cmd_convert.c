/* impasto convert: upstream weight files -> impasto's safetensors. */
#include "opts.h"

#include <string.h>
#include <unistd.h>

static const char *CMD = "convert";

typedef struct convert_settings {
    cli_common common;
    const char *output, *param;
    int arch;  /* index into ARCHS */
} convert_settings;

/* --arch of `convert pth` (impasto_convert_pth's names; adain-decoder is adain). The generators
 * are the reference's four netG choices and auto, which reads any of its depths from the names. */
#define ARCHS "transformernet|adain|adain-decoder|resnet_9blocks|resnet_6blocks|unet_256|unet_128|auto"
static const char *const ARCH_NAMES[] = {"transformernet", "adain",    "adain-decoder", "resnet_9blocks",
                                         "resnet_6blocks", "unet_256", "unet_128",      "auto"};
enum { ARCH_ADAIN = 1, ARCH_ADAIN_DECODER = 2 };

#define S convert_settings
static const cli_opt OPTS[] = {
    {"Options", "output", 'o', CLI_STRING, offsetof(S, output), "FILE", 0, 0, NULL, NULL,
     "the converted model (.safetensors)", CLI_COMPLETE_FILE, NULL},
    {"Options", "param", 0, CLI_STRING, offsetof(S, param), "FILE", 0, 0, NULL, NULL,
     "ncnn-transformernet: the binary param file (transformernet.param.bin)", CLI_COMPLETE_FILE, NULL},
    {"Options", "arch", 0, CLI_CHOICE, offsetof(S, arch), NULL, 0, 0, ARCHS, "",
     "pth: the network the checkpoint holds (auto: a CycleGAN/pix2pix generator, read from its tensors)", 0,
     NULL},
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
        cli_error(CMD, 1, "which network? (vgg19, adain, lst-r31, ncnn-transformernet or pth)");
        return EXIT_USAGE;
    }
    const char *kind = argv[next++];
    const int vgg = !strcmp(kind, "vgg19"), adain = !strcmp(kind, "adain"), lst = !strcmp(kind, "lst-r31");
    const int ncnn = !strcmp(kind, "ncnn-transformernet"), pth = !strcmp(kind, "pth");
    const int arch_given = cli_given(&CLI_CONVERT, st, "arch");
    if (!vgg && !adain && !lst && !ncnn && !pth) {
        cli_error(CMD, 1, "unknown network '%s' (known: vgg19, adain, lst-r31, ncnn-transformernet, pth)", kind);
        return EXIT_USAGE;
    }
    if (pth && !arch_given) {
        cli_error(CMD, 1, "pth needs the checkpoint's network (--arch transformernet, adain, or a CycleGAN/pix2pix "
                          "generator: resnet_9blocks, resnet_6blocks, unet_256, unet_128, auto)");
        return EXIT_USAGE;
    }
    if (!pth && arch_given) {
        cli_error(CMD, 1, "--arch is for pth only");
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
        cli_error(CMD, 1, ncnn || pth ? "no weights file given" : "no upstream folder given");
        return EXIT_USAGE;
    }
    if (ncnn && argc - next > 1) {
        cli_error(CMD, 1, "one weights file at a time, got %d", argc - next);
        return EXIT_USAGE;
    }
    /* adain: vgg_normalised.pth and decoder.pth */
    const int two = pth && (st->arch == ARCH_ADAIN || st->arch == ARCH_ADAIN_DECODER);
    if (pth && argc - next != (two ? 2 : 1)) {
        cli_error(CMD, 1, two ? "--arch %s takes two checkpoints, vgg_normalised.pth and decoder.pth, got %d"
                              : "--arch %s takes one checkpoint, got %d", ARCH_NAMES[st->arch], argc - next);
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
                       : pth   ? impasto_convert_pth(ctx, (const char *const *)(argv + next), (size_t)(argc - next),
                                                     ARCH_NAMES[st->arch], output)
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
                "       impasto convert ncnn-transformernet --param PARAM.bin WEIGHTS.bin -o OUT.safetensors\n"
                "       impasto convert pth FILE.pth [FILE2.pth] --arch ARCH -o OUT.safetensors",
    .description = "  vgg19   DIRs hold the upstream VGG-19 weights: the uint8 manifest (manifest.json and one\n"
                   "          file per tensor; every md5 is verified) and/or the exact float32 TensorFlow.js\n"
                   "          head (model.json and shards). Float32 is used where both have a layer, after\n"
                   "          checking they agree within one quantisation step (docs/models.md).\n"
                   "  adain   DIR holds the AdaIN TensorFlow graphs encoder_opt_quantized.pb and\n"
                   "          decoder_opt_quantized.pb (vgg_normalised to relu4_1 and its decoder)\n"
                   "  lst-r31 DIR holds LinearStyleTransfer's relu3_1 graphs vgg_31_opt.pb and decoder_31_opt.pb\n"
                   "  ncnn-transformernet   a fast-neural-style network (Johnson et al. 2016) in ncnn's files:\n"
                   "          the binary param shared by all styles (--param) and one style's weights (candy.bin,\n"
                   "          mosaic.bin, ...), written with PyTorch's TransformerNet names, for `impasto fast`.\n"
                   "  pth     PyTorch checkpoints (torch.save's zip or legacy files), read by a restricted\n"
                   "          unpickler that refuses anything but tensors (nothing in the file is run):\n"
                   "          --arch transformernet: one fast-neural-style .pth (candy.pth, ...), for `impasto fast`;\n"
                   "          --arch adain: pytorch-AdaIN's vgg_normalised.pth and decoder.pth, for `impasto adain`;\n"
                   "          --arch resnet_9blocks, resnet_6blocks, unet_256, unet_128: a generator of\n"
                   "          junyanz/pytorch-CycleGAN-and-pix2pix (latest_net_G.pth, latest_net_G_A.pth, ...), its\n"
                   "          width, norm and channels read from the tensors; --arch auto also tells the family and\n"
                   "          depth from the names (any resnet_<n>blocks, unet_<2^k>). For CycleGAN/pix2pix\n"
                   "          translation.",
    .opts = OPTS,
    .settings_size = sizeof(convert_settings),
    .init = init,
    .run = run,
    .positional = "KIND DIR...",
    .positional_complete = CLI_COMPLETE_FILE,
};
