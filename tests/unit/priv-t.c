/* Tests for the user setting's numeric form, "uid:gid" (no NSS lookup). */
#include "config.h"

#include <pwd.h>
#include <string.h>
#include <sys/types.h>
#include <sys/wait.h>
#include <unistd.h>

#include "priv.h"
#include "tap.h"

/* In a child (the drop is for good): remember NAME, then drop to it.
 * The exit status says what happened: 0 = running as want_uid. */
static int drop_in_child(const char *remember, const char *name, uid_t want_uid)
{
	pid_t pid = fork();
	int st;

	if (pid == 0) {
		char err[256];

		priv_remember(remember);
		if (priv_drop(name, err, sizeof err) < 0)
			_exit(strstr(err, "no such user") ? 3 : 2);
		_exit(getuid() == want_uid && geteuid() == want_uid ? 0 : 1);
	}
	if (pid < 0 || waitpid(pid, &st, 0) != pid || !WIFEXITED(st))
		return -1;
	return WEXITSTATUS(st);
}

int main(void)
{
	uid_t u = 1;
	gid_t g = 1;

	ok(priv_parse_ids("999:995", &u, &g) == 0 && u == 999 && g == 995, "999:995");
	ok(priv_parse_ids("0:0", &u, &g) == 0 && u == 0 && g == 0, "0:0 parses (priv_drop refuses it)");
	ok(priv_parse_ids("4294967294:4294967294", &u, &g) == 0 && u == 4294967294U,
	   "largest ids");
	ok(priv_parse_ids("4294967295:1", &u, &g) < 0, "(uid_t)-1 refused");
	ok(priv_parse_ids("99999999999:1", &u, &g) < 0, "11 digits refused");
	ok(priv_parse_ids("postern", &u, &g) < 0, "a name is not numeric");
	ok(priv_parse_ids("999", &u, &g) < 0, "uid alone is a name");
	ok(priv_parse_ids("999:", &u, &g) < 0 && priv_parse_ids(":995", &u, &g) < 0, "empty half refused");
	ok(priv_parse_ids("-1:5", &u, &g) < 0 && priv_parse_ids("+1:5", &u, &g) < 0, "signs refused");
	ok(priv_parse_ids("1:2:3", &u, &g) < 0 && priv_parse_ids("1 :2", &u, &g) < 0, "extra fields or blanks refused");
	ok(priv_parse_ids("mail:mail", &u, &g) < 0, "names with a colon are not ids");

	if (geteuid() == 0 && getpwnam("nobody")) {
		uid_t nobody = getpwnam("nobody")->pw_uid;

		ok(drop_in_child("nobody", "nobody", nobody) == 0, "remembered name: dropped to its uid");
		ok(drop_in_child("root", "nobody", nobody) == 0, "another name remembered: looked up as before");
		ok(drop_in_child("no-such-user-xyz", "no-such-user-xyz", 0) == 3,
		   "an unknown name is not remembered; the drop still says no such user");
	} else {
		ok(1, "# skip not root");
		ok(1, "# skip not root");
		ok(1, "# skip not root");
	}
	return tap_done();
}
