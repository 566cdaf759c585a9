/* impasto: neural style transfer on the CPU. Dispatches to the commands (opts.h). */
#include "opts.h"

#include <string.h>

static const cli_command *const COMMANDS[] = {
    &CLI_TRANSFER, &CLI_ADAIN, &CLI_WCT,     &CLI_FAST, &CLI_TRAIN,
    &CLI_CONVERT,  &CLI_EVAL,  &CLI_COMPARE, &CLI_GRID, &CLI_MODELS,
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

static const cli_command *find_command(const char *name) {
    for (size_t i = 0; i < NCOMMANDS; i++)
        if (!strcmp(COMMANDS[i]->name, name)) return COMMANDS[i];
    return NULL;
}

static int help(int argc, char **argv) {
    if (argc == 2) {
        usage(stdout);
        return 0;
    }
    if (argc > 3) {
        cli_error(NULL, 1, "help takes one command");
        return EXIT_USAGE;
    }
    if (!strcmp(argv[2], "--man")) {
        cli_print_man(COMMANDS, NCOMMANDS, stdout);
        return 0;
    }
    if (!strcmp(argv[2], "--bash-completion")) {
        cli_print_bash_completion(COMMANDS, NCOMMANDS, stdout);
        return 0;
    }
    const cli_command *c = find_command(argv[2]);
    if (!c) {
        cli_error(NULL, 1, "no command '%s'", argv[2]);
        return EXIT_USAGE;
    }
    cli_print_help(c, stdout);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        cli_error(NULL, 1, "no command given (usage: impasto COMMAND [options]; 'impasto help' lists them)");
        return EXIT_USAGE;
    }
    const char *cmd = argv[1];
    const cli_command *c = find_command(cmd);
    if (c) return cli_command_main(c, argc - 1, argv + 1);
    if (!strcmp(cmd, "version") || !strcmp(cmd, "--version") || !strcmp(cmd, "-V")) {
        if (argc > 2) {
            cli_error(NULL, 1, "%s takes no arguments", cmd);
            return EXIT_USAGE;
        }
        printf("impasto %s\n", IMPASTO_VERSION);
        return 0;
    }
    if (!strcmp(cmd, "help") || !strcmp(cmd, "--help") || !strcmp(cmd, "-h")) return help(argc, argv);
    cli_error(NULL, 1, "unknown command '%s'", cmd);
    return EXIT_USAGE;
}
