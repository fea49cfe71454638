/* Tests for the user setting's numeric form, "uid:gid" (no NSS lookup). */
#include "config.h"

#include <sys/types.h>

#include "priv.h"
#include "tap.h"

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
	return tap_done();
}
