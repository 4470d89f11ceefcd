/* ferry_cli: what ferry.c shares with the CLI's other command files
 * (ferry_principal.c). Nothing but the ferry binary includes this. */
#ifndef FERRY_FERRY_CLI_H
#define FERRY_FERRY_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "auth.h"
#include "config.h"

enum { CLI_EXIT_OK = 0, CLI_EXIT_FAIL = 1, CLI_EXIT_USAGE = 2 };

struct cli {
	const char *conf_arg; /* -c FILE, or NULL for the default */
	struct config *cfg;
	const struct userstore_ops *ops;
	struct userstore *store;
};

/* Writes "ferry: MESSAGE" to stderr and returns code; a usage error also
 * points at --help. */
__attribute__((format(printf, 2, 3))) int cli_fail(int code, const char *fmt, ...);
#define cli_err(...) cli_fail(CLI_EXIT_FAIL, __VA_ARGS__)
#define cli_usage_err(...) cli_fail(CLI_EXIT_USAGE, __VA_ARGS__)
/* argv text made safe for a terminal; returns out. */
const char *cli_esc(const char *s, char *out, size_t outsz);
bool cli_name_valid(const char *s);
int cli_load_config(struct cli *c);
/* Drops to the service account, then opens the store as that account. */
int cli_open_store(struct cli *c, bool create);

/* ferry principal add|del|list (ferry_principal.c). */
int cli_principal(struct cli *c, int argc, char **argv);

#endif
