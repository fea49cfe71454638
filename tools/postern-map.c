/* postern-map: check map sources and compile them into CDB files, all or nothing. */
#include "config.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sysexits.h>
#include <unistd.h>

#include "conf.h"
#include "map.h"
#include "mapsrc.h"

static const char usage_text[] =
	"usage: postern-map [-C DIR] [-c] [-q] [MAP...]\n"
	"  MAP  domains | aliases | users | relay | routes\n"
	"       (none: every map whose source file exists in DIR)\n"
	"  -C DIR  instance directory (default " CONF_DEFAULT_DIR ")\n"
	"  -c      check the sources and postern.conf; write nothing\n"
	"  -q      print nothing on success\n";

static int usage(FILE *f, int code)
{
	fputs(usage_text, f);
	return code;
}

/* A source fault is the admin's to fix (EX_CONFIG); anything else is
 * the system's and may go away on a retry (EX_TEMPFAIL). */
static int code_of(int r)
{
	return r == -2 ? EX_TEMPFAIL : EX_CONFIG;
}

static int worse(int a, int b)
{
	if (a == EX_TEMPFAIL || b == EX_TEMPFAIL)
		return EX_TEMPFAIL;
	return a ? a : b;
}

int main(int argc, char **argv)
{
	const char *dir = CONF_DEFAULT_DIR;
	int check = 0, quiet = 0, want[MAP_NKINDS] = { 0 }, any = 0;
	int opt, i, rc = 0;
	char err[CONF_ERR_MAX + CONF_PATH_MAX];
	size_t count[MAP_NKINDS];

	for (i = 1; i < argc && strcmp(argv[i], "--") != 0; i++)
		if (strcmp(argv[i], "--help") == 0)
			return usage(stdout, 0);
	opterr = 0;
	while ((opt = getopt(argc, argv, "C:cqh")) != -1) {
		switch (opt) {
		case 'C':
			dir = optarg;
			break;
		case 'c':
			check = 1;
			break;
		case 'q':
			quiet = 1;
			break;
		case 'h':
			return usage(stdout, 0);
		default:
			if (optopt == 'C')
				fprintf(stderr, "postern-map: -C needs a directory\n");
			else
				fprintf(stderr, "postern-map: unknown option -%c\n", optopt);
			return usage(stderr, EX_USAGE);
		}
	}
	if (!*dir) {
		fprintf(stderr, "postern-map: empty directory name\n");
		return EX_USAGE;
	}
	for (i = optind; i < argc; i++) {
		int k = map_kind_from_name(argv[i]);

		if (k < 0) {
			fprintf(stderr, "postern-map: unknown map %s\n", argv[i]);
			return usage(stderr, EX_USAGE);
		}
		want[k] = any = 1;
	}
	if (!any) {
		for (i = 0; i < MAP_NKINDS; i++) {
			struct stat st;

			snprintf(err, sizeof err, "%s/%s", dir, map_name((enum map_kind)i));
			if (stat(err, &st) == 0)
				want[i] = any = 1;
			else if (errno != ENOENT) {
				fprintf(stderr, "postern-map: %s: %s\n", err, strerror(errno));
				return EX_TEMPFAIL;
			}
		}
		if (!any) {
			fprintf(stderr, "postern-map: %s: no map sources found\n", dir);
			return EX_CONFIG;
		}
	}
	if (check) {
		struct conf c;

		if (conf_load(&c, dir, err, sizeof err) < 0) {
			fprintf(stderr, "postern-map: %s\n", err);
			rc = EX_CONFIG;
		}
	}

	/* Check everything before writing anything, so maps that belong
	 * together (a new domain and its users) go live together or not
	 * at all. */
	for (i = 0; i < MAP_NKINDS; i++) {
		int r;

		if (!want[i])
			continue;
		r = map_compile_n(dir, (enum map_kind)i, 1, &count[i], err, sizeof err);
		if (r < 0) {
			fprintf(stderr, "postern-map: %s\n", err);
			rc = worse(rc, code_of(r));
		}
	}
	if (rc)
		return rc;
	for (i = 0; i < MAP_NKINDS; i++) {
		int r;

		if (!want[i])
			continue;
		if (!check) {
			r = map_compile_n(dir, (enum map_kind)i, 0, &count[i], err, sizeof err);
			if (r < 0) {
				fprintf(stderr, "postern-map: %s\n", err);
				return code_of(r);
			}
		}
		if (!quiet)
			printf("%s: %zu %s%s\n", map_name((enum map_kind)i), count[i],
			       count[i] == 1 ? "entry" : "entries", check ? " (checked)" : "");
	}
	if (fflush(stdout) != 0 || ferror(stdout)) {
		fprintf(stderr, "postern-map: stdout: %s\n", strerror(errno));
		return EX_TEMPFAIL;
	}
	return 0;
}
