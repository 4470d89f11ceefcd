/* TYPE MODE STRU PWD: transfer parameters and the working directory name. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>

#include "cmd.h"
#include "files.h"
#include "log.h"
#include "parse.h"
#include "path.h"
#include "proto_impl.h"
#include "reply.h"
#include "util.h"

/* Splits "A N" style arguments into up to three single-space-separated
 * words; returns the count (more than three counts as 4). */
static size_t words(struct slice s, struct slice w[3])
{
	size_t n = 0;
	s = slice_trim_spaces(s);
	while (s.n) {
		struct slice head, tail;
		(void)slice_split(s, ' ', &head, &tail);
		if (n == 3)
			return 4;
		w[n++] = head;
		s = slice_trim_spaces(tail);
	}
	return n;
}

void cmd_type(struct proto *p, struct slice arg)
{
	struct slice w[3];
	size_t n = words(arg, w);
	if (n == 0 || n > 2 || w[0].n != 1) {
		proto_reply(p, 501, "Unrecognised TYPE.");
		return;
	}
	switch (w[0].p[0]) {
	case 'A':
	case 'a':
		/* RFC 959 §4.1.2: a first parameter alone means format N. */
		if (n == 2 && !slice_eq_ci(w[1], "N")) {
			if (slice_eq_ci(w[1], "T") || slice_eq_ci(w[1], "C"))
				proto_reply(p, 504, "Only TYPE A N (non-print) is supported.");
			else
				proto_reply(p, 501, "Unrecognised TYPE A format.");
			return;
		}
		p->type = 'A';
		proto_reply(p, 200, "Switching to ASCII mode.");
		return;
	case 'I':
	case 'i':
		if (n != 1)
			break;
		p->type = 'I';
		proto_reply(p, 200, "Switching to Binary mode.");
		return;
	case 'L':
	case 'l':
		if (n != 2)
			break;
		if (!slice_eq(w[1], SLICE_LIT("8"))) {
			proto_reply(p, 504, "Only TYPE L 8 is supported.");
			return;
		}
		p->type = 'I';
		proto_reply(p, 200, "Switching to Binary mode.");
		return;
	case 'E':
	case 'e':
		proto_reply(p, 504, "TYPE E (EBCDIC) is not supported.");
		return;
	default:
		break;
	}
	proto_reply(p, 501, "Unrecognised TYPE.");
}

/* MODE and STRU: one letter, of which only the first is implemented. */
static void one_letter(struct proto *p, struct slice arg, const char *what, const char *ok, const char *known)
{
	arg = slice_trim_spaces(arg);
	char c = arg.n == 1 ? arg.p[0] : '\0';
	if (c >= 'a' && c <= 'z')
		c = (char)(c - 'a' + 'A');
	if (c && c == ok[0])
		proto_reply(p, 200, "%s set to %s.", what, ok);
	else if (c && strchr(known, c))
		proto_reply(p, 504, "Only %s %s is supported.", what, ok);
	else
		proto_reply(p, 501, "Unrecognised %s.", what);
}

void cmd_mode(struct proto *p, struct slice arg)
{
	one_letter(p, arg, "MODE", "S", "BCZ");
}

void cmd_stru(struct proto *p, struct slice arg)
{
	one_letter(p, arg, "STRU", "F", "RP");
}

void cmd_pwd(struct proto *p, struct slice arg)
{
	char quoted[PATH_MAX * 2];
	if (reply_quote_path(p->cwd, quoted, sizeof(quoted)) != 0) {
		proto_reply(p, 550, "Current directory name is too long to show.");
		return;
	}
	proto_reply(p, 257, "\"%s\" is the current directory.", quoted);
}

/* ---- REST, data connection set-up, transfers (RFC 959, 2428, 3659) ---- */

void cmd_rest(struct proto *p, struct slice arg)
{
	uint64_t v;
	/* Decision 4: digits only, any TYPE; range problems are reported by
	 * the transfer command that uses the marker. */
	if (parse_u64(slice_trim_spaces(arg), INT64_MAX, &v) != 0) {
		proto_reply(p, 501, "REST needs a non-negative decimal offset.");
		return;
	}
	p->rest = v;
	p->rang = false; /* the later of REST and RANG decides */
	proto_reply(p, 350, "Restarting at %llu. Send RETR, STOR or APPE.", (unsigned long long)v);
}

/* The control connection's family as seen by the client (mapped IPv4 counts
 * as IPv4). */
static int ctl_family(const union net_sockaddr *a)
{
	if (a->sa.sa_family == AF_INET6)
		return IN6_IS_ADDR_V4MAPPED(&a->in6.sin6_addr) ? AF_INET : AF_INET6;
	return AF_INET;
}

/* SECURITY (RFC 2577 §3-4): active connections only to the control peer. */
static bool is_peer(const struct proto *p, const struct sockaddr_storage *t)
{
	const union net_sockaddr *c = &p->peer_addr;
	if (t->ss_family == AF_INET) {
		const struct sockaddr_in *a = (const void *)t;
		if (c->sa.sa_family == AF_INET)
			return memcmp(&a->sin_addr, &c->in4.sin_addr, 4) == 0;
		return IN6_IS_ADDR_V4MAPPED(&c->in6.sin6_addr) &&
		       memcmp(&a->sin_addr, &c->in6.sin6_addr.s6_addr[12], 4) == 0;
	}
	if (t->ss_family == AF_INET6 && c->sa.sa_family == AF_INET6)
		return memcmp(&((const struct sockaddr_in6 *)(const void *)t)->sin6_addr, &c->in6.sin6_addr, 16) == 0;
	return false;
}

static void setup_done(struct proto *p, const struct proto_result *r);

static void start_setup(struct proto *p, bool passive, int family, const struct sockaddr_storage *target)
{
	struct proto_effect e = { .kind = PROTO_EFFECT_DATA_SETUP, .then = setup_done };
	e.data.passive = passive;
	e.data.family = family;
	if (target)
		e.data.target = *target;
	p->data_ready = false;
	p->data_passive = passive;
	proto_start_effect(p, e);
}

void cmd_pasv(struct proto *p, struct slice arg)
{
	if (p->epsv_all) {
		proto_reply(p, 503, "EPSV ALL in effect: only EPSV is allowed.");
		return;
	}
	if (ctl_family(&p->local_addr) != AF_INET && !p->cfg->pasv_address[0]) {
		proto_reply(p, 501, "PASV is for IPv4; use EPSV.");
		return;
	}
	p->pasv_extended = false;
	start_setup(p, true, ctl_family(&p->local_addr), NULL);
}

void cmd_epsv(struct proto *p, struct slice arg)
{
	int fam = ctl_family(&p->local_addr);
	enum parse_epsv form;
	if (parse_epsv_arg(arg, &form) != 0) {
		proto_reply(p, 501, "EPSV takes 1, 2 or ALL.");
		return;
	}
	if (form == PARSE_EPSV_ALL) {
		p->epsv_all = true;
		proto_reply(p, 200, "EPSV ALL ok.");
		return;
	}
	if (form != PARSE_EPSV_ANY && (form == PARSE_EPSV_V4 ? AF_INET : AF_INET6) != fam) {
		proto_reply(p, 522, "Network protocol not supported, use (%d)", fam == AF_INET ? 1 : 2);
		return;
	}
	p->pasv_extended = true;
	start_setup(p, true, fam, NULL);
}

static void active(struct proto *p, const struct sockaddr_storage *t, const char *verb)
{
	if (p->epsv_all) {
		proto_reply(p, 503, "EPSV ALL in effect: only EPSV is allowed.");
		return;
	}
	if (!is_peer(p, t)) {
		log_warn(p->sid, "%s to a foreign address refused: ip=%s", verb, p->peer);
		proto_reply(p, 500, "Illegal %s command: address is not the client's.", verb);
		return;
	}
	uint16_t port = ntohs(t->ss_family == AF_INET ? ((const struct sockaddr_in *)(const void *)t)->sin_port
						      : ((const struct sockaddr_in6 *)(const void *)t)->sin6_port);
	if (port < 1024) {
		proto_reply(p, 504, "%s to a port below 1024 is not allowed.", verb);
		return;
	}
	p->setup_verb = verb;
	start_setup(p, false, t->ss_family, t);
}

void cmd_port(struct proto *p, struct slice arg)
{
	struct sockaddr_storage t;
	if (parse_port_arg(arg, &t) != 0) {
		proto_reply(p, 501, "Syntax error in PORT arguments.");
		return;
	}
	if (ctl_family(&p->peer_addr) != AF_INET) {
		proto_reply(p, 522, "Network protocol not supported, use (2)");
		return;
	}
	active(p, &t, "PORT");
}

void cmd_eprt(struct proto *p, struct slice arg)
{
	struct sockaddr_storage t;
	int af;
	int r = parse_eprt_arg(arg, &af, &t);
	int fam = ctl_family(&p->peer_addr);
	/* The order of the replies is parse_eprt_arg's order of checks, with
	 * a family this connection cannot use refused as soon as it is known. */
	if (r == -EINVAL && !af) {
		proto_reply(p, 501, "Syntax error in EPRT arguments.");
	} else if (r == -EAFNOSUPPORT || (af == 1) != (fam == AF_INET)) {
		proto_reply(p, 522, "Network protocol not supported, use %s", fam == AF_INET ? "(1)" : "(2)");
	} else if (r == -EINVAL) {
		proto_reply(p, 501, "Syntax error in EPRT arguments.");
	} else if (r) {
		proto_reply(p, 501, "Syntax error in EPRT address.");
	} else {
		active(p, &t, "EPRT");
	}
}

static void setup_done(struct proto *p, const struct proto_result *r)
{
	if (!p->data_passive) {
		p->data_ready = true;
		proto_reply(p, 200, "%s command successful.", p->setup_verb ? p->setup_verb : "PORT");
		return;
	}
	if (!r || r->err) {
		proto_reply(p, 425, "Cannot open a passive data connection.");
		return;
	}
	p->data_ready = true;
	if (p->pasv_extended) {
		proto_reply(p, 229, "Entering Extended Passive Mode (|||%u|)", r->port);
		return;
	}
	unsigned char ip[4] = { 127, 0, 0, 1 };
	if (p->cfg->pasv_address[0]) {
		(void)inet_pton(AF_INET, p->cfg->pasv_address, ip);
	} else if (p->local_addr.sa.sa_family == AF_INET) {
		memcpy(ip, &p->local_addr.in4.sin_addr, 4);
	} else {
		memcpy(ip, &p->local_addr.in6.sin6_addr.s6_addr[12], 4);
	}
	proto_reply(p, 227, "Entering Passive Mode (%u,%u,%u,%u,%u,%u).", ip[0], ip[1], ip[2], ip[3], r->port >> 8,
		    r->port & 255);
}

static bool need_data(struct proto *p)
{
	/* [tls] required = data|all: RFC 4217 §10.2, refused before any 1xx. */
	if ((p->cfg->tls_required & 2) && p->prot != 'P') {
		proto_reply(p, 521, "Data connections must be protected: send PBSZ 0 and PROT P.");
		return false;
	}
	if (p->data_ready)
		return true;
	proto_reply(p, 425, "Use PORT, PASV, EPRT or EPSV first.");
	return false;
}

static void xfer_done(struct proto *p, const struct proto_result *r);

static void start_xfer(struct proto *p, enum xfer_cmd cmd, struct proto_xfer x)
{
	/* PROT under GSSAPI: RFC 2228 §6 blocks; under TLS: a TLS data connection. */
	if (p->gss == GSS_ON) {
		x.gss_prot = p->prot == 'C' ? 0 : p->prot;
		x.pbsz = p->pbsz_size;
	} else {
		x.protect = p->prot == 'P';
	}
	struct proto_effect e = { .kind = PROTO_EFFECT_XFER, .xfer = x, .then = xfer_done };
	p->xcmd = cmd;
	p->xfer_bytes = 0;
	p->xfer_start_ms = p->now_ms;
	memcpy(p->xfer_verb, p->verb, sizeof(p->xfer_verb));
	proto_start_effect(p, e);
}

/* RETR's 150 and the transfer of p->xfer_fd; counted: wire is the TYPE A
 * count for the reply. */
static void retr_start(struct proto *p, uint64_t rest, uint64_t size, bool counted, uint64_t wire)
{
	const char *name = path_basename(p->xfer_name);
	if (p->type == 'A' && counted)
		proto_reply(p, 150, "Opening ASCII mode data connection for %s (%llu bytes).", name,
			    (unsigned long long)wire);
	else if (p->type == 'A')
		proto_reply(p, 150, "Opening ASCII mode data connection for %s.", name);
	else
		proto_reply(p, 150, "Opening BINARY mode data connection for %s (%llu bytes).", name,
			    (unsigned long long)(size - rest));
	start_xfer(
	    p, XCMD_RETR,
	    (struct proto_xfer){
		.kind = XFER_SEND_FILE, .fd = p->xfer_fd, .offset = rest, .size = size, .ascii = p->type == 'A' });
}

/* The TYPE A count for RETR's 150 (from the job pool); REST is refused in
 * TYPE A, so the transfer starts at 0. */
static void retr_counted(struct proto *p, const struct proto_result *r)
{
	struct stat st;
	uint64_t size = vfs_fstat(p->xfer_fd, &st) == 0 ? (uint64_t)st.st_size : 0;
	retr_start(p, 0, size, r && !r->err, r ? r->bytes : 0);
}

void cmd_retr(struct proto *p, struct slice arg)
{
	uint64_t rest = p->rest;
	bool rang = p->rang;
	p->rest = 0; /* used by this command whatever happens */
	p->rang = false;
	if (rang && p->type == 'A') { /* draft-bryan-ftp-range §5 */
		proto_reply(p, 551, "RANG needs TYPE I.");
		return;
	}
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_READ, arg, vpath))
		return;
	struct files_user u = proto_files_user(p);
	struct files_read f;
	int r = files_open_read(&u, vpath, rang ? 0 : rest, &f);
	if (r == -ERANGE) {
		proto_reply(p, 554, "Restart offset %llu is beyond the end of the file.", (unsigned long long)rest);
		return;
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	int fd = f.fd;
	uint64_t size = f.size;
	if (rang) {
		/* draft-bryan-ftp-range §4.3: bytes start..end (inclusive), as
		 * much of them as the file has; nothing when start is past it. */
		rest = p->rang_start < size ? p->rang_start : size;
		if (p->rang_end < size)
			size = p->rang_end + 1;
	}
	if (rest && p->type == 'A') {
		vfs_fd_close(fd);
		proto_reply(p, 555, "Restart offsets need TYPE I.");
		return;
	}
	if (!need_data(p)) {
		vfs_fd_close(fd);
		return;
	}
	p->xfer_fd = fd;
	proto_set_str(&p->xfer_name, vpath);
	/* Python and curl read "(N bytes)" as the size: in TYPE A that is the
	 * count after conversion, read on the job pool (retr_counted) unless
	 * the file is too large for it. */
	if (p->type == 'A' && size <= ASCII_SIZE_LIMIT) {
		proto_count_ascii(p, fd, retr_counted);
		return;
	}
	retr_start(p, rest, size, false, 0);
}

static void store(struct proto *p, struct slice arg, enum xfer_cmd cmd)
{
	uint64_t rest = p->rest;
	p->rest = 0;
	if (p->rang) { /* writing inside a file without truncating it is not offered */
		p->rang = false;
		proto_reply(p, 504, "RANG applies to RETR and HASH only; use REST to resume an upload.");
		return;
	}
	char vpath[PATH_MAX];
	if (!proto_files_resolve(p, FILES_OP_UPLOAD, cmd == XCMD_STOU ? SLICE_LIT(".") : arg, vpath))
		return;
	if (rest && p->type == 'A') {
		/* An on-disk offset means nothing for a converted stream. */
		proto_reply(p, 555, "Restart offsets need TYPE I.");
		return;
	}
	if (!need_data(p))
		return;
	enum vfs_upload_mode mode = VFS_UPLOAD_REPLACE;
	if (cmd == XCMD_STOU)
		mode = VFS_UPLOAD_UNIQUE;
	else if (rest) /* REST + STOR/APPE: write at the offset (RFC 3659 §5.3) */
		mode = VFS_UPLOAD_RESUME;
	else if (cmd == XCMD_APPE)
		mode = VFS_UPLOAD_APPEND;
	struct files_user u = proto_files_user(p);
	struct vfs_upload *up;
	int r = files_upload_begin(&u, vpath, mode, rest, &up);
	if (r == -ERANGE) {
		proto_reply(p, 554, "Restart offset %llu is beyond the end of the file.", (unsigned long long)rest);
		return;
	}
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	p->upload = up;
	if (cmd == XCMD_STOU) {
		char full[PATH_MAX];
		(void)path_resolve(vpath, slice_from_cstr(p->upload->unique_name), full, sizeof(full));
		proto_set_str(&p->xfer_name, full);
		/* RFC 1123 §4.1.2.9: the name in the preliminary reply, this form. */
		proto_reply(p, 150, "FILE: %s", p->upload->unique_name);
	} else {
		proto_set_str(&p->xfer_name, vpath);
		proto_reply(p, 150, "Ok to send data.");
	}
	start_xfer(p, cmd,
		   (struct proto_xfer){ .kind = XFER_RECV_FILE,
					.fd = p->upload->fd,
					.ascii = p->type == 'A',
					.durable = p->upload->durable,
					.upload = p->upload });
}

void cmd_stor(struct proto *p, struct slice arg)
{
	store(p, arg, XCMD_STOR);
}

void cmd_appe(struct proto *p, struct slice arg)
{
	store(p, arg, XCMD_APPE);
}

void cmd_stou(struct proto *p, struct slice arg)
{
	store(p, arg, XCMD_STOU);
}

/* LIST/NLST take ls-style options ("-la") before the path; they are
 * accepted, -a is honoured, the rest ignored. */
static struct slice list_options(struct slice arg, bool *all)
{
	arg = slice_trim_spaces(arg);
	while (arg.n && arg.p[0] == '-') {
		struct slice word, rest;
		(void)slice_split(arg, ' ', &word, &rest);
		if (memchr(word.p, 'a', word.n) || memchr(word.p, 'A', word.n))
			*all = true;
		arg = slice_trim_spaces(rest);
	}
	return arg;
}

static void list_start(struct proto *p, const char *vpath, struct proto_xfer x)
{
	p->xfer_listing = x.listing;
	proto_set_str(&p->xfer_name, vpath);
	proto_reply(p, 150, "Here comes the directory listing.");
	start_xfer(p, XCMD_LIST, x);
}

/* A LIST/NLST pattern's first match was looked for (proto_list_glob). */
static void glob_peeked(struct proto *p, const struct proto_result *r)
{
	if (!proto_list_glob_found(p, r))
		return;
	struct listing *matches = p->xfer_listing;
	if (need_data(p)) {
		list_start(p, p->xfer_name, (struct proto_xfer){ .kind = XFER_SEND_LIST, .listing = matches });
		return;
	}
	listing_free(matches);
	p->xfer_listing = NULL;
}

static void list(struct proto *p, struct slice arg, enum listing_format fmt)
{
	struct listing_opts o = { .facts = p->mlst_facts, .perms = p->perms, .now = p->wall_s };
	char vpath[PATH_MAX];
	struct stat st;
	if (!proto_allow(p, FILES_OP_LIST))
		return;
	if (fmt != LISTING_MLSD) {
		arg = list_options(arg, &o.all);
		/* Decision 14: a pattern in the last component lists its matches. */
		if (proto_list_glob(p, arg, fmt, &o, glob_peeked))
			return;
	}
	if (!proto_files_resolve(p, FILES_OP_LIST, arg.n ? arg : SLICE_LIT("."), vpath))
		return;
	struct files_user u = proto_files_user(p);
	int r = files_stat(&u, vpath, &st);
	if (r) {
		proto_reply_errno(p, r);
		return;
	}
	if (!S_ISDIR(st.st_mode) && fmt == LISTING_MLSD) {
		/* RFC 3659 §7.1: MLSD of a file is an error; no data connection. */
		proto_reply(p, 501, "MLSD needs a directory; use MLST for a file.");
		return;
	}
	if (!need_data(p))
		return;
	struct proto_xfer x = { .kind = XFER_SEND_LIST };
	if (S_ISDIR(st.st_mode)) {
		r = files_list_open(&u, vpath, fmt, &o, &x.listing);
		if (r) {
			proto_reply_errno(p, r);
			return;
		}
	} else {
		/* One line for one file: stream it through the same path. */
		buf_reset(&p->xfer_buf);
		if (fmt == LISTING_LIST)
			r = listing_list_line(&p->xfer_buf, path_basename(vpath), &st, NULL, &o);
		else
			r = buf_printf(&p->xfer_buf, "%.*s\r\n", (int)arg.n, arg.p); /* as the client named it */
		if (r) {
			proto_reply(p, 550, "Name too long to list.");
			return;
		}
		x.buf = &p->xfer_buf;
	}
	list_start(p, vpath, x);
}

void cmd_list(struct proto *p, struct slice arg)
{
	list(p, arg, LISTING_LIST);
}

void cmd_nlst(struct proto *p, struct slice arg)
{
	list(p, arg, LISTING_NLST);
}

void cmd_mlsd(struct proto *p, struct slice arg)
{
	list(p, arg, LISTING_MLSD);
}

void cmd_abor(struct proto *p, struct slice arg)
{
	if (proto_in_xfer(p)) {
		/* The session stops the transfer; xfer_done then sends
		 * 426 followed by 226 (RFC 959 §4.1.3, Decision 10), and 225 for
		 * any further ABOR of the same transfer. */
		p->effect->xfer.abort = true;
		p->abor_count++;
		return;
	}
	proto_reply(p, 225, "No transfer to abort.");
}

static const char *const cmd_names[] = {
	[XCMD_RETR] = "RETR", [XCMD_STOR] = "STOR", [XCMD_APPE] = "APPE", [XCMD_STOU] = "STOU", [XCMD_LIST] = "LIST",
};

/* Why a transfer did not complete, one token for the logs (NULL: it did). */
static const char *xfer_reason(enum proto_xfer_status status, int err)
{
	switch (status) {
	case XFER_OK:
		return NULL;
	case XFER_NO_CONNECTION:
		return "no-data-connection";
	case XFER_CONN_LOST:
		return err == -ETIMEDOUT ? "timeout" : "conn-lost";
	case XFER_ABORTED:
		return "aborted";
	case XFER_TLS_FAILED:
		return "tls-failed";
	case XFER_TLS_NO_REUSE:
		return "tls-no-reuse";
	case XFER_PROT_FAILED:
		return "prot-failed";
	case XFER_LOCAL_ERROR:
		break;
	}
	return err == -ENOSPC ? "disk-full" : err == -EDQUOT ? "quota" : err == -EFBIG ? "file-too-big" : "local-error";
}

/* The transfer's event and its replies (p->xend says how it ended). */
static void xfer_report(struct proto *p)
{
	enum proto_xfer_status status = p->xend.status;
	int err = p->xend.err;
	uint64_t bytes = p->xend.bytes;
	unsigned abors = p->xend.abors;
	struct files_event ev = {
		.sid = p->sid,
		.user = p->user,
		.ip = p->peer,
		.protocol = p->tls ? "ftps" : "ftp",
		.home = p->home,
		.kind = p->xcmd == XCMD_RETR   ? FILES_XFER_READ
			: p->xcmd == XCMD_LIST ? FILES_XFER_LIST
					       : FILES_XFER_WRITE,
		.cmd = cmd_names[p->xcmd],
		.verb = p->xcmd == XCMD_LIST && p->xfer_verb[0] ? p->xfer_verb : cmd_names[p->xcmd],
		.path = p->xfer_name,
		.bytes = bytes,
		.duration_ms = p->now_ms - p->xfer_start_ms,
		.result = status == XFER_OK	   ? FILES_OK
			  : status == XFER_ABORTED ? FILES_ABORTED
						   : FILES_FAILED,
		.reason = p->xend.ctl_closed ? "control-closed" : xfer_reason(status, err),
		.local_error = status == XFER_LOCAL_ERROR,
		.err = err,
		.ascii = p->type == 'A',
	};
	files_event(&p->files_sink, &ev);
	free(p->xfer_name);
	p->xfer_name = NULL;
	buf_free(&p->xfer_buf);
	switch (status) {
	case XFER_OK:
		proto_reply(p, 226, "Transfer complete.");
		break;
	case XFER_NO_CONNECTION:
		proto_reply(p, 425, "Cannot open data connection.");
		break;
	case XFER_CONN_LOST:
		proto_reply(p, 426, "Connection closed; transfer aborted.");
		break;
	case XFER_ABORTED:
		proto_reply(p, 426, "Transfer aborted. Data connection closed.");
		proto_reply(p, 226, "Abort successful.");
		if (abors)
			abors--;
		break;
	case XFER_TLS_FAILED:
		proto_reply(p, 522, "TLS negotiation on the data connection failed.");
		break;
	case XFER_TLS_NO_REUSE:
		proto_reply(p, 522,
			    "Data connection refused: it must resume the TLS session of the control "
			    "connection ([tls] data_reuse = require).");
		break;
	case XFER_PROT_FAILED:
		proto_reply(p, 535, "Data protection failure; transfer aborted.");
		break;
	case XFER_LOCAL_ERROR:
		if (err == -EDQUOT) /* RFC 959: "exceeded storage allocation" */
			proto_reply(p, 552, "Exceeded storage allocation (quota); transfer aborted.");
		else if (err == -ENOSPC || err == -EFBIG)
			proto_reply(p, 552, "Insufficient storage space; transfer aborted.");
		else
			proto_reply(p, 451, "Local error: %s; transfer aborted.", strerror(-err));
		break;
	}
	/* An ABOR that found the transfer already over (or a repeated one). */
	for (; abors; abors--)
		proto_reply(p, 225, "No transfer to abort.");
}

/* A durable upload's commit is done (the fsyncs included): its result
 * decides between 226 and 451. */
static void commit_done(struct proto *p, const struct proto_result *r)
{
	int c = r ? r->err : -EIO;
	if (c) {
		p->xend.status = XFER_LOCAL_ERROR;
		p->xend.err = c;
	}
	xfer_report(p);
}

static void xfer_done(struct proto *p, const struct proto_result *r)
{
	enum proto_xfer_status status = r ? r->xfer_status : XFER_LOCAL_ERROR;
	p->xend.abors = p->abor_count;
	p->abor_count = 0;
	p->xend.err = r ? r->err : -EIO;
	p->xend.bytes = r ? r->bytes : 0;
	p->xend.ctl_closed = r && r->ctl_closed;
	p->data_ready = false; /* a fresh PASV/PORT for every transfer (RFC 1123 §4.1.2.6) */
	if (p->xfer_listing) {
		listing_free(p->xfer_listing);
		p->xfer_listing = NULL;
	}
	if (p->xcmd == XCMD_RETR && p->xfer_fd >= 0) {
		vfs_fd_close(p->xfer_fd);
		p->xfer_fd = -1;
	}
	if (p->upload) {
		struct vfs_upload *up = p->upload;
		p->upload = NULL;
		if (status == XFER_OK && up->durable) {
			/* fsync takes as long as the disk needs: off the loop, and
			 * the 226 only once it is done. */
			p->xend.status = status;
			proto_start_effect(p, (struct proto_effect){ .kind = PROTO_EFFECT_UPLOAD_COMMIT,
								     .upload = up,
								     .then = commit_done });
			return;
		}
		/* Interrupted, not failed, is resumable by its uploader (a TYPE A
		 * stream has no byte offset to resume at). */
		bool interrupted = (status == XFER_CONN_LOST || status == XFER_ABORTED) && p->type != 'A';
		int c = files_upload_end(up, status == XFER_OK, interrupted);
		if (c) {
			status = XFER_LOCAL_ERROR;
			p->xend.err = c;
		}
	}
	p->xend.status = status;
	xfer_report(p);
}
