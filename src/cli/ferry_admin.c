/* ferry status / ferry kick: ask the running ferryd over its admin socket
 * ([admin] socket; see admin.h for the protocol). */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <sys/un.h>
#include <unistd.h>

#include "ferry_cli.h"
#include "util.h"

#define ADMIN_CLI_TIMEOUT_S 10

/* Sends req and copies the answer to stdout; first gets its first line. */
static int admin_ask(struct cli *c, const char *req, char *first, size_t firstsz)
{
	int rc = cli_load_config(c);
	if (rc)
		return rc;
	const char *path = c->cfg->admin_socket;
	if (!path[0])
		return cli_err("[admin] socket is not set in the configuration: ferryd has no admin socket");
	struct sockaddr_un sa = { .sun_family = AF_UNIX };
	if (strlen(path) >= sizeof(sa.sun_path))
		return cli_err("[admin] socket: path too long");
	memcpy(sa.sun_path, path, strlen(path) + 1);
	int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (fd < 0)
		return cli_err("socket: %s", strerror(errno));
	struct timeval tv = { ADMIN_CLI_TIMEOUT_S, 0 };
	(void)setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	(void)setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	if (connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
		int e = errno;
		(void)close(fd);
		return cli_err("cannot reach ferryd at %s: %s%s", path, strerror(e),
			       e == EACCES ? " (run as root or as a member of the service user's group)" : "");
	}
	size_t n = strlen(req);
	if (send(fd, req, n, MSG_NOSIGNAL) != (ssize_t)n) {
		(void)close(fd);
		return cli_err("cannot send to ferryd: %s", strerror(errno));
	}
	char buf[4096];
	size_t got = 0;
	first[0] = '\0';
	for (;;) {
		ssize_t r = recv(fd, buf, sizeof(buf), 0);
		if (r < 0 && errno == EINTR)
			continue;
		if (r < 0) {
			(void)close(fd);
			return cli_err("no answer from ferryd: %s", strerror(errno));
		}
		if (r == 0)
			break;
		if (got == 0) {
			size_t k = strcspn(buf, "\n");
			if (k > (size_t)r)
				k = (size_t)r;
			if (k >= firstsz)
				k = firstsz - 1;
			memcpy(first, buf, k);
			first[k] = '\0';
		}
		(void)fwrite(buf, 1, (size_t)r, stdout);
		got += (size_t)r;
	}
	(void)close(fd);
	if (got == 0)
		return cli_err("ferryd closed the connection without an answer");
	return strncmp(first, "error:", 6) == 0 ? CLI_EXIT_FAIL : CLI_EXIT_OK;
}

int cli_status(struct cli *c, int argc, char **argv)
{
	if (argc > 0)
		return cli_usage_err("status: unexpected argument '%s'", argv[0]);
	char first[128];
	return admin_ask(c, "status\n", first, sizeof(first));
}

/* ferry kick ID | --user NAME | --ip ADDRESS: FTP and SFTP sessions alike. */
int cli_kick(struct cli *c, int argc, char **argv)
{
	char req[160], first[160];
	if (argc == 2 && (strcmp(argv[0], "--user") == 0 || strcmp(argv[0], "--ip") == 0)) {
		size_t n = strlen(argv[1]);
		if (n == 0 || n > 95 || strcspn(argv[1], " \t\r\n") != n)
			return cli_usage_err("kick: %s needs a value without spaces (at most 95 bytes)", argv[0]);
		(void)snprintf(req, sizeof(req), "kick %s %s\n", argv[0] + 2, argv[1]);
	} else if (argc == 1 && argv[0][0] && strspn(argv[0], "0123456789") == strlen(argv[0]) &&
		   strlen(argv[0]) <= 19) {
		(void)snprintf(req, sizeof(req), "kick %s\n", argv[0]);
	} else {
		return cli_usage_err("kick: expected one SESSION id (a number, as 'ferry status' shows it), "
				     "--user NAME or --ip ADDRESS");
	}
	int rc = admin_ask(c, req, first, sizeof(first));
	if (rc == CLI_EXIT_OK && strncmp(first, "kicked ", 7) != 0)
		rc = CLI_EXIT_FAIL;
	return rc;
}
