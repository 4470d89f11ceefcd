/* config_host: [host NAME] sections, private to config.c and config_host.c
 * (config.h has the public struct config_vhost and config_vhost_find). */
#ifndef FERRY_CONFIG_HOST_H
#define FERRY_CONFIG_HOST_H

#include "config_row.h"
#include "str.h"

/* A "[host NAME]" header: appends a host (0), or -EINVAL with why. */
int config_host_begin(struct config *c, struct slice name, unsigned line, char *why, size_t whysz);
/* A key of the last host begun; *seen is that section's keys so far. */
int config_host_key(struct config *c, const char *key, const char *value, const char *dir, unsigned *seen, char *why,
		    size_t whysz);
/* Checks and normalises h->aliases (lower case, no blanks). */
int config_host_aliases(struct config_vhost *h, char *why, size_t whysz);
/* Checks across keys and sections: 0, or -EINVAL with why and *line. */
int config_host_check(const struct config *c, unsigned *line, char *why, size_t whysz);

#endif
