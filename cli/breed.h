/* What the commands that take paintings share with impasto breed (cmd_breed.c). */
#ifndef IMPASTO_CLI_BREED_H
#define IMPASTO_CLI_BREED_H

/* 1 when a -s argument names a genes file (ends in .safetensors) rather than a picture. */
int cli_is_genes(const char *path);

#endif
