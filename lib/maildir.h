/* A maildir as POP3 sees it: a snapshot of new/ and cur/, sizes as the
 * client will receive them, stable unique ids, and one session at a time.
 *
 * Sizes come from ",W=<n>" in the file name (lib/store.c writes it: the
 * size with CRLF line ends) and are computed from the file only where the
 * name lacks it.  A UIDL is the unique base name (up to the first ',' or
 * ':'), which survives the move from new/ to cur/ and flag changes; a
 * base that is not 1-70 characters of 0x21-0x7E becomes 32 hex digits of
 * a hash of it instead.
 *
 * The pure parts (name parsing, UIDL, sizes, the RETR/TOP conversion) do
 * no I/O so tests drive them from tables. */
#ifndef POSTERN_MAILDIR_H
#define POSTERN_MAILDIR_H

#include <stddef.h>

#define MD_UIDL_MAX 70
#define MD_LOCKNAME ".postern-pop3.lock"

/* What a file name says about the message. */
struct md_name {
	size_t baselen;                 /* unique part: up to ',' or ':' */
	long long secs;                 /* leading decimal seconds, else 0 */
	int has_s, has_w;
	unsigned long long s, w;        /* ,S= (size on disk) ,W= (CRLF size) */
	int has_info;                   /* ":2,FLAGS" present */
};

void md_name_parse(const char *name, size_t n, struct md_name *out);

/* UIDL of a file name into out (MD_UIDL_MAX + 1 bytes). */
void md_uidl(const char *name, size_t n, char *out);

/* Octets the client receives for a message (CRLF line ends, before
 * dot-stuffing and the final ".CRLF"), counted from the stored bytes. */
struct md_count {
	unsigned long long n;
	int cr;                         /* last byte was CR */
	int any;                        /* at least one byte seen */
	int lf;                         /* last byte was LF */
};

void md_count_init(struct md_count *c);
void md_count_feed(struct md_count *c, const char *p, size_t n);
unsigned long long md_count_end(const struct md_count *c);

/* The RETR/TOP conversion: LF -> CRLF (a CR already there is kept, not
 * doubled), a '.' at the start of any line doubled, a missing last line
 * end added.  With body_lines >= 0 (TOP) output stops after the header,
 * the blank line and that many body lines. */
struct md_conv {
	int bol;                        /* at the start of a line */
	int cr;                         /* last byte written was a CR */
	int any;
	int in_header;
	long long body_lines;           /* < 0: no limit */
	int done;                       /* TOP has all it wants */
	int line_empty;                 /* current line has no bytes yet (CR aside) */
	unsigned long long payload;     /* bytes sent, stuffing dots excluded */
};

void md_conv_init(struct md_conv *c, long long body_lines);
/* Convert up to n bytes of in into out, which must hold 2 * n bytes.
 * Returns the output length; *used gets the input consumed (less than n
 * only once done). */
size_t md_conv(struct md_conv *c, const char *in, size_t n, char *out, size_t *used);
/* The line end a message without a final one needs (out holds 2 bytes). */
size_t md_conv_end(struct md_conv *c, char *out);

/* One message of the snapshot. */
struct md_msg {
	size_t name;                    /* offset of its name in cur/ */
	unsigned long long size;
	long long secs;
	int in_new;                     /* could not be moved to cur/ */
};

struct maildir {
	char path[1024];
	int lockfd;                     /* -1: not locked */
	int missing;                    /* no maildir yet: empty, nothing locked */
	struct md_msg *v;
	size_t n, cap;
	char *names;                    /* NUL-separated names */
	size_t nlen, ncap;
	unsigned long long total;       /* sum of sizes */
	unsigned moved;                 /* new/ -> cur/ during the scan */
};

void maildir_init(struct maildir *md);
void maildir_free(struct maildir *md);

/* Take the per-mailbox lock (flock on MD_LOCKNAME, gone with its holder,
 * so it is never stale).  0 locked, 1 held by another session, -1 error
 * (err set).  A maildir that does not exist yet is not an error: 0, and
 * nothing to lock. */
int maildir_lock(struct maildir *md, const char *path, char *err, size_t errlen);

/* Snapshot new/ and cur/ (dotfiles skipped), moving new/X to cur/X:2,
 * and order by the seconds in the name, then the name.  A missing
 * maildir is an empty one.  0 or -1 (err set). */
int maildir_scan(struct maildir *md, char *err, size_t errlen);

const char *maildir_name(const struct maildir *md, size_t i);

/* Open message i for reading: fd, or -1 with errno (ENOENT: someone
 * else removed it). */
int maildir_open(const struct maildir *md, size_t i);

/* Remove message i: 0 (also when already gone) or -1 with errno. */
int maildir_remove(const struct maildir *md, size_t i);

#endif
