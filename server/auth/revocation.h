/* revocation.h -- the token revocations of one app (auth.md section 12).
 *
 * A revocation names a key, a target ("clientId:<id>" or
 * "revocationKey:<key>") and issuedBefore: from appliesAt on, tokens of
 * that key matching the target and issued before issuedBefore are
 * rejected. Tokens of revocable keys live at most an hour, so a
 * revocation is forgotten an hour after its issuedBefore. Checked on every
 * token-authenticated request, from any thread, and against live realtime
 * connections when one is added (apps__revoke). */
#ifndef HERALD_REVOCATION_H
#define HERALD_REVOCATION_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The longest a token or JWT of a revocable key may live. */
#define REVOCABLE_TOKEN_MAX_TTL_MS (60 * 60 * 1000)

struct revocation {
  char *key_name;
  char *target;
  int64_t issued_before;
  int64_t applies_at;
};

struct revocations {
  pthread_mutex_t lock;
  struct revocation *list;
  size_t count;
};

void revocation__init(struct revocations *r);
void revocation__cleanup(struct revocations *r);

/* Records a revocation; one for the same key and target is replaced when
 * this one reaches further (a later issuedBefore). Returns whether it
 * changed anything. */
bool revocation__add(struct revocations *r, const char *key_name,
                      const char *target, int64_t issued_before,
                      int64_t applies_at);

/* Whether a token of key_name, issued at `issued`, with the given clientId
 * and revocation key (either may be NULL), is revoked at `now`. */
bool revocation__revoked(struct revocations *r, const char *key_name,
                          const char *client_id, const char *revocation_key,
                          int64_t issued, int64_t now);

#endif
