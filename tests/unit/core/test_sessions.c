/* Unit tests for src/core/sessions.c: the registry of a worker's sessions
 * of every protocol (status lines, the order evictions take, removal). */
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <setjmp.h>
#include <cmocka.h>

#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "sessions.h"
#include "util.h"

/* A front-end's session as the tests make it. */
struct fake {
	struct sessions_entry e;
	struct sessions *reg;
	const char *user;
	bool logged_in, xfer, kicked, evicted;
	char peer[64];
};

static void fake_view(const struct sessions_entry *e, struct sessions_view *v)
{
	const struct fake *f = container_of(e, struct fake, e);
	v->user = f->user;
	v->state = !f->logged_in ? "login" : f->xfer ? "transfer" : "idle";
	v->extra = "tls=no";
	if (f->xfer) {
		v->xfer = true;
		v->verb = "RETR";
		v->path = "/a \"b\"\n";
		v->bytes = 10;
		v->size = 20;
	}
}

static void fake_kick(struct sessions_entry *e)
{
	struct fake *f = container_of(e, struct fake, e);
	f->kicked = true;
	sessions_remove(f->reg, e);
}

static bool fake_evict(struct sessions_entry *e)
{
	struct fake *f = container_of(e, struct fake, e);
	if (f->logged_in)
		return false; /* logged in meanwhile: the registry must try the next */
	f->evicted = true;
	sessions_remove(f->reg, e);
	return true;
}

static const struct sessions_ops ops = { .protocol = "xp", .view = fake_view, .kick = fake_kick, .evict = fake_evict };

static void add(struct sessions *reg, struct fake *f, uint64_t id)
{
	memset(f, 0, sizeof(*f));
	f->reg = reg;
	(void)snprintf(f->peer, sizeof(f->peer), "192.0.2.%u", (unsigned)id);
	sessions_add(reg, &f->e, &ops, id, f->peer);
}

static void test_describe(void **state)
{
	(void)state;
	struct sessions reg = { 0 };
	struct fake a;
	add(&reg, &a, 7);
	char line[256];
	sessions_describe(&a.e, a.e.active_ms + 2500, line, sizeof(line));
	assert_string_equal(line, "7 user=\"\" ip=192.0.2.7 protocol=xp state=login tls=no idle=2s");
	a.user = "bob";
	a.logged_in = a.xfer = true;
	sessions_describe(&a.e, a.e.active_ms, line, sizeof(line));
	/* Client text (the path) is escaped. */
	assert_string_equal(line, "7 user=\"bob\" ip=192.0.2.7 protocol=xp state=transfer tls=no idle=0s cmd=RETR "
				  "path=\"/a \\x22b\\x22\\x0a\" bytes=10 size=20");
	assert_string_equal(sessions_user(&a.e), "bob");
	/* A clock behind the last request (another thread's) shows 0, never a huge number. */
	sessions_describe(&a.e, 0, line, sizeof(line));
	assert_non_null(strstr(line, " idle=0s"));
	/* Cut short, never overrun. */
	char small[16];
	sessions_describe(&a.e, a.e.active_ms, small, sizeof(small));
	assert_int_equal(strlen(small), sizeof(small) - 1);
	sessions_remove(&reg, &a.e);
}

static void test_evictions_oldest_first(void **state)
{
	(void)state;
	struct sessions reg = { 0 };
	struct fake f[4];
	for (unsigned i = 0; i < 4; i++)
		add(&reg, &f[i], i + 1);
	assert_int_equal(reg.count, 4);
	assert_int_equal(sessions_prelogin_since(&reg), 0);
	/* Joined in the order 2, 0, 3; 1 logged in before it ever counted. */
	sessions_set_prelogin(&reg, &f[2].e, true);
	sessions_set_prelogin(&reg, &f[0].e, true);
	sessions_set_prelogin(&reg, &f[3].e, true);
	assert_int_equal(sessions_prelogin_since(&reg), f[2].e.prelogin_since);
	/* 2 logged in without telling the registry yet: skipped, taken off. */
	f[2].logged_in = true;
	assert_true(sessions_evict_oldest(&reg));
	assert_false(f[2].evicted);
	assert_true(f[0].evicted);
	assert_false(f[2].e.prelogin);
	assert_int_equal(reg.count, 3);
	/* A session that logs out joins again as the newest. */
	f[1].logged_in = false;
	sessions_set_prelogin(&reg, &f[1].e, true);
	assert_true(sessions_evict_oldest(&reg));
	assert_true(f[3].evicted);
	assert_true(sessions_evict_oldest(&reg));
	assert_true(f[1].evicted);
	assert_false(sessions_evict_oldest(&reg));
	assert_int_equal(sessions_prelogin_since(&reg), 0);
	assert_int_equal(reg.count, 1);
	assert_ptr_equal(reg.head, &f[2].e);
}

static void test_remove_is_idempotent_and_unlists(void **state)
{
	(void)state;
	struct sessions reg = { 0 };
	struct fake a, b;
	add(&reg, &a, 1);
	add(&reg, &b, 2);
	sessions_set_prelogin(&reg, &a.e, true);
	sessions_remove(&reg, &a.e);
	sessions_remove(&reg, &a.e);
	assert_int_equal(reg.count, 1);
	assert_null(reg.pl_head);
	/* A removed entry cannot join the prelogin list again (a late sync). */
	sessions_set_prelogin(&reg, &a.e, true);
	assert_null(reg.pl_head);
	b.e.ops->kick(&b.e);
	assert_true(b.kicked);
	assert_null(reg.head);
	assert_int_equal(reg.count, 0);
}

int main(void)
{
	const struct CMUnitTest tests[] = {
		cmocka_unit_test(test_describe),
		cmocka_unit_test(test_evictions_oldest_first),
		cmocka_unit_test(test_remove_is_idempotent_and_unlists),
	};
	return cmocka_run_group_tests(tests, NULL, NULL);
}
