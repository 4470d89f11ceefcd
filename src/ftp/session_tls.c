/* session_tls: TLS on the control connection: AUTH TLS and implicit FTPS
 * handshakes, and the TLS shutdown of CCC and REIN. */
#include <errno.h>
#include <stdbool.h>
#include <string.h>

#include "conn.h"
#include "log.h"
#include "metrics.h"
#include "proto.h"
#include "session_impl.h"
#include "tls.h"

/* Moves the control connection's TLS state along: starts the handshake
 * once the 234 is out, runs it, and shuts TLS down for CCC/REIN once their
 * reply is out. Returns true when it completed a proto effect. */
bool session_tls_step(struct session *s)
{
	struct proto_result res = { 0 };
	for (;;) {
		switch (s->tphase) {
		case TLS_IDLE:
			return false;
		case TLS_FLUSH_THEN_START:
			if (proto_output(s->proto)->len)
				return false;
			/* RFC 4217 §4 / PROTOCOL.md §4.4: plaintext pipelined after
			 * AUTH TLS is never executed. */
			buf_reset(&s->in);
			res.err = conn_start_tls(&s->conn, s->tls_ctx);
			if (!res.err) /* RFC 7151: a HOST before AUTH TLS picks the certificate */
				tls_conn_set_host(s->conn.tls, proto_vhost_name(s->proto));
			if (res.err) {
				s->tphase = TLS_IDLE;
				session_complete(s, &res);
				return true;
			}
			s->tphase = TLS_HANDSHAKE;
			continue;
		case TLS_HANDSHAKE: {
			int r = conn_handshake(&s->conn);
			if (r == -EAGAIN)
				return false;
			s->tphase = TLS_IDLE;
			METRICS_ADD(s->host->metrics, tls_ok, r == 0);
			METRICS_ADD(s->host->metrics, tls_failed, r != 0);
			if (r) {
				log_info(s->id, "TLS handshake failed: ip=%s error=\"%s\"", s->peer,
					 s->conn.tls ? tls_error(s->conn.tls) : strerror(-r));
				if (s->implicit_greet) {
					session_close_now(s);
					return false;
				}
				res.err = r;
				session_complete(s, &res);
				return true;
			}
			const char *sni = tls_sni(s->conn.tls);
			log_info(s->id, "TLS established: ip=%s version=%s cipher=%s sni=%s", s->peer,
				 tls_version(s->conn.tls), tls_cipher(s->conn.tls), sni ? sni : "-");
			proto_set_sni(s->proto, sni);
			if (s->implicit_greet) {
				s->implicit_greet = false;
				proto_greet(s->proto);
				return false;
			}
			session_complete(s, &res);
			return true;
		}
		case TLS_FLUSH_THEN_STOP:
			if (proto_output(s->proto)->len)
				return false;
			s->tphase = TLS_STOPPING;
			continue;
		case TLS_STOPPING: {
			struct tls_conn *old = NULL;
			int r = conn_stop_tls(&s->conn, &old);
			if (r == -EAGAIN)
				return false;
			s->tphase = TLS_IDLE;
			if (r == 0) {
				if (s->ctl_tls_old)
					tls_conn_free(s->ctl_tls_old);
				s->ctl_tls_old = old;
			}
			res.err = r;
			session_complete(s, &res);
			return true;
		}
		}
	}
}
