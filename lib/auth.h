/* Checking a user name and password against users.cdb with crypt(3).
 *
 * The work is the same whether or not the user exists: an unknown user,
 * an unknown domain or a disabled account ('!' or '*' hash) still costs
 * one crypt() against a dummy hash, and hashes are compared in constant
 * time, so neither the reply nor its timing says which users exist.
 * Users log in as local@domain; an alias domain stands for its primary. */
#ifndef POSTERN_AUTH_H
#define POSTERN_AUTH_H

#include <stddef.h>
#include "conf.h"
#include "map.h"

enum auth_result {
	AUTH_OK = 0,
	AUTH_FAIL,        /* unknown user, wrong password, disabled account */
	AUTH_TEMP,        /* map missing or broken, crypt failure: try later */
};

#define AUTH_ADDR_MAX 320

struct auth_user {
	char addr[AUTH_ADDR_MAX];       /* local@primary, lowercase */
	char mailbox[CONF_PATH_MAX];    /* maildir */
};

/* Split a login name into lowercase local part and domain (at the last
 * '@').  0, or -1 when it cannot be a user: no '@', an empty part, space,
 * control or non-ASCII bytes, too long.  Pure. */
int auth_split_user(const char *user, size_t n, char *local, size_t llen,
		    char *domain, size_t dlen);

/* 1 when pass matches the crypt(3) hash (hlen bytes), else 0.  A hash
 * starting with '!' or '*' never matches but costs the same work.  -1
 * when libcrypt cannot be loaded (the sessions load it at the first
 * login; lazylib.h). */
int auth_hash_check(const char *hash, size_t hlen, const char *pass);

/* The whole check.  On AUTH_OK, *u is filled.  why gets a reason for
 * the log (never the password). */
enum auth_result auth_login(struct maps *ms, const struct conf *c,
			    const char *user, size_t ulen, const char *pass,
			    struct auth_user *u, char *why, size_t whylen);

#endif
