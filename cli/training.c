/* What the training commands (train, gan train) share: where the model, its checkpoints and
 * previews go, and the folders of pictures they learn from (cli.h). */
#include "cli.h"

#include <errno.h>
#include <limits.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

int cli_training_begin(cli_training *t, const char *cmd, const char *output, const char *checkpoint_dir,
                       const cli_inputs *in) {
    memset(t, 0, sizeof *t);
    t->cmd = cmd;
    t->output = output;
    if (!cli_output_not_input(cmd, in, output)) return EXIT_USAGE;
    char outdir[PATH_MAX];
    cli_parent_dir(output, outdir, sizeof outdir);
    if (access(outdir, W_OK) != 0) {
        cli_error(cmd, 0, "cannot write %s: the folder %s is missing or not writable", output, outdir);
        return 1;
    }
    if (snprintf(t->checkpoint_dir, sizeof t->checkpoint_dir, "%s", checkpoint_dir ? checkpoint_dir : outdir) >=
        (int)sizeof t->checkpoint_dir) {
        cli_error(cmd, 1, "the checkpoint folder's name is too long");
        return EXIT_USAGE;
    }
    return 0;
}

int cli_training_make_dirs(cli_training *t) {
    if (cli_is_dir(t->checkpoint_dir)) return 1;
    if (mkdir(t->checkpoint_dir, 0777) != 0) {
        cli_error(t->cmd, 0, "cannot make the checkpoint folder %s: %s", t->checkpoint_dir, strerror(errno));
        return 0;
    }
    t->made_checkpoint_dir = 1;
    return 1;
}

void cli_training_end(cli_training *t) {
    /* rmdir removes only an empty folder: one holding a checkpoint stays. */
    if (t->made_checkpoint_dir) rmdir(t->checkpoint_dir);
    t->made_checkpoint_dir = 0;
}

void cli_training_preview(cli_training *t, impasto_ctx *ctx, cli_progress *p, long step, const impasto_image *img) {
    char suffix[64], path[PATH_MAX];
    snprintf(suffix, sizeof suffix, "_preview_%ld.png", step);
    cli_sibling_path(t->output, suffix, path, sizeof path);
    if (impasto_image_save(ctx, img, path, 0) == IMPASTO_OK || t->preview_failed) return;
    progress_clear(p);
    cli_error(t->cmd, 0, "warning: %s", impasto_ctx_error(ctx));
    t->preview_failed = 1;
}

int cli_training_folder(const char *cmd, const char *what, const char *dir, cli_list *out) {
    memset(out, 0, sizeof *out);
    if (!cli_is_dir(dir)) {
        cli_error(cmd, 0, "cannot open the %s %s: %s", what, dir,
                  access(dir, F_OK) ? "no such folder" : "not a folder");
        return 1;
    }
    return cli_list_images(cmd, dir, out);
}
