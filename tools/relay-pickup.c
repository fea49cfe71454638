/* The pickup folder: complete messages dropped by local programs go to their To/Cc/Bcc recipients. */
#include "config.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "inject.h"
#include "log.h"
#include "relay.h"
#include "str.h"

/* The file's bytes with CRLF turned into LF; NULL when unreadable or
 * over the size limit (*toobig set). */
static char *slurp(const char *path, const struct conf *c, size_t *len, int *toobig)
{
	struct stat sb;
	char *buf;
	size_t got = 0, o = 0;
	ssize_t r;
	int fd = open(path, O_RDONLY | O_CLOEXEC | O_NOFOLLOW);

	*toobig = 0;
	if (fd < 0)
		return NULL;
	if (fstat(fd, &sb) < 0 || !S_ISREG(sb.st_mode)) {
		close(fd);
		return NULL;
	}
	if ((unsigned long long)sb.st_size > c->max_message_size) {
		*toobig = 1;
		close(fd);
		return NULL;
	}
	buf = xmalloc((size_t)sb.st_size + 1);
	while (got < (size_t)sb.st_size && (r = read(fd, buf + got, (size_t)sb.st_size - got)) > 0)
		got += (size_t)r;
	close(fd);
	for (size_t i = 0; i < got; i++)
		if (!(buf[i] == '\r' && i + 1 < got && buf[i + 1] == '\n'))
			buf[o++] = buf[i];
	*len = o;
	return buf;
}

static void to_badmail(const struct conf *c, const char *name, const char *why)
{
	char from[CONF_PATH_MAX + 300], to[CONF_PATH_MAX + 320];

	snprintf(from, sizeof from, "%s/pickup/%s", c->spool, name);
	snprintf(to, sizeof to, "%s/badmail/pickup.%s", c->spool, name);
	if (rename(from, to) < 0)
		unlink(from);
	log_warn("pickup %s: %s; moved to badmail", name, why);
}

unsigned relay_pickup(struct relay *rl)
{
	const struct conf *c = rl->conf;
	char dir[CONF_PATH_MAX + 32], p[CONF_PATH_MAX + 300], err[CONF_ERR_MAX];
	struct dirent *d;
	unsigned k = 0;
	DIR *dh;

	snprintf(dir, sizeof dir, "%s/pickup", c->spool);
	dh = opendir(dir);
	if (!dh)
		return 0;
	while ((d = readdir(dh))) {
		struct inject in;
		const char *sender;
		size_t len = 0;
		char *buf;
		int toobig, rc;

		/* a name starting with '.' is still being written: write it
		 * as .name, then rename it to name */
		if (d->d_name[0] == '.' || strlen(d->d_name) > 200)
			continue;
		snprintf(p, sizeof p, "%s/%s", dir, d->d_name);
		buf = slurp(p, c, &len, &toobig);
		if (!buf) {
			if (toobig)
				to_badmail(c, d->d_name, "larger than max_message_size");
			continue;
		}
		inject_init(&in);
		if (inject_prepare(&in, c, buf, len, 1, c->postmaster, NULL, err, sizeof err) < 0) {
			to_badmail(c, d->d_name, err);
			goto next;
		}
		sender = in.from[0] ? in.from : c->postmaster;
		rc = inject_deliver(&in, c, &rl->maps, sender, buf, len, err, sizeof err);
		if (rc == 0) {
			struct logline l;
			unlink(p);
			log_begin(&l, "pickup");
			log_s(&l, "file", d->d_name);
			log_s(&l, "from", sender);
			log_u(&l, "rcpts", in.n);
			log_u(&l, "size", len);
			log_end(&l);
			k++;
		} else if (rc == EX_TEMPFAIL) {
			log_warn("pickup %s: %s; will retry", d->d_name, err);
		} else {
			to_badmail(c, d->d_name, err);
		}
next:
		inject_free(&in);
		free(buf);
	}
	closedir(dh);
	return k;
}
