/* hooks_http: the HTTP POST of the [hooks] upload_url hook (hooks.c runs it
 * on its threads, in the hook runner process). hooks_http.c is the only
 * libcurl user; hooks_http_none.c stands in for it without libcurl
 * (-Dhooks=disabled), where upload_url is refused and upload_exec works. */
#ifndef FERRY_HOOKS_HTTP_H
#define FERRY_HOOKS_HTTP_H

#include <stddef.h>
#include <stdint.h>

/* Process-wide set-up and tear-down, before the first and after the last
 * thread that posts: 0 or -EIO (-ENOTSUP when not built in). */
int hooks_http_global_init(void);
void hooks_http_global_cleanup(void);

/* One hook's request: POST body (JSON) to url, each attempt bounded by
 * timeout_ms. url and body are borrowed and must outlive it. NULL when out
 * of memory. The handle is reused across attempts (keep-alive). */
struct hooks_http;
struct hooks_http *hooks_http_new(const char *url, const char *body, uint32_t timeout_ms);
/* One attempt: 0 on a 2xx answer (its status in *code); otherwise nonzero
 * with why ("HTTP 500", or the transfer error). */
int hooks_http_post(struct hooks_http *hh, long *code, char *why, size_t whysz);
void hooks_http_free(struct hooks_http *hh);

struct config;
/* Config check of this build (buildinfo.c): nonzero, with the key and why,
 * when c asks for an HTTP hook and it is not built in. */
int hooks_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz);

#endif
