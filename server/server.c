/* server.c -- heraldd's composition and lifecycle: storage and apps, the
 * layers' process state, binding the listening sockets (every address the
 * bind name resolves to, one SO_REUSEPORT socket per worker and address),
 * each worker's share of every layer, starting the workers, and the
 * graceful stop on SIGINT/SIGTERM. */
#include "server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "alloc.h"
#include "channel/fanout.h"
#include "channel/presence.h"
#include "channel/webhooks.h"
#include "core/counters.h"
#include "core/log.h"
#include "core/metrics.h"
#include "msgid.h"
#include "router.h"
#include "store/store.h"
#include "transport/outbound.h"
#include "transport/sse.h"
#include "transport/websocket.h"

#define MAX_ADDRESSES 4
#define DRAIN_DEADLINE_MS 10000

struct bind_plan {
  struct sockaddr_storage addrs[MAX_ADDRESSES];
  socklen_t lens[MAX_ADDRESSES];
  int n;
};

/* ---- Binding ---------------------------------------------------------------- */

static void set_port(struct sockaddr_storage *ss, int port) {
  if (ss->ss_family == AF_INET)
    ((struct sockaddr_in *)ss)->sin_port = htons((uint16_t)port);
  else
    ((struct sockaddr_in6 *)ss)->sin6_port = htons((uint16_t)port);
}

/* "localhost" means both loopbacks, whatever /etc/hosts says: clients may
 * resolve it to either. */
static void plan_loopbacks(struct bind_plan *plan) {
  struct sockaddr_in *v4 = (struct sockaddr_in *)&plan->addrs[0];
  struct sockaddr_in6 *v6 = (struct sockaddr_in6 *)&plan->addrs[1];
  memset(plan, 0, sizeof *plan);
  v4->sin_family = AF_INET;
  v4->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  plan->lens[0] = sizeof *v4;
  v6->sin6_family = AF_INET6;
  v6->sin6_addr = in6addr_loopback;
  plan->lens[1] = sizeof *v6;
  plan->n = 2;
}

static int resolve(const char *host, struct bind_plan *plan, herald_error *err) {
  if (!strcmp(host, "localhost")) {
    plan_loopbacks(plan);
    return 0;
  }
  struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                           .ai_flags = AI_PASSIVE};
  struct addrinfo *res;
  int rc = getaddrinfo(host, NULL, &hints, &res);
  if (rc)
    return herald_error_set(err, HERALD_E_INTERNAL, "cannot resolve %s: %s",
                            host, gai_strerror(rc));
  plan->n = 0;
  for (struct addrinfo *ai = res; ai && plan->n < MAX_ADDRESSES; ai = ai->ai_next) {
    bool seen = false;
    for (int i = 0; i < plan->n; i++)
      seen |= plan->lens[i] == ai->ai_addrlen &&
              !memcmp(&plan->addrs[i], ai->ai_addr, ai->ai_addrlen);
    if (seen) continue;
    memcpy(&plan->addrs[plan->n], ai->ai_addr, ai->ai_addrlen);
    plan->lens[plan->n++] = ai->ai_addrlen;
  }
  freeaddrinfo(res);
  return 0;
}

/* A bound socket with SO_REUSEPORT and TCP_NODELAY; -errno on
 * failure. */
static int bind_socket(const struct sockaddr_storage *addr, socklen_t len) {
  int fd = socket(addr->ss_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return -errno;
  int one = 1;
  setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof one);
  if (addr->ss_family == AF_INET6)
    setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof one);
  /* Replies and frames go out at once (no Nagle delay). Accepted sockets
   * inherit the option on Linux, so no connection needs a setsockopt. */
  setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
  /* Bound only: each listens once every worker is ready (worker__start). */
  if (bind(fd, (const struct sockaddr *)addr, len) != 0) {
    int e = -errno;
    close(fd);
    return e;
  }
  return fd;
}

/* Binds n_workers sockets per address into fds[worker][first + address]
 * and sets *bound_port to the port. With port 0 the first socket picks the port
 * and the rest share it. */
static int bind_all(struct server *s, struct bind_plan *plan, int port,
                    int fds[][2 * MAX_ADDRESSES], int first, int *bound_port,
                    herald_error *err) {
  for (int a = 0; a < plan->n; a++) {
    for (int w = 0; w < s->pool.n; w++) {
      set_port(&plan->addrs[a], port);
      int fd = bind_socket(&plan->addrs[a], plan->lens[a]);
      if (fd == -EAFNOSUPPORT || fd == -EADDRNOTAVAIL) {
        /* No IPv6 on this host: serve the other addresses. */
        log_warn("skipping an address of %s: %s", s->cfg->bind, strerror(-fd));
        plan->n--;
        memmove(&plan->addrs[a], &plan->addrs[a + 1],
                (size_t)(plan->n - a) * sizeof plan->addrs[0]);
        memmove(&plan->lens[a], &plan->lens[a + 1],
                (size_t)(plan->n - a) * sizeof plan->lens[0]);
        a--;
        break;
      }
      if (fd < 0)
        return herald_error_set(err, HERALD_E_INTERNAL,
                                "cannot bind %s port %d: %s", s->cfg->bind,
                                port, strerror(-fd));
      if (port == 0) {
        struct sockaddr_storage bound;
        socklen_t len = sizeof bound;
        getsockname(fd, (struct sockaddr *)&bound, &len);
        port = ntohs(bound.ss_family == AF_INET
                         ? ((struct sockaddr_in *)&bound)->sin_port
                         : ((struct sockaddr_in6 *)&bound)->sin6_port);
      }
      fds[w][first + a] = fd;
    }
  }
  *bound_port = port;
  return 0;
}

/* ---- Stopping ------------------------------------------------------------- */

static void finish_stop(struct server *s) {
  uv_timer_stop(&s->drain_deadline);
  uv_timer_stop(&s->idle_check);
  store__quiet(s->store); /* no feed reaches a worker that is ending */
  webhooks__stop(s->channels.webhooks); /* its reports go to workers */
  for (int i = 0; i < s->pool.n; i++) worker__exit(&s->pool.workers[i]);
  uv_close((uv_handle_t *)&s->drained_signal, NULL);
  uv_close((uv_handle_t *)&s->drain_deadline, NULL);
  uv_close((uv_handle_t *)&s->idle_check, NULL);
  uv_close((uv_handle_t *)&s->sigint, NULL);
  uv_close((uv_handle_t *)&s->sigterm, NULL);
  uv_close((uv_handle_t *)&s->sighup, NULL);
}

#define IDLE_CHECK_MS 10

/* Every worker drained; the publishes their connections' ends made (the
 * server's own: presence leaves, metachannel events) finish before the
 * workers do. */
static void stop_when_idle(uv_timer_t *timer) {
  struct server *s = timer->data;
  if (!channel__idle(&s->channels)) return;
  uv_timer_stop(timer);
  finish_stop(s);
}

static void on_drained(uv_async_t *handle) {
  struct server *s = handle->data;
  if (atomic_load(&s->workers_drained) != s->pool.n) return;
  if (channel__idle(&s->channels)) finish_stop(s);
  else uv_timer_start(&s->idle_check, stop_when_idle, IDLE_CHECK_MS,
                      IDLE_CHECK_MS);
}

static void on_drain_deadline(uv_timer_t *timer) {
  log_warn("in-flight requests did not finish in %d ms; stopping anyway",
           DRAIN_DEADLINE_MS);
  finish_stop(timer->data);
}

/* The HTTP layer's report, on worker w's thread: w has drained. */
static void worker_drained(void *server, struct worker *w) {
  struct server *s = server;
  atomic_fetch_add(&s->workers_drained, 1);
  uv_async_send(&s->drained_signal);
}

/* Realtime connections first: those on HTTP requests (comet polls) are
 * answered, so the HTTP layer finds them done. */
static void drain_on_worker(struct worker_task *task) {
  realtime__drain(worker__self());
  http__drain(worker__self());
}

static void on_signal(uv_signal_t *handle, int signum) {
  struct server *s = handle->data;
  if (s->stopping) return;
  s->stopping = true;
  log_info("received %s: finishing in-flight requests",
           signum == SIGINT ? "SIGINT" : "SIGTERM");
  uv_timer_start(&s->drain_deadline, on_drain_deadline, DRAIN_DEADLINE_MS, 0);
  channel__stop(&s->channels);
  for (int i = 0; i < s->pool.n; i++)
    worker__post(&s->pool.workers[i], &s->drain_tasks[i], drain_on_worker);
}

/* SIGHUP: new TLS handshakes use the files as they are now; open
 * connections keep theirs; a file that does not load changes nothing. */
static void on_sighup(uv_signal_t *handle, int signum) {
  struct server *s = handle->data;
  herald_error err;
  if (!s->http.tls) return;
  if (tls__context_reload(s->http.tls, &err))
    log_error("SIGHUP: %s; the TLS certificate in use stays", err.message);
  else
    log_info("SIGHUP: TLS certificate and key reloaded");
}

/* ---- Running ----------------------------------------------------------------- */

static void init_main_loop(struct server *s) {
  s->main_loop = uv_default_loop();
  uv_async_init(s->main_loop, &s->drained_signal, on_drained);
  s->drained_signal.data = s;
  uv_timer_init(s->main_loop, &s->drain_deadline);
  s->drain_deadline.data = s;
  uv_timer_init(s->main_loop, &s->idle_check);
  s->idle_check.data = s;
  uv_signal_init(s->main_loop, &s->sigint);
  uv_signal_init(s->main_loop, &s->sigterm);
  s->sigint.data = s->sigterm.data = s;
  uv_signal_start(&s->sigint, on_signal, SIGINT);
  uv_signal_start(&s->sigterm, on_signal, SIGTERM);
  uv_signal_init(s->main_loop, &s->sighup);
  s->sighup.data = s;
  uv_signal_start(&s->sighup, on_sighup, SIGHUP);
}

/* The layers' process state, bottom up. */
static void init_layers(struct server *s) {
  const struct config *cfg = s->cfg;
  nonce_cache__init(&s->nonces, 2 * cfg->token_window_ms);
  s->channels = (struct channels){.pool = &s->pool, .store = s->store,
                                  .apps = &s->apps, .cfg = cfg,
                                  .node_id = s->node_id};
  fanout__init(&s->channels);
  realtime__init(&s->realtime, &s->channels, cfg);
  s->rest = (struct rest){.cfg = cfg, .apps = &s->apps, .store = s->store,
                          .nonces = &s->nonces, .channels = &s->channels,
                          .connections = {realtime__resolve_key, &s->realtime}};
  struct http_handlers handlers = router__handlers(s);
  handlers.drained = worker_drained;
  http__server_init(&s->http, cfg, &handlers);
}

/* TLS, when a certificate is configured: on the main port, or on
 * --tls-port beside plaintext. */
static int init_tls(struct server *s, herald_error *err) {
  const struct config *cfg = s->cfg;
  if (!cfg->tls_cert && !cfg->tls_key) {
    if (cfg->tls_port < 0) return 0;
    return herald_error_set(err, HERALD_E_BAD_REQUEST,
                            "--tls-port needs --tls-cert and --tls-key");
  }
  return tls__context_new(&s->http.tls, cfg->tls_cert, cfg->tls_key, err);
}

static void cleanup_layers(struct server *s) {
  tls__context_free(s->http.tls);
  http__server_cleanup(&s->http);
  realtime__cleanup(&s->realtime);
  nonce_cache__cleanup(&s->nonces);
}

/* Worker w's share of every layer, bottom up (it is torn down top down,
 * worker__at_exit), listening on its sockets fds. */
static int compose_worker(struct server *s, struct worker *w, const int *fds,
                          const bool *tls, int n_fds) {
  outbound__worker_init(w);
  websocket__worker_init(w);
  sse__worker_init(w);
  channel__worker_init(&s->channels, w);
  stats_minutes__worker_init(&s->stats, w);
  realtime__worker_init(&s->realtime, w);
  return http__worker_init(&s->http, w, fds, tls, n_fds);
}

/* err for a worker step that failed with e (0: it did not). */
static int check_step(int e, const char *step, int i, herald_error *err) {
  if (!e) return 0;
  return herald_error_set(err, HERALD_E_INTERNAL, "cannot %s worker %d: %s",
                          step, i, uv_strerror(e));
}

/* Every worker can be posted to before any is composed, and every one is
 * composed before any starts. */
static int start_workers(struct server *s, herald_error *err) {
  struct bind_plan plan;
  int rc = resolve(s->cfg->bind, &plan, err);
  if (rc) return rc;
  int (*fds)[2 * MAX_ADDRESSES] =
      herald_xcalloc((size_t)s->pool.n, sizeof *fds);
  bool tls[2 * MAX_ADDRESSES];
  rc = bind_all(s, &plan, s->cfg->port, fds, 0, &s->port, err);
  int n_plain = plan.n, n_fds = plan.n; /* fewer when a family is missing */
  bool tls_beside = s->http.tls && s->cfg->tls_port >= 0;
  if (!rc && tls_beside) {
    rc = bind_all(s, &plan, s->cfg->tls_port, fds, n_plain, &s->tls_port,
                  err);
    n_fds += plan.n;
  }
  for (int a = 0; a < n_fds; a++)
    tls[a] = s->http.tls && (!tls_beside || a >= n_plain);
  s->rest.port = s->port;
  struct worker *w = s->pool.workers;
  for (int i = 0; !rc && i < s->pool.n; i++)
    rc = check_step(worker__init(&w[i], &s->pool, i), "set up", i, err);
  for (int i = 0; !rc && i < s->pool.n; i++)
    rc = check_step(compose_worker(s, &w[i], fds[i], tls, n_fds), "set up",
                    i, err);
  for (int i = 0; !rc && i < s->pool.n; i++)
    rc = check_step(worker__start(&w[i]), "start", i, err);
  herald_free(fds);
  return rc;
}

static void restore_app_fixtures(struct app *app, void *server) {
  presence__seed_fixtures(&((struct server *)server)->channels, app, false);
}

/* Apps' presence fixtures are members again; their history, if any, is
 * in the store already. */
static void restore_fixtures(struct server *s) {
  apps__each(&s->apps, restore_app_fixtures, s);
}

int server__run(struct server *s, const struct config *cfg) {
  herald_error err;
  char *dev_key = NULL;
  memset(s, 0, sizeof *s);
  s->cfg = cfg;
  s->pool.n = cfg->threads;
  counters__set_workers(cfg->threads);
  metrics__init();
  msgid__random(s->node_id, 6);
  int rc = apps__init(&s->apps, cfg, &dev_key, &err);
  if (!rc) rc = store__open(&s->store, cfg, &err);
  if (!rc) rc = apps__load_stored(&s->apps, s->store, &err);
  if (!rc) apps__follow(&s->apps, s->store);
  if (rc) {
    log_error("%s", err.message);
    store__close(s->store);
    apps__cleanup(&s->apps);
    herald_free(dev_key);
    return 1;
  }
  init_layers(s);
  if (init_tls(s, &err)) {
    log_error("%s", err.message);
    return 1;
  }
  if (stats_minutes__init(&s->stats, &s->channels, &err)) {
    log_error("%s", err.message);
    return 1;
  }
  if (webhooks__init(&s->channels, &err)) {
    log_error("%s", err.message);
    return 1;
  }
  s->pool.workers = herald_xcalloc((size_t)s->pool.n, sizeof *s->pool.workers);
  s->drain_tasks = herald_xcalloc((size_t)s->pool.n, sizeof *s->drain_tasks);
  init_main_loop(s);
  if (start_workers(s, &err)) {
    log_error("%s", err.message);
    return 1;
  }
  if (webhooks__start(s->channels.webhooks)) {
    log_error("cannot start the webhooks' thread");
    return 1;
  }
  realtime_revocation__watch(&s->realtime);
  restore_fixtures(s);
  const char *host = strchr(cfg->bind, ':') ? "[::]" : cfg->bind;
  bool tls_only = s->http.tls && cfg->tls_port < 0;
  printf("heraldd: listening on %s://%s:%d", tls_only ? "https" : "http",
         host, s->port);
  if (s->http.tls && !tls_only) printf(" and https://%s:%d", host, s->tls_port);
  printf(" (%d threads, %s engine)\n", s->pool.n, cfg->engine);
  if (dev_key) {
    printf("heraldd: development key: %s\n"
           "heraldd: watch: curl -N "
           "'http://localhost:%d/sse?v=3&channels=test&key=%s'\n"
           "heraldd: try: curl -u '%s' -H 'content-type: application/json' "
           "-d '{\"name\":\"greeting\",\"data\":\"hello\"}' "
           "http://localhost:%d/channels/test/messages\n",
           dev_key, s->port, dev_key, dev_key, s->port);
  }
  fflush(stdout);
  uv_run(s->main_loop, UV_RUN_DEFAULT);
  for (int i = 0; i < s->pool.n; i++) worker__join(&s->pool.workers[i]);
  store__close(s->store);
  for (int i = 0; i < s->pool.n; i++) worker__cleanup(&s->pool.workers[i]);
  cleanup_layers(s);
  stats_minutes__cleanup(&s->stats);
  webhooks__free(s->channels.webhooks);
  metrics__cleanup();
  apps__cleanup(&s->apps);
  herald_free(s->pool.workers);
  herald_free(s->drain_tasks);
  herald_free(dev_key);
  uv_loop_close(s->main_loop);
  log_info("stopped");
  return 0;
}
