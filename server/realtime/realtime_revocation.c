/* realtime_revocation.c -- token revocations reaching live connections
 * (auth.md 12): a revocation (revokeTokens here, or another node's,
 * followed) visits every worker; from its appliesAt on, each connection
 * whose token it revokes gets DISCONNECTED 40141 and loses its transport
 * (the client renews and resumes with a token issued since). With
 * allowReauthMargin appliesAt is later: those connections are asked to
 * renew at once (an AUTH, as Ably hints), and the sweep waits for it.
 * Owns: struct revocation_sweep, each worker's pending sweeps. */
#include "alloc.h"
#include "auth/token_auth.h"
#include "clock.h"
#include "realtime/realtime.h"

/* One revocation's visit to one worker. */
struct revocation_sweep {
  struct worker_task task;
  struct revocation_sweep *next; /* the worker's pending sweeps */
  struct app *app;               /* retained */
  int64_t applies_at;
};

static void free_sweep(struct revocation_sweep *s) {
  apps__release(s->app);
  herald_free(s);
}

/* Whether c is a live connection of app, on a token. */
static bool concerned(const struct rt_conn *c, const struct app *app) {
  return c->transport && c->app == app && c->auth.via_token;
}

/* Disconnects the connections of the sweep's app whose token is revoked
 * now: the pending revocation, or any other. */
static void sweep(struct realtime_worker *rw, const struct revocation_sweep *s,
                  int64_t now) {
  herald_error err;
  herald_error_set(&err, HERALD_E_TOKEN_REVOKED, "Token revoked");
  for (struct rt_conn *c = rw->conns, *next; c; c = next) {
    next = c->next;
    if (concerned(c, s->app) && token_auth__revoked(&c->auth, now))
      realtime__disconnect(c, &err);
  }
}

/* Asks the connections the revocation will reach to renew first (event
 * streams cannot). */
static void hint(struct realtime_worker *rw, const struct revocation_sweep *s,
                 int64_t now) {
  struct protocol_message auth = {.action = PM_AUTH};
  for (struct rt_conn *c = rw->conns; c; c = c->next)
    if (concerned(c, s->app) && !c->ephemeral &&
        !token_auth__revoked(&c->auth, now) &&
        token_auth__revoked(&c->auth, s->applies_at))
      realtime__send(c, &auth);
}

static void arrive(struct worker_task *task) {
  struct revocation_sweep *s = (struct revocation_sweep *)task;
  struct realtime_worker *rw = realtime__worker(worker__self());
  int64_t now = clock__now_ms();
  if (s->applies_at <= now) {
    sweep(rw, s, now);
    free_sweep(s);
    return;
  }
  hint(rw, s, now);
  s->next = rw->revocation_sweeps;
  rw->revocation_sweeps = s;
}

/* The apps registry's watcher, on any thread. */
static void on_revoked(void *ctx, struct app *app, int64_t applies_at) {
  struct worker_pool *pool = ((struct realtime *)ctx)->channels->pool;
  for (int i = 0; i < pool->n; i++) {
    struct revocation_sweep *s = herald_xcalloc(1, sizeof *s);
    s->app = apps__retain(app);
    s->applies_at = applies_at;
    worker__post(&pool->workers[i], &s->task, arrive);
  }
}

void realtime_revocation__watch(struct realtime *rt) {
  apps__watch_revocations(rt->channels->apps,
                          (struct revocation_watcher){on_revoked, rt});
}

void realtime_revocation__tick(struct realtime_worker *rw, int64_t now) {
  for (struct revocation_sweep **p = &rw->revocation_sweeps; *p;) {
    struct revocation_sweep *s = *p;
    if (s->applies_at > now) {
      p = &s->next;
      continue;
    }
    *p = s->next;
    sweep(rw, s, now);
    free_sweep(s);
  }
}

void realtime_revocation__worker_cleanup(struct realtime_worker *rw) {
  while (rw->revocation_sweeps) {
    struct revocation_sweep *s = rw->revocation_sweeps;
    rw->revocation_sweeps = s->next;
    free_sweep(s);
  }
}
