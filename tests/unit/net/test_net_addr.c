/* net_addr_pack/unpack: the 28-byte address every idle session keeps
 * (memory per idle session, issue 15) gives back the same sockaddr_storage
 * for IPv4 and IPv6 peers, ports and scope ids included. */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <arpa/inet.h>
#include <netinet/in.h>
#include <string.h>
#include <sys/socket.h>

#include "net.h"

static void test_size(void **state)
{
	(void)state;
	assert_int_equal(sizeof(union net_sockaddr), sizeof(struct sockaddr_in6));
	assert_true(sizeof(union net_sockaddr) < sizeof(struct sockaddr_storage));
}

static void test_v4(void **state)
{
	(void)state;
	struct sockaddr_storage in, out;
	memset(&in, 0, sizeof(in));
	struct sockaddr_in *v4 = (struct sockaddr_in *)&in;
	v4->sin_family = AF_INET;
	v4->sin_port = htons(2121);
	assert_int_equal(inet_pton(AF_INET, "192.0.2.7", &v4->sin_addr), 1);
	union net_sockaddr packed;
	memset(&packed, 0xA5, sizeof(packed)); /* whatever was there before */
	net_addr_pack(&packed, &in);
	memset(&out, 0xA5, sizeof(out));
	net_addr_unpack(&out, &packed);
	assert_memory_equal(&in, &out, sizeof(in));
	char text[64];
	net_addr_str(&out, text, sizeof(text));
	assert_string_equal(text, "192.0.2.7");
}

static void test_v6(void **state)
{
	(void)state;
	struct sockaddr_storage in, out;
	memset(&in, 0, sizeof(in));
	struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&in;
	v6->sin6_family = AF_INET6;
	v6->sin6_port = htons(990);
	v6->sin6_flowinfo = htonl(7);
	v6->sin6_scope_id = 3;
	assert_int_equal(inet_pton(AF_INET6, "2001:db8::1:2", &v6->sin6_addr), 1);
	union net_sockaddr packed;
	net_addr_pack(&packed, &in);
	assert_int_equal(packed.sa.sa_family, AF_INET6);
	net_addr_unpack(&out, &packed);
	assert_memory_equal(&in, &out, sizeof(in));
	char text[64];
	net_addr_str(&out, text, sizeof(text));
	assert_string_equal(text, "2001:db8::1:2");
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_size),
		cmocka_unit_test(test_v4),
		cmocka_unit_test(test_v6),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
