/* buildinfo: what this build of ferryd has built in (meson features,
 * meson_options.txt), and the config check that refuses keys asking for a
 * part that is not: each optional part's file (or its *_none.c stand-in)
 * answers for itself. */
#ifndef FERRY_BUILDINFO_H
#define FERRY_BUILDINFO_H

#include <stddef.h>

struct config;

/* The optional parts built in, space-separated ("gssapi metrics hooks
 * systemd"; "" for none). Static storage. */
const char *buildinfo_features(void);

/* A config_load_checked() check: nonzero when c sets a key whose part this
 * build leaves out, with that key's section and name and why (borrowed
 * static strings; why is written). */
int buildinfo_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz);

#endif
