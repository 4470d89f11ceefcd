/* sftp_none: stands in for the SFTP front-end in a build without libssh
 * (-Dsftp=disabled): a config asking for it is refused at --check and at
 * start (buildinfo.c), so none of the rest is reached. */
#include "sftp.h"

#include <errno.h>
#include <stdio.h>
#include <unistd.h>

int sftp_check_config(const struct config *c, const char **section, const char **key, char *why, size_t whysz)
{
	if (!c->n_sftp_listen && !c->sftp_host_keys[0])
		return 0;
	*section = "sftp";
	*key = c->n_sftp_listen ? "listen" : "host_keys";
	(void)snprintf(why, whysz, "ferryd was built without SFTP (meson -Dsftp=disabled)");
	return -ENOTSUP;
}

int sftp_keys_load(const struct config *cfg, uid_t uid, gid_t gid, struct sftp_keys **out, char *err, size_t errsz)
{
	*out = NULL;
	(void)snprintf(err, errsz, "[sftp]: ferryd was built without SFTP");
	return -ENOTSUP;
}

void sftp_keys_free(struct sftp_keys *k) {}

int sftp_keys_default_path(const struct config *cfg, char *out, size_t outsz)
{
	return -ENOTSUP;
}

int sftp_host_init(struct sftp_host *h, const struct sftp_keys *keys, char *err, size_t errsz)
{
	(void)snprintf(err, errsz, "[sftp]: ferryd was built without SFTP");
	return -ENOTSUP;
}

void sftp_host_fini(struct sftp_host *h) {}

void sftp_session_start(struct sftp_host *h, const struct config *cfg, int fd, const struct sockaddr_storage *peer,
			uint64_t id, const char *refuse)
{
	(void)close(fd); /* not reached: no [sftp] listen in this build */
	config_unref(cfg);
}

void sftp_host_close_all(struct sftp_host *h) {}

size_t sftp_host_drain_end(struct sftp_host *h)
{
	return 0;
}

int sftp_pubkey_parse(const char *line, size_t len, struct user_key *out, char *err, size_t errsz)
{
	*out = (struct user_key){ 0 };
	(void)snprintf(err, errsz,
		       "ferry was built without SFTP (meson -Dsftp=disabled): SSH keys cannot be checked, so none "
		       "can be added");
	return -ENOTSUP;
}
