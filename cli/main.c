/* impasto: neural style transfer on the CPU. Dispatches to the commands (opts.h). A command's
 * name may be two words ("gan train"): a verb under a family of commands, found when both words
 * are given. */
#include "opts.h"

#include <string.h>

static const cli_command *const COMMANDS[] = {
    &CLI_TRANSFER, &CLI_ADAIN, &CLI_WCT,     &CLI_FAST, &CLI_TRAIN, &CLI_GAN_TRAIN, &CLI_TRANSLATE, &CLI_VIDEO,
    &CLI_DREAM,    &CLI_ATTENTION, &CLI_BREED,
    &CLI_CONVERT,  &CLI_EVAL,  &CLI_COMPARE, &CLI_GRID, &CLI_MODELS, &CLI_SERVE,
};
#define NCOMMANDS (sizeof COMMANDS / sizeof COMMANDS[0])

static void usage(FILE *f) {
    fputs("usage: impasto COMMAND [options]\n\n", f);
    for (size_t i = 0; i < NCOMMANDS; i++) fprintf(f, "  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    fputs("  help       this list; 'impasto help COMMAND' is 'impasto COMMAND --help'\n"
          "  version    print the version (also -V, --version)\n"
          "\n"
          "Exit status: 0 done, 1 a failure while working, 2 a usage mistake (an option, argument\n"
          "or input the command cannot use), 130 interrupted by Ctrl-C (what was done is kept).\n"
          "'impasto help --man' prints the man page, 'impasto help --bash-completion' the completion.\n"
          CLI_MODEL_HELP,
          f);
}

/* The length of name's first word ("gan train" -> 3, "fast" -> 4). */
static size_t first_word(const char *name) { return strcspn(name, " "); }

/* 1 when command c belongs to the family `word` (c is "gan train", word "gan"). */
static int in_family(const cli_command *c, const char *word) {
    const size_t k = first_word(c->name);
    return c->name[k] && strlen(word) == k && !strncmp(c->name, word, k);
}

/* The command words[0] (and, for a two-word command, words[1]) names, with the number of words
 * it took in *nwords; NULL when none. */
static const cli_command *find_command(int nwords_given, char **words, int *nwords) {
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const char *name = COMMANDS[i]->name;
        const size_t k = first_word(name);
        if (!name[k] && !strcmp(name, words[0])) return *nwords = 1, COMMANDS[i];
        if (nwords_given >= 2 && in_family(COMMANDS[i], words[0]) && !strcmp(name + k + 1, words[1]))
            return *nwords = 2, COMMANDS[i];
    }
    return NULL;
}

/* "'impasto gan train'" (or "..., '...'" for more): the commands of the family `word`; returns
 * how many there are. */
static int family_list(const char *word, char *buf, size_t n) {
    int count = 0;
    size_t w = 0;
    buf[0] = 0;
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (in_family(COMMANDS[i], word) && w < n)
            w += (size_t)snprintf(buf + w, n - w, "%s'impasto %s'", count++ ? ", " : "", COMMANDS[i]->name);
    return count;
}

/* `impasto help gan`: the family's commands, one a line. */
static void family_help(const char *word) {
    printf("usage: impasto %s VERB [options]\n\n", word);
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (in_family(COMMANDS[i], word)) printf("  %-10s %s\n", COMMANDS[i]->name, COMMANDS[i]->summary);
    printf("\n'impasto help %s VERB' is 'impasto %s VERB --help'.\n", word, word);
}

/* A family's name without a verb it knows: one line, exit 2 (or its help for --help). */
static int family_only(int argc, char **argv) {
    const char *word = argv[1];
    char list[512];
    family_list(word, list, sizeof list);
    if (argc > 2 && (!strcmp(argv[2], "--help") || !strcmp(argv[2], "-h"))) {
        family_help(word);
        return 0;
    }
    if (argc == 2 || argv[2][0] == '-') cli_error(word, 0, "which one? %s (see 'impasto help %s')", list, word);
    else cli_error(word, 0, "no command '%s %s'; there is %s (see 'impasto help %s')", word, argv[2], list, word);
    return EXIT_USAGE;
}

static int help(int argc, char **argv) {
    if (argc == 2) {
        usage(stdout);
        return 0;
    }
    if (!strcmp(argv[2], "--man") && argc == 3) {
        cli_print_man(COMMANDS, NCOMMANDS, stdout);
        return 0;
    }
    if (!strcmp(argv[2], "--bash-completion") && argc == 3) {
        cli_print_bash_completion(COMMANDS, NCOMMANDS, stdout);
        return 0;
    }
    int nwords = 0;
    const cli_command *c = find_command(argc - 2, argv + 2, &nwords);
    char list[512];
    if (!c && argc == 3 && family_list(argv[2], list, sizeof list)) {
        family_help(argv[2]);
        return 0;
    }
    if (!c) {
        if (argc > 3 && family_list(argv[2], list, sizeof list))
            cli_error(NULL, 1, "no command '%s %s'", argv[2], argv[3]);
        else
            cli_error(NULL, 1, "no command '%s'", argv[2]);
        return EXIT_USAGE;
    }
    if (argc > 2 + nwords) {
        cli_error(NULL, 1, "help takes one command");
        return EXIT_USAGE;
    }
    cli_print_help(c, stdout);
    return 0;
}

static int dispatch(int argc, char **argv) {
    if (argc < 2) {
        cli_error(NULL, 1, "no command given (usage: impasto COMMAND [options]; 'impasto help' lists them)");
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    int nwords = 0;
    const cli_command *c = find_command(argc - 1, argv + 1, &nwords);
    /* argv[nwords] is the command's last word: its argv[0]. */
    if (c) return cli_command_main(c, argc - nwords, argv + nwords);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        if (argc > 2) {
            cli_error(NULL, 1, "%s takes no arguments", cmd);
            return EXIT_USAGE;
        }
        printf("impasto %s\n", IMPASTO_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) return help(argc, argv);
    char list[512];
    if (family_list(cmd, list, sizeof list)) return family_only(argc, argv);
    cli_error(NULL, 1, "unknown command '%s'", cmd);
    return EXIT_USAGE;
}

/* Under mpirun or srun (impasto-mpi), every process joins the job first and leaves it last. */
int main(int argc, char **argv) {
    char err[512];
    if (cluster_start(&argc, &argv, err, sizeof err)) {
        cli_error(NULL, 0, "%s", err);
        return 1;
    }
    return cluster_finish(dispatch(argc, argv));
}
