/* Tests for listener mode's pure parts: what LISTEN_FDS/LISTEN_PID say,
 * and the table of live children by address. */
#include "config.h"

#include <stdlib.h>
#include <string.h>

#include "listen.h"
#include "tap.h"

static const struct {
	const char *fds, *pid;
	long me;
	int want;
	const char *what;
} envs[] = {
	{ NULL, NULL, 42, 0, "unset: per connection" },
	{ NULL, "42", 42, 0, "LISTEN_PID alone: per connection" },
	{ "1", "42", 42, 1, "one socket for us" },
	{ "2", "42", 42, 2, "two sockets (IPv4 and IPv6)" },
	{ "16", "42", 42, 16, "LISTEN_MAX sockets" },
	{ "17", "42", 42, -1, "more than LISTEN_MAX" },
	{ "0", "42", 42, 0, "zero sockets" },
	{ "1", "41", 42, 0, "another process's sockets" },
	{ "1", NULL, 42, 0, "no LISTEN_PID: not ours" },
	{ "1", "", 42, 0, "empty LISTEN_PID: not ours" },
	{ "1", "42x", 42, 0, "garbage LISTEN_PID: not ours" },
	{ "", "42", 42, -1, "empty LISTEN_FDS" },
	{ "x", "42", 42, -1, "garbage LISTEN_FDS" },
	{ "-1", "42", 42, -1, "negative LISTEN_FDS" },
	{ " 1", "42", 42, -1, "blank before the number" },
	{ "1 ", "42", 42, -1, "blank after the number" },
	{ "9999999999", "42", 42, -1, "overlong number" },
	{ "1", "9999999999", 42, 0, "overlong pid: not ours" },
};

int main(void)
{
	struct listen_table t = { 0 };
	unsigned char a[16] = { 0 }, b[16] = { 0 };

	for (size_t i = 0; i < sizeof envs / sizeof envs[0]; i++)
		ok(listen_env(envs[i].fds, envs[i].pid, envs[i].me) == envs[i].want, "%s", envs[i].what);

	a[10] = a[11] = 0xff;
	a[12] = 192, a[13] = 0, a[14] = 2, a[15] = 1;
	memcpy(b, a, 16);
	b[15] = 2;
	ok(listen_table_count(&t, a) == 0, "empty table counts 0");
	for (int i = 0; i < 200; i++)
		listen_table_add(&t, 1000 + i, i % 4 ? a : b);
	ok(t.n == 200, "200 children recorded (grows past its first size)");
	ok(listen_table_count(&t, a) == 150 && listen_table_count(&t, b) == 50, "counted per address");
	ok(listen_table_remove(&t, 1000) == 0 && listen_table_count(&t, b) == 49, "removing a child of b");
	ok(listen_table_remove(&t, 1000) < 0, "removing it twice fails");
	ok(listen_table_remove(&t, 5000) < 0, "an unknown pid is not in the table");
	ok(t.live == 199, "199 live");
	ok(listen_table_end(&t, 1004) == 0 && listen_table_count(&t, b) == 48 && t.live == 198 && t.n == 199,
	   "an ended session counts no more, and stays in the table until reaped");
	ok(listen_table_end(&t, 1004) < 0 && t.live == 198, "ending it twice changes nothing");
	ok(listen_table_end(&t, 5000) < 0, "ending an unknown pid fails");
	ok(listen_table_remove(&t, 1004) == 0 && t.live == 198 && t.n == 198, "reaping an ended session");
	ok(listen_table_remove(&t, 1005) == 0 && t.live == 197 && t.n == 197, "reaping one that never said so");
	for (int i = 1; i < 200; i++)
		listen_table_remove(&t, 1000 + i);
	ok(t.n == 0 && t.live == 0 && listen_table_count(&t, a) == 0, "all removed");
	free(t.v);
	return tap_done();
}
