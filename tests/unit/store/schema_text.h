/* The schema version as both stores' tests name it: included by
 * test_store_sqlite.c and test_store_pg.c. The coordinator renumbers steps
 * at merge, so no test names a number. Needs stdio.h and store_migrate.h
 * included first. */
#ifndef FERRY_TEST_SCHEMA_TEXT_H
#define FERRY_TEST_SCHEMA_TEXT_H

/* The schema version as text. */
#define VERSION_STR_(v) #v
#define VERSION_STR(v) VERSION_STR_(v)
#define SCHEMA_TEXT VERSION_STR(STORE_SCHEMA_VERSION)

/* The refusal of a database one version newer than this ferry. */
static const char *newer_refusal(void)
{
	static char text[96];
	(void)snprintf(text, sizeof(text), "schema version %d; this ferry understands version %d",
		       STORE_SCHEMA_VERSION + 1, STORE_SCHEMA_VERSION);
	return text;
}

#endif
