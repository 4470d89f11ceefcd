/* Unit tests for src/core/metrics.c: the Prometheus text exposition. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <string.h>

#include "ferry_version.h"
#include "metrics.h"

static void test_format_values(void **state)
{
	(void)state;
	struct metrics m = { 0 };
	atomic_store(&m.connections[METRICS_FTP], 12);
	atomic_store(&m.connections[METRICS_SFTP], 13);
	atomic_store(&m.logins_ok[METRICS_FTP], 3);
	atomic_store(&m.logins_failed[METRICS_FTP], 4);
	atomic_store(&m.logins_ok[METRICS_SFTP], 5);
	atomic_store(&m.bytes_in[METRICS_FTP], 5000000000ull);
	atomic_store(&m.bytes_out[METRICS_SFTP], 77);
	atomic_store(&m.xfer_aborted[METRICS_FTP], 1);
	atomic_store(&m.xfer_failed[METRICS_SFTP], 6);
	atomic_store(&m.evictions[METRICS_SFTP], 8);
	atomic_store(&m.pasv_open, 2);
	struct metrics_gauges g = { .sessions = { 7, 2 }, .bans_active = 1, .jobs_queued = 9 };
	char out[16384];
	size_t n = metrics_format(&m, &g, out, sizeof(out));
	assert_int_equal(n, strlen(out));
	assert_non_null(strstr(out, "ferry_build_info{version=\"" FERRY_VERSION "\"} 1\n"));
	/* The series keep their names and gain the protocol label (issue 17). */
	assert_non_null(strstr(out, "# TYPE ferry_sessions_open gauge\nferry_sessions_open{protocol=\"ftp\"} 7\n"
				    "ferry_sessions_open{protocol=\"sftp\"} 2\n"));
	assert_non_null(strstr(out, "# TYPE ferry_connections_total counter\nferry_connections_total{protocol=\"ftp\"} "
				    "12\nferry_connections_total{protocol=\"sftp\"} 13\n"));
	assert_non_null(strstr(out, "ferry_logins_total{protocol=\"ftp\",result=\"ok\"} 3\n"
				    "ferry_logins_total{protocol=\"ftp\",result=\"failed\"} 4\n"
				    "ferry_logins_total{protocol=\"sftp\",result=\"ok\"} 5\n"
				    "ferry_logins_total{protocol=\"sftp\",result=\"failed\"} 0\n"));
	assert_non_null(strstr(out, "ferry_received_bytes_total{protocol=\"ftp\"} 5000000000\n"));
	assert_non_null(strstr(out, "ferry_sent_bytes_total{protocol=\"sftp\"} 77\n"));
	assert_non_null(strstr(out, "ferry_transfers_total{protocol=\"ftp\",result=\"aborted\"} 1\n"));
	assert_non_null(strstr(out, "ferry_transfers_total{protocol=\"sftp\",result=\"failed\"} 6\n"));
	assert_non_null(strstr(out, "ferry_sessions_evicted_total{protocol=\"sftp\"} 8\n"));
	assert_non_null(strstr(out, "ferry_passive_ports_in_use 2\n"));
	assert_non_null(strstr(out, "ferry_bans_active 1\n"));
	assert_non_null(strstr(out, "ferry_job_queue_depth 9\n"));
	assert_int_equal(out[n - 1], '\n');
}

static void test_format_truncates(void **state)
{
	(void)state;
	struct metrics m = { 0 };
	struct metrics_gauges g = { 0 };
	char out[64];
	memset(out, 'x', sizeof(out));
	size_t n = metrics_format(&m, &g, out, sizeof(out));
	assert_int_equal(n, sizeof(out) - 1);
	assert_int_equal(out[n], '\0');
	assert_int_equal(metrics_format(&m, &g, out, 0), 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_format_values),
		cmocka_unit_test(test_format_truncates),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
