/* Is the file at a path still the one a process opened or read before?
 * Device, inode, size and modification time (to the nanosecond) all
 * equal.  The listener keeps the maps and the TLS context it made from
 * files, and rebuilds them when this says no. */
#ifndef POSTERN_SAMEFILE_H
#define POSTERN_SAMEFILE_H

#include <sys/stat.h>

static inline int same_file(const struct stat *a, const struct stat *b)
{
	return a->st_dev == b->st_dev && a->st_ino == b->st_ino && a->st_size == b->st_size &&
	       a->st_mtim.tv_sec == b->st_mtim.tv_sec && a->st_mtim.tv_nsec == b->st_mtim.tv_nsec;
}

#endif
