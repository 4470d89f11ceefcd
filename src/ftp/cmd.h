/* cmd: the command handlers (cmd_*.c), named by the command table
 * (cmdtab.c) and by each other; proto.c calls them only through the table's
 * rows (cmdtab.h), never by name. Each takes the command's argument,
 * borrowed for the call, and answers through proto (proto_impl.h). */
#ifndef FERRY_CMD_H
#define FERRY_CMD_H

#include "str.h"

struct proto;

/* Handlers (cmd_fs.c, cmd_gss.c, cmd_login.c, cmd_misc.c, cmd_xfer.c). */
void cmd_user(struct proto *p, struct slice arg);
void cmd_pass(struct proto *p, struct slice arg);
void cmd_acct(struct proto *p, struct slice arg);
void cmd_rein(struct proto *p, struct slice arg);
void cmd_host(struct proto *p, struct slice arg);
void cmd_quit(struct proto *p, struct slice arg);
void cmd_noop(struct proto *p, struct slice arg);
void cmd_syst(struct proto *p, struct slice arg);
void cmd_feat(struct proto *p, struct slice arg);
void cmd_help(struct proto *p, struct slice arg);
void cmd_stat(struct proto *p, struct slice arg);
void cmd_opts(struct proto *p, struct slice arg);
void cmd_clnt(struct proto *p, struct slice arg);
void cmd_allo(struct proto *p, struct slice arg);
void cmd_pwd(struct proto *p, struct slice arg);
void cmd_type(struct proto *p, struct slice arg);
void cmd_mode(struct proto *p, struct slice arg);
void cmd_stru(struct proto *p, struct slice arg);
void cmd_cwd(struct proto *p, struct slice arg);
void cmd_cdup(struct proto *p, struct slice arg);
void cmd_mkd(struct proto *p, struct slice arg);
void cmd_rmd(struct proto *p, struct slice arg);
void cmd_dele(struct proto *p, struct slice arg);
void cmd_rnfr(struct proto *p, struct slice arg);
void cmd_rnto(struct proto *p, struct slice arg);
void cmd_size(struct proto *p, struct slice arg);
void cmd_avbl(struct proto *p, struct slice arg); /* cmd_avbl.c */
void cmd_mdtm(struct proto *p, struct slice arg);
void cmd_mlst(struct proto *p, struct slice arg);
void cmd_rest(struct proto *p, struct slice arg);
void cmd_pasv(struct proto *p, struct slice arg);
void cmd_epsv(struct proto *p, struct slice arg);
void cmd_port(struct proto *p, struct slice arg);
void cmd_eprt(struct proto *p, struct slice arg);
void cmd_retr(struct proto *p, struct slice arg);
void cmd_stor(struct proto *p, struct slice arg);
void cmd_appe(struct proto *p, struct slice arg);
void cmd_stou(struct proto *p, struct slice arg);
void cmd_list(struct proto *p, struct slice arg);
void cmd_nlst(struct proto *p, struct slice arg);
void cmd_mlsd(struct proto *p, struct slice arg);
void cmd_abor(struct proto *p, struct slice arg);
void cmd_mfmt(struct proto *p, struct slice arg);
void cmd_auth(struct proto *p, struct slice arg);
void cmd_pbsz(struct proto *p, struct slice arg);
void cmd_prot(struct proto *p, struct slice arg);
void cmd_ccc(struct proto *p, struct slice arg);
void cmd_mff(struct proto *p, struct slice arg);
void cmd_stat_path(struct proto *p, struct slice arg);
void cmd_adat(struct proto *p, struct slice arg);
void cmd_conf(struct proto *p, struct slice arg);
void cmd_site(struct proto *p, struct slice arg);
void cmd_site_help(struct proto *p, struct slice arg);
void cmd_site_chmod(struct proto *p, struct slice arg);
/* Checksums (cmd_hash.c): HASH, RANG, the X forms; OPTS HASH. */
void cmd_hash(struct proto *p, struct slice arg);
void cmd_rang(struct proto *p, struct slice arg);
void cmd_xcrc(struct proto *p, struct slice arg);
void cmd_xmd5(struct proto *p, struct slice arg);
void cmd_xsha1(struct proto *p, struct slice arg);
void cmd_xsha256(struct proto *p, struct slice arg);
void cmd_xsha512(struct proto *p, struct slice arg);
void cmd_opts_hash(struct proto *p, struct slice arg);

/* RFC 2228 (cmd_gss.c). The protection of the control channel itself
 * (unwrapping MIC/ENC, wrapping their replies) is the dispatcher's, in
 * proto.c; these are the security commands. */
/* Forgets the security association (AUTH, REIN). */
void gss_drop(struct proto *p);
void cmd_auth_gssapi(struct proto *p);
void cmd_pbsz_gss(struct proto *p, struct slice arg);
void cmd_prot_gss(struct proto *p, struct slice arg);
void cmd_ccc_gss(struct proto *p);

#endif
