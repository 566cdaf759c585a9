/* impasto: neural style transfer on the CPU. Dispatches to the subcommands. */
#include "cli.h"

#include <string.h>

static void usage(FILE *f) {
    fputs("usage: impasto COMMAND [options]\n"
          "\n"
          "  transfer   repaint a photo in the style of a painting (Gatys et al., neural-style)\n"
          "  adain      repaint a photo in one pass of the AdaIN network (Huang & Belongie)\n"
          "  wct        repaint a photo by whitening and colouring VGG features (Li et al.)\n"
          "  fast       repaint photos with a pretrained fast style network (Johnson et al.)\n"
          "  train      train a fast style network on a folder of photos (Johnson et al.)\n"
          "  convert    convert upstream pretrained weights to impasto's safetensors\n"
          "  eval       measure outputs: content kept (SSIM, PSNR, edges, VGG) and style matched\n"
          "  compare    SSIM and PSNR between two images\n"
          "  grid       a contact sheet of images, optionally labelled\n"
          "  version    print the version\n"
          "\n"
          "'impasto COMMAND --help' describes each command.\n",
          f);
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_error(NULL, 1, "no command given (usage: impasto transfer|adain|wct|fast|train|convert|eval|compare|grid|version ...)");
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    if (!strcmp(cmd, "transfer")) return cmd_transfer(argc - 1, argv + 1);
    if (!strcmp(cmd, "adain")) return cmd_adain(argc - 1, argv + 1);
    if (!strcmp(cmd, "wct")) return cmd_wct(argc - 1, argv + 1);
    if (!strcmp(cmd, "fast")) return cmd_fast(argc - 1, argv + 1);
    if (!strcmp(cmd, "train")) return cmd_train(argc - 1, argv + 1);
    if (!strcmp(cmd, "convert")) return cmd_convert(argc - 1, argv + 1);
    if (!strcmp(cmd, "eval")) return cmd_eval(argc - 1, argv + 1);
    if (!strcmp(cmd, "compare")) return cmd_compare(argc - 1, argv + 1);
    if (!strcmp(cmd, "grid")) return cmd_grid(argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version")) {
        printf("impasto %s\n", IMPASTO_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) {
        usage(stdout);
        return 0;
    }
    cli_error(NULL, 1, "unknown command '%s'", cmd);
    return EXIT_USAGE;
}
