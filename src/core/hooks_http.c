/* hooks_http: the upload_url POST with libcurl (hooks_http.h). */
#include "hooks_http.h"

#include <curl/curl.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "config.h"

struct hooks_http {
	CURL *c;
	struct curl_slist *hdr;
};

int hooks_http_global_init(void)
{
	return curl_global_init(CURL_GLOBAL_DEFAULT) == CURLE_OK ? 0 : -EIO;
}

void hooks_http_global_cleanup(void)
{
	curl_global_cleanup();
}

static size_t discard(char *p, size_t size, size_t n, void *arg)
{
	(void)p;
	(void)arg;
	return size * n;
}

struct hooks_http *hooks_http_new(const char *url, const char *body, uint32_t timeout_ms)
{
	struct hooks_http *hh = calloc(1, sizeof(*hh));
	if (!hh)
		return NULL;
	hh->c = curl_easy_init();
	hh->hdr = curl_slist_append(NULL, "Content-Type: application/json");
	if (!hh->c || !hh->hdr) {
		hooks_http_free(hh);
		return NULL;
	}
	(void)curl_easy_setopt(hh->c, CURLOPT_URL, url);
	(void)curl_easy_setopt(hh->c, CURLOPT_POSTFIELDS, body);
	(void)curl_easy_setopt(hh->c, CURLOPT_HTTPHEADER, hh->hdr);
	(void)curl_easy_setopt(hh->c, CURLOPT_TIMEOUT_MS, (long)timeout_ms);
	(void)curl_easy_setopt(hh->c, CURLOPT_NOSIGNAL, 1L);
	(void)curl_easy_setopt(hh->c, CURLOPT_PROTOCOLS_STR, "http,https");
	(void)curl_easy_setopt(hh->c, CURLOPT_WRITEFUNCTION, discard);
	return hh;
}

int hooks_http_post(struct hooks_http *hh, long *code, char *why, size_t whysz)
{
	*code = 0;
	CURLcode cr = curl_easy_perform(hh->c);
	if (cr != CURLE_OK) {
		(void)snprintf(why, whysz, "%s", curl_easy_strerror(cr));
		return -EIO;
	}
	(void)curl_easy_getinfo(hh->c, CURLINFO_RESPONSE_CODE, code);
	if (*code >= 200 && *code < 300)
		return 0;
	(void)snprintf(why, whysz, "HTTP %ld", *code);
	return -EIO;
}

void hooks_http_free(struct hooks_http *hh)
{
	if (!hh)
		return;
	curl_slist_free_all(hh->hdr);
	if (hh->c)
		curl_easy_cleanup(hh->c);
	free(hh);
}

int hooks_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	return 0; /* upload_exec and upload_url are both built in */
}
