/* libFuzzer driver: the protocol state machine (src/ftp/proto.c and the command
 * handlers) fed arbitrary client bytes, as tests/proto/replay.c does, with
 * a fake effect completer in place of the session: USER gets a password
 * prompt, "bob"/"pw" logs in (home: a scratch directory), delays, data
 * set-ups, transfers and TLS steps complete at once, with the first input
 * byte choosing TLS availability and whether effects succeed. The home is
 * reset after every input that logged in, so inputs do not depend on each
 * other. */
#include <arpa/inet.h>
#include <errno.h>
#include <ftw.h>
#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "auth.h"
#include "buf.h"
#include "cmdtab.h"
#include "config.h"
#include "listing.h"
#include "log.h"
#include "proto.h"

static char g_home[] = "/tmp/ferry-fuzz-proto-XXXXXX";
static struct config *g_cfg;

static int rm_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
	(void)st;
	(void)flag;
	if (ftw->level > 0)
		(void)remove(path);
	return 0;
}

static void home_reset(void)
{
	(void)nftw(g_home, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
	char p[128];
	(void)snprintf(p, sizeof(p), "%s/a.txt", g_home);
	FILE *f = fopen(p, "w");
	if (f) {
		(void)fputs("hello\nworld\n", f);
		(void)fclose(f);
	}
	(void)snprintf(p, sizeof(p), "%s/sub", g_home);
	(void)mkdir(p, 0755);
}

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerInitialize(int *argc, char ***argv)
{
	(void)argc;
	(void)argv;
	if (!mkdtemp(g_home))
		abort();
	g_cfg = config_new_default();
	g_cfg->login_fail_delay_ms = 0;
	g_cfg->max_line = 512;
	/* Quiet: proto logs ordinary events at warn and info. */
	log_setup(LOG_TO_STDERR, LOG_LVL_ERROR, "fuzz");
	home_reset();
	return 0;
}

/* Set when an input logged in: only then can it have changed the home. */
static bool g_touched;

static void complete(struct proto *p, const struct proto_effect *e, unsigned mode)
{
	struct proto_result res = { 0 };
	struct auth_result ar = { 0 };
	struct auth_challenge ch = { .kind = AUTH_KIND_PASSWORD };
	bool fail = mode & 2;
	switch (e->kind) {
	case PROTO_EFFECT_USER_LOOKUP:
		if (mode & 8) {
			ch.kind = AUTH_KIND_OTP;
			ch.alg = OTP_MD5;
			ch.seq = 99;
			memcpy(ch.seed, "fuzz1", 6);
		}
		res.challenge = &ch;
		break;
	case PROTO_EFFECT_AUTH_CHECK:
		ar.ok = strcmp(e->user, "bob") == 0 && strcmp(e->password, "pw") == 0;
		if (ar.ok) {
			g_touched = true;
			ar.home = strdup(g_home);
			ar.perms = PERM_ALL;
			if (mode & 4)
				ar.account = strdup("acct");
		}
		res.auth = &ar;
		break;
	case PROTO_EFFECT_DATA_SETUP:
		res.port = 50000;
		res.err = fail ? -EADDRINUSE : 0;
		break;
	case PROTO_EFFECT_XFER:
		if (e->xfer.kind == XFER_SEND_LIST && e->xfer.listing) {
			struct buf got;
			buf_init(&got, 1 << 20);
			while (listing_next(e->xfer.listing, &got, 1 << 16) == 1)
				buf_consume(&got, got.len);
			buf_free(&got);
		}
		res.xfer_status = fail ? XFER_CONN_LOST : XFER_OK;
		break;
	case PROTO_EFFECT_TLS_START:
	case PROTO_EFFECT_TLS_STOP:
		res.err = fail ? -EIO : 0;
		break;
	case PROTO_EFFECT_UPLOAD_COMMIT:
		res.err = files_upload_end(e->upload, true, false);
		break;
	default:
		break;
	}
	proto_complete(p, &res);
	auth_result_free(&ar);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	if (size < 1)
		return 0;
	unsigned mode = data[0];
	data++;
	size--;
	struct sockaddr_storage local = { 0 }, peer = { 0 };
	struct sockaddr_in *l = (struct sockaddr_in *)&local, *c = (struct sockaddr_in *)&peer;
	l->sin_family = c->sin_family = AF_INET;
	(void)inet_pton(AF_INET, "192.0.2.10", &l->sin_addr);
	(void)inet_pton(AF_INET, "192.0.2.1", &c->sin_addr);
	l->sin_port = htons(21);
	c->sin_port = htons(40000);
	struct proto *p = proto_new(g_cfg, cmdtab_get(), 1, "192.0.2.1");
	proto_set_addrs(p, &local, &peer);
	proto_set_tls(p, mode & 1, (mode & 0x30) == 0x30);
	proto_greet(p);
	size_t off = 0;
	/* Each round feeds what proto takes or completes one effect: bounded. */
	for (unsigned round = 0; round < 4096; round++) {
		struct buf *out = proto_output(p);
		buf_consume(out, out->len);
		const struct proto_effect *e = proto_effect(p);
		if (e && e->kind == PROTO_EFFECT_CLOSE)
			break;
		if (e && e->kind != PROTO_EFFECT_XFER) {
			complete(p, e, mode);
			continue;
		}
		if (off == size) {
			if (!e)
				break;
			complete(p, e, mode); /* the transfer ends */
			continue;
		}
		size_t used = 0;
		if (proto_feed(p, (const char *)data + off, size - off, &used) != 0)
			break;
		off += used;
		if (used == 0 && e)
			complete(p, e, mode);
	}
	proto_free(p);
	if (g_touched)
		home_reset();
	g_touched = false;
	return 0;
}
