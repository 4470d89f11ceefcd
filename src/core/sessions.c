#include "sessions.h"

#include <stdio.h>

#include "log.h"
#include "str.h"
#include "util.h"

void sessions_add(struct sessions *reg, struct sessions_entry *e, const struct sessions_ops *ops, uint64_t id,
		  const char *peer)
{
	*e = (struct sessions_entry){ .ops = ops, .id = id, .peer = peer, .active_ms = util_now_ms(), .listed = true };
	e->next = reg->head;
	if (reg->head)
		reg->head->prev = e;
	reg->head = e;
	reg->count++;
}

void sessions_remove(struct sessions *reg, struct sessions_entry *e)
{
	if (!e->listed)
		return;
	sessions_set_prelogin(reg, e, false);
	if (e->prev)
		e->prev->next = e->next;
	else
		reg->head = e->next;
	if (e->next)
		e->next->prev = e->prev;
	e->prev = e->next = NULL;
	e->listed = false;
	reg->count--;
}

void sessions_touch(struct sessions_entry *e)
{
	e->active_ms = util_now_ms();
}

void sessions_set_prelogin(struct sessions *reg, struct sessions_entry *e, bool prelogin)
{
	prelogin = prelogin && e->listed;
	if (prelogin == e->prelogin)
		return;
	e->prelogin = prelogin;
	if (prelogin) {
		uint64_t now = util_now_ms();
		e->prelogin_since = now ? now : 1; /* 0 means "none" to readers */
		e->pl_next = NULL;
		e->pl_prev = reg->pl_tail;
		if (reg->pl_tail)
			reg->pl_tail->pl_next = e;
		else
			reg->pl_head = e;
		reg->pl_tail = e;
	} else {
		if (e->pl_prev)
			e->pl_prev->pl_next = e->pl_next;
		else
			reg->pl_head = e->pl_next;
		if (e->pl_next)
			e->pl_next->pl_prev = e->pl_prev;
		else
			reg->pl_tail = e->pl_prev;
		e->pl_prev = e->pl_next = NULL;
	}
	atomic_store_explicit(&reg->prelogin_since, reg->pl_head ? reg->pl_head->prelogin_since : 0,
			      memory_order_relaxed);
}

bool sessions_evict_oldest(struct sessions *reg)
{
	/* Bounded: each round takes one session off the list (evicted, or
	 * found logged in). */
	for (size_t i = 0; i <= reg->count && reg->pl_head; i++) {
		struct sessions_entry *e = reg->pl_head;
		if (e->ops->evict(e))
			return true;
		sessions_set_prelogin(reg, e, false); /* in case the op did not */
	}
	return false;
}

uint64_t sessions_prelogin_since(struct sessions *reg)
{
	return atomic_load_explicit(&reg->prelogin_since, memory_order_relaxed);
}

const char *sessions_user(const struct sessions_entry *e)
{
	struct sessions_view v = { 0 };
	e->ops->view(e, &v);
	return v.user ? v.user : "";
}

void sessions_describe(const struct sessions_entry *e, uint64_t now, char *out, size_t outsz)
{
	struct sessions_view v = { 0 };
	e->ops->view(e, &v);
	struct log_escaped eu, ep;
	uint64_t idle_s = now > e->active_ms ? (now - e->active_ms) / 1000u : 0;
	int n = snprintf(out, outsz, "%llu user=\"%s\" ip=%s protocol=%s state=%s%s%s idle=%llus",
			 (unsigned long long)e->id, log_esc(slice_from_cstr(v.user ? v.user : ""), &eu), e->peer,
			 e->ops->protocol, v.state ? v.state : "?", v.extra ? " " : "", v.extra ? v.extra : "",
			 (unsigned long long)idle_s);
	if (!v.xfer || n < 0 || (size_t)n >= outsz)
		return;
	(void)snprintf(out + n, outsz - (size_t)n, " cmd=%s path=\"%s\" bytes=%llu size=%llu", v.verb ? v.verb : "?",
		       log_esc(slice_from_cstr(v.path ? v.path : ""), &ep), (unsigned long long)v.bytes,
		       (unsigned long long)v.size);
}
