/* revocation.c -- an app's token revocations (see revocation.h). */
#include "auth/revocation.h"

#include <string.h>

#include "alloc.h"

void revocation__init(struct revocations *r) {
  memset(r, 0, sizeof *r);
  pthread_mutex_init(&r->lock, NULL);
}

static void free_revocation(struct revocation *rv) {
  herald_free(rv->key_name);
  herald_free(rv->target);
}

void revocation__cleanup(struct revocations *r) {
  for (size_t i = 0; i < r->count; i++) free_revocation(&r->list[i]);
  herald_free(r->list);
  pthread_mutex_destroy(&r->lock);
}

/* Drops revocations no live token can match any more. Lock held. */
static void forget_expired(struct revocations *r, int64_t now) {
  size_t kept = 0;
  for (size_t i = 0; i < r->count; i++) {
    if (r->list[i].issued_before + REVOCABLE_TOKEN_MAX_TTL_MS <= now)
      free_revocation(&r->list[i]);
    else r->list[kept++] = r->list[i];
  }
  r->count = kept;
}

static struct revocation *find(struct revocations *r, const char *key_name,
                               const char *target) {
  for (size_t i = 0; i < r->count; i++)
    if (!strcmp(r->list[i].key_name, key_name) &&
        !strcmp(r->list[i].target, target))
      return &r->list[i];
  return NULL;
}

bool revocation__add(struct revocations *r, const char *key_name,
                      const char *target, int64_t issued_before,
                      int64_t applies_at) {
  pthread_mutex_lock(&r->lock);
  forget_expired(r, applies_at);
  struct revocation *rv = find(r, key_name, target);
  if (!rv) {
    r->list = herald_xrealloc(r->list, (r->count + 1) * sizeof *r->list);
    rv = &r->list[r->count++];
    rv->key_name = herald_xstrdup(key_name);
    rv->target = herald_xstrdup(target);
  } else if (rv->issued_before >= issued_before) {
    pthread_mutex_unlock(&r->lock);
    return false;
  }
  rv->issued_before = issued_before;
  rv->applies_at = applies_at;
  pthread_mutex_unlock(&r->lock);
  return true;
}

/* Whether target ("<type>:<value>") names this token. */
static bool target_matches(const char *target, const char *client_id,
                           const char *revocation_key) {
  static const char client_prefix[] = "clientId:";
  static const char revocation_prefix[] = "revocationKey:";
  if (client_id && !strncmp(target, client_prefix, sizeof client_prefix - 1))
    return !strcmp(target + sizeof client_prefix - 1, client_id);
  if (revocation_key &&
      !strncmp(target, revocation_prefix, sizeof revocation_prefix - 1))
    return !strcmp(target + sizeof revocation_prefix - 1, revocation_key);
  return false;
}

bool revocation__revoked(struct revocations *r, const char *key_name,
                          const char *client_id, const char *revocation_key,
                          int64_t issued, int64_t now) {
  bool revoked = false;
  pthread_mutex_lock(&r->lock);
  for (size_t i = 0; !revoked && i < r->count; i++) {
    const struct revocation *rv = &r->list[i];
    revoked = now >= rv->applies_at && issued < rv->issued_before &&
              !strcmp(rv->key_name, key_name) &&
              target_matches(rv->target, client_id, revocation_key);
  }
  pthread_mutex_unlock(&r->lock);
  return revoked;
}
