/* Documents generated from the option tables (opts.h): a command's --help, the man page and
 * bash completion. */
#include "opts.h"

#include <string.h>

/* The default as help shows it: the table's text, else the field's initial value; "" for none. */
static void default_text(const cli_command *c, const void *settings, const cli_opt *o, char *buf, size_t n) {
    buf[0] = 0;
    if (o->def) {
        snprintf(buf, n, "%s", o->def);
        return;
    }
    const void *f = (const char *)settings + o->offset;
    switch (o->type) {
    case CLI_FLAG: break;
    case CLI_INT: snprintf(buf, n, "%d", *(const int *)f); break;
    case CLI_LONG: snprintf(buf, n, "%ld", *(const long *)f); break;
    case CLI_I64: snprintf(buf, n, "%lld", (long long)*(const int64_t *)f); break;
    case CLI_U64: snprintf(buf, n, "%llu", (unsigned long long)*(const uint64_t *)f); break;
    case CLI_SIZE: snprintf(buf, n, "%zu", *(const size_t *)f); break;
    case CLI_DOUBLE: snprintf(buf, n, "%g", *(const double *)f); break;
    case CLI_STRING:
        if (*(const char *const *)f) snprintf(buf, n, "%s", *(const char *const *)f);
        break;
    case CLI_CHOICE: {
        int k = *(const int *)f;
        const char *p = o->choices;
        for (int i = 0; i < k && p; i++) p = strchr(p, '|') ? strchr(p, '|') + 1 : NULL;
        if (p) snprintf(buf, n, "%.*s", (int)(strchr(p, '|') ? strchr(p, '|') - p : (long)strlen(p)), p);
        break;
    }
    case CLI_LIST: {
        const cli_numbers *nums = f;
        size_t w = 0;
        for (int i = 0; i < nums->n && w < n; i++) w += (size_t)snprintf(buf + w, n - w, "%s%g", i ? "," : "", nums->v[i]);
        break;
    }
    case CLI_PATHS: break;
    }
    (void)c;
}

/* "-c, --content FILE|DIR" */
static void opt_head(const cli_opt *o, char *buf, size_t n) {
    char arg[64] = "";
    if (o->type == CLI_CHOICE) snprintf(arg, sizeof arg, " %s", o->choices);
    else if (o->arg) snprintf(arg, sizeof arg, " %s", o->arg);
    if (o->short_name) snprintf(buf, n, "-%c, --%s%s", o->short_name, o->name, arg);
    else snprintf(buf, n, "    --%s%s", o->name, arg);
}

static void *settings_of(const cli_command *c, void *buf, size_t n) {
    if (c->settings_size > n) return NULL;
    memset(buf, 0, c->settings_size);
    ((cli_common *)buf)->max_pixels = IMPASTO_DEFAULT_MAX_PIXELS;
    c->init(buf);
    return buf;
}

/* Help lines are wrapped to this many columns. */
#define HELP_WIDTH 100

/* Prints text from column `indent` (the cursor is there), breaking at spaces before `width`;
 * continuation lines start at `indent` too. Ends the line. */
static void wrap(FILE *f, const char *text, int indent, int width) {
    int col = indent;
    const char *p = text;
    while (*p) {
        const char *sp = strchr(p, ' ');
        int len = sp ? (int)(sp - p) : (int)strlen(p);
        if (col > indent && col + 1 + len > width) {
            fprintf(f, "\n%*s", indent, "");
            col = indent;
        } else if (col > indent) {
            fputc(' ', f);
            col++;
        }
        fprintf(f, "%.*s", len, p);
        col += len;
        p += len;
        while (*p == ' ') p++;
    }
    fputc('\n', f);
}

/* Room for the largest settings struct (checked: a larger one prints no defaults). */
#define SETTINGS_MAX 16384

void cli_print_help(const cli_command *c, FILE *f) {
    static _Alignas(16) unsigned char buf[SETTINGS_MAX];
    const void *settings = settings_of(c, buf, sizeof buf);
    fprintf(f, "usage: impasto %s %s\n\n%s\n", c->name, c->synopsis, c->description);
    const char *group = NULL;
    /* Groups in the order they first appear; each group's options in table order. */
    for (const cli_opt *g = c->opts; g->name; g++) {
        int seen = 0;
        for (const cli_opt *p = c->opts; p < g; p++) seen |= !strcmp(p->group, g->group);
        if (seen) continue;
        group = g->group;
        fprintf(f, "\n%s:\n", group);
        for (const cli_opt *o = g; o->name; o++) {
            if (strcmp(o->group, group)) continue;
            char head[128], def[256] = "";
            opt_head(o, head, sizeof head);
            if (settings) default_text(c, settings, o, def, sizeof def);
            char text[600];
            if (def[0]) snprintf(text, sizeof text, "%s (default %s)", o->help, def);
            else snprintf(text, sizeof text, "%s", o->help);
            if (strlen(head) > 28) fprintf(f, "  %s\n  %-28s ", head, "");
            else fprintf(f, "  %-28s ", head);
            wrap(f, text, 31, HELP_WIDTH);
        }
    }
    fputs("  -h, --help                   this help\n", f);
    for (const cli_opt *o = c->opts; o->name; o++)
        if (o->complete == CLI_COMPLETE_MODEL) {
            fputs(CLI_MODEL_HELP, f);
            break;
        }
}

/* Troff-escapes text: backslashes, and a leading '.' or '\''. */
static void roff(FILE *f, const char *s) {
    if (*s == '.' || *s == '\'') fputs("\\&", f);
    for (; *s; s++) {
        if (*s == '\\') fputs("\\e", f);
        else if (*s == '-') fputs("\\-", f);
        else if (*s == '\n') {
            fputc('\n', f);
            if (s[1] == '.' || s[1] == '\'') fputs("\\&", f);
        } else fputc(*s, f);
    }
}

void cli_print_man(const cli_command *const *cmds, size_t n, FILE *f) {
    static _Alignas(16) unsigned char buf[SETTINGS_MAX];
    fprintf(f, ".TH IMPASTO 1 \"\" \"impasto %s\" \"User Commands\"\n", IMPASTO_VERSION);
    fputs(".SH NAME\nimpasto \\- neural image style transfer on the CPU\n.SH SYNOPSIS\n", f);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, ".B impasto %s\n", cmds[i]->name);
        roff(f, cmds[i]->synopsis);
        fputs("\n.br\n", f);
    }
    fputs(".SH DESCRIPTION\nimpasto repaints photos in the style of paintings: Gatys et al.'s optimisation over "
          "VGG\\-19 (transfer), one pass of AdaIN or WCT (adain, wct), pretrained fast style networks (fast) and "
          "training them (train); and it translates pictures from one kind to another with CycleGAN and pix2pix "
          "(gan train, translate). Every command's options follow.\n.SH COMMANDS\n", f);
    for (size_t i = 0; i < n; i++) {
        const cli_command *c = cmds[i];
        const void *settings = settings_of(c, buf, sizeof buf);
        fprintf(f, ".SS \"impasto %s\"\n", c->name);
        roff(f, c->description);
        fputc('\n', f);
        for (const cli_opt *o = c->opts; o->name; o++) {
            char head[128], def[256] = "";
            opt_head(o, head, sizeof head);
            if (settings) default_text(c, settings, o, def, sizeof def);
            fputs(".TP\n.B ", f);
            const char *h = head;
            while (*h == ' ') h++;
            roff(f, h);
            fputc('\n', f);
            roff(f, o->help);
            if (def[0]) {
                fputs(" (default ", f);
                roff(f, def);
                fputc(')', f);
            }
            fputc('\n', f);
        }
    }
    fputs(".SH ENVIRONMENT\n.TP\n.B IMPASTO_MODEL_DIR\nThe first folder searched for a model named with "
          "\\fB\\-m NAME\\fR (NAME.safetensors).\n.TP\n.B XDG_DATA_HOME\nThe user's data folder: models in "
          "$XDG_DATA_HOME/impasto/models (default ~/.local/share/impasto/models).\n"
          ".SH FILES\nModels are looked for in $IMPASTO_MODEL_DIR, the user's data folder, "
          "<bindir>/../share/impasto/models (\\fBmake install\\-models\\fR), ./models and <bindir>/../models, "
          "in that order.\n"
          ".SH \"EXIT STATUS\"\n0 done; 1 a failure while working; 2 a usage mistake (an option, argument or "
          "input the command cannot use); 130 interrupted by Ctrl\\-C (what was done is kept).\n", f);
}

static const char *complete_words(int kind) {
    switch (kind) {
    case CLI_COMPLETE_FILE: return "_impasto_files";
    case CLI_COMPLETE_IMAGE: return "_impasto_images";
    case CLI_COMPLETE_DIR: return "_impasto_dirs";
    case CLI_COMPLETE_MODEL: return "_impasto_models";
    default: return NULL;
    }
}

/* 1 when an earlier command has the first word of cmds[i]'s name ("gan train", "gan test"). */
static int family_seen(const cli_command *const *cmds, size_t i) {
    const size_t k = strcspn(cmds[i]->name, " ");
    for (size_t j = 0; j < i; j++)
        if (strcspn(cmds[j]->name, " ") == k && !strncmp(cmds[j]->name, cmds[i]->name, k)) return 1;
    return 0;
}

void cli_print_bash_completion(const cli_command *const *cmds, size_t n, FILE *f) {
    fputs("# bash completion for impasto (generated by `impasto help --bash-completion`)\n"
          "_impasto_files() { COMPREPLY=($(compgen -f -- \"$cur\")); }\n"
          "_impasto_dirs() { COMPREPLY=($(compgen -d -- \"$cur\")); }\n"
          "_impasto_images() {\n"
          "    local IFS=$'\\n' glob\n"
          "    glob=$(shopt -p extglob); shopt -s extglob\n"
          "    COMPREPLY=($(compgen -d -- \"$cur\") $(compgen -f -X '!*.@(png|PNG|jpg|JPG|jpeg|JPEG)' -- \"$cur\"))\n"
          "    eval \"$glob\"\n"
          "}\n"
          "_impasto_models() {\n"
          "    local IFS=$'\\n' names\n"
          "    names=$(impasto models --names 2>/dev/null)\n"
          "    COMPREPLY=($(compgen -W \"$names\" -- \"$cur\") $(compgen -d -- \"$cur\") "
          "$(compgen -f -X '!*.safetensors' -- \"$cur\"))\n"
          "}\n"
          "_impasto() {\n"
          "    local cur=${COMP_WORDS[COMP_CWORD]} prev=${COMP_WORDS[COMP_CWORD-1]}\n"
          "    if [ \"$COMP_CWORD\" -eq 1 ]; then\n"
          "        COMPREPLY=($(compgen -W \"help version",
          f);
    /* The first words: a two-word command ("gan train") offers its family's name once. */
    for (size_t i = 0; i < n; i++)
        if (!family_seen(cmds, i)) fprintf(f, " %.*s", (int)strcspn(cmds[i]->name, " "), cmds[i]->name);
    fputs("\" -- \"$cur\")); return\n    fi\n    local cmd=${COMP_WORDS[1]}\n    case $cmd in\n", f);
    /* A family's verb is the second word; then the pair names the command. */
    for (size_t i = 0; i < n; i++) {
        const size_t k = strcspn(cmds[i]->name, " ");
        if (!cmds[i]->name[k] || family_seen(cmds, i)) continue;
        fprintf(f, "    %.*s)\n        if [ \"$COMP_CWORD\" -eq 2 ]; then COMPREPLY=($(compgen -W \"", (int)k, cmds[i]->name);
        for (size_t j = i; j < n; j++)
            if (!strncmp(cmds[j]->name, cmds[i]->name, k + 1)) fprintf(f, "%s%s", j > i ? " " : "", cmds[j]->name + k + 1);
        fputs("\" -- \"$cur\")); return; fi\n        cmd=\"$cmd ${COMP_WORDS[2]}\" ;;\n", f);
    }
    fputs("    esac\n    case $cmd in\n", f);
    for (size_t i = 0; i < n; i++) {
        const cli_command *c = cmds[i];
        fprintf(f, "    \"%s\")\n        case $prev in\n", c->name);
        for (const cli_opt *o = c->opts; o->name; o++) {
            if (o->type == CLI_FLAG) continue;
            if (o->short_name) fprintf(f, "        -%c|--%s)", o->short_name, o->name);
            else fprintf(f, "        --%s)", o->name);
            if (o->type == CLI_CHOICE) {
                fputs(" COMPREPLY=($(compgen -W \"", f);
                for (const char *p = o->choices; *p; p++) fputc(*p == '|' ? ' ' : *p, f);
                fputs("\" -- \"$cur\")); return ;;\n", f);
            } else if (complete_words(o->complete)) {
                fprintf(f, " %s; return ;;\n", complete_words(o->complete));
            } else {
                fputs(" return ;;\n", f);
            }
        }
        fputs("        esac\n        if [[ $cur == -* ]]; then\n            COMPREPLY=($(compgen -W \"--help", f);
        for (const cli_opt *o = c->opts; o->name; o++) fprintf(f, " --%s", o->name);
        fputs("\" -- \"$cur\"))\n", f);
        if (c->positional && complete_words(c->positional_complete))
            fprintf(f, "        else\n            %s\n", complete_words(c->positional_complete));
        fputs("        fi ;;\n", f);
    }
    fputs("    esac\n}\ncomplete -o filenames -o bashdefault -F _impasto impasto\n", f);
}
