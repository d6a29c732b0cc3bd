/* rest_metrics.c -- what an operator and a load balancer ask of the
 * node: GET /metrics (Prometheus text exposition format 0.0.4, the
 * counters of core/metrics.h; Authorization: Bearer with --metrics-key or
 * --admin-key), GET /healthz (the process answers) and GET /readyz (it
 * answers and its store does: one round trip to the engine's thread, or
 * to Redis). */
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "alloc.h"
#include "core/metrics.h"
#include "channel/webhooks.h"
#include "rest/reply.h"
#include "rest/rest.h"
#include "transport/http.h"

#define TEXT_FORMAT "Content-Type: text/plain; version=0.0.4; charset=utf-8\r\n"

struct text {
  char *buf;
  size_t len, cap;
};

static void put(struct text *t, const char *format, ...) {
  va_list ap;
  for (;;) {
    va_start(ap, format);
    int n = vsnprintf(t->buf + t->len, t->cap - t->len, format, ap);
    va_end(ap);
    if ((size_t)n < t->cap - t->len) {
      t->len += (size_t)n;
      return;
    }
    t->cap = (t->cap + (size_t)n) * 2;
    t->buf = herald_xrealloc(t->buf, t->cap);
  }
}

static void head(struct text *t, const char *name, const char *type,
                 const char *help) {
  put(t, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

static const char *const transports[METRIC_TRANSPORTS] = {"websocket", "comet",
                                                          "sse"};
static const char *const origins[METRIC_ORIGINS] = {"rest", "realtime"};
static const char *const outcomes[] = {"succeeded", "failed", "refused"};

static void connections(struct text *t) {
  head(t, "herald_connections", "gauge",
       "Realtime connections open on this node, by transport.");
  for (int i = 0; i < METRIC_TRANSPORTS; i++)
    put(t, "herald_connections{transport=\"%s\"} %" PRId64 "\n", transports[i],
        metrics__value(METRIC_CONNECTIONS_OPENED + i) -
            metrics__value(METRIC_CONNECTIONS_CLOSED + i));
  head(t, "herald_connections_opened_total", "counter",
       "Realtime connections opened on this node, by transport.");
  for (int i = 0; i < METRIC_TRANSPORTS; i++)
    put(t, "herald_connections_opened_total{transport=\"%s\"} %" PRId64 "\n",
        transports[i], metrics__value(METRIC_CONNECTIONS_OPENED + i));
  head(t, "herald_channels", "gauge",
       "Channels this node announced open and not yet closed.");
  put(t, "herald_channels %" PRId64 "\n",
      metrics__value(METRIC_CHANNELS_OPENED) -
          metrics__value(METRIC_CHANNELS_CLOSED));
}

static void by_origin(struct text *t, const char *name, const char *help,
                      enum metric_counter base) {
  head(t, name, "counter", help);
  for (int i = 0; i < METRIC_ORIGINS; i++)
    put(t, "%s{origin=\"%s\"} %" PRId64 "\n", name, origins[i],
        metrics__value(base + i));
}

static void counter(struct text *t, const char *name, const char *help,
                    enum metric_counter id) {
  head(t, name, "counter", help);
  put(t, "%s %" PRId64 "\n", name, metrics__value(id));
}

static void messages(struct text *t) {
  by_origin(t, "herald_messages_received_total",
            "Messages and presence changes published, by origin.",
            METRIC_MESSAGES_IN);
  by_origin(t, "herald_message_bytes_received_total",
            "Size of what was published, by origin.", METRIC_BYTES_IN);
  counter(t, "herald_messages_sent_total",
          "Messages and presence changes sent to realtime subscribers.",
          METRIC_MESSAGES_OUT);
  counter(t, "herald_message_bytes_sent_total",
          "Size of what was sent to realtime subscribers.", METRIC_BYTES_OUT);
  head(t, "herald_rest_requests_total", "counter",
       "REST requests answered, by outcome (refused: 401, 403, 429).");
  for (int i = 0; i < 3; i++)
    put(t, "herald_rest_requests_total{outcome=\"%s\"} %" PRId64 "\n",
        outcomes[i], metrics__value(METRIC_REQUESTS_SUCCEEDED + i));
  counter(t, "herald_store_append_failures_total",
          "Appends the store failed.", METRIC_STORE_FAILURES);
  counter(t, "herald_redis_commands_total",
          "Commands the redis engine sent (round trips).",
          METRIC_REDIS_COMMANDS);
  counter(t, "herald_webhook_deliveries_total",
          "Webhook events a receiver took (2xx).", METRIC_WEBHOOK_DELIVERED);
  counter(t, "herald_webhook_failures_total",
          "Webhook requests that failed (no answer, or not 2xx).",
          METRIC_WEBHOOK_FAILED);
  counter(t, "herald_webhook_dropped_total",
          "Webhook events given up on (retry window, full queue).",
          METRIC_WEBHOOK_DROPPED);
}

static void histogram(struct text *t, const char *name, const char *help,
                      enum metric_histogram h) {
  struct metric_snapshot s;
  metrics__histogram(h, &s);
  head(t, name, "histogram", help);
  int64_t cumulative = 0;
  for (int i = 0; i < METRIC_BUCKETS; i++) {
    cumulative += s.counts[i];
    put(t, "%s_bucket{le=\"%g\"} %" PRId64 "\n", name,
        (double)metrics__bounds_us[i] / 1e6, cumulative);
  }
  put(t, "%s_bucket{le=\"+Inf\"} %" PRId64 "\n", name,
      cumulative + s.counts[METRIC_BUCKETS]);
  put(t, "%s_sum %.6f\n%s_count %" PRId64 "\n", name, (double)s.sum_us / 1e6,
      name, s.count);
}

/* GET /metrics */
void rest_metrics__get(struct http_request *req) {
  const struct config *cfg = rest__context(req)->cfg;
  if (!rest__bearer_is(req, cfg->metrics_key) &&
      !rest__bearer_is(req, cfg->admin_key)) {
    herald_error err;
    herald_error_set(&err, HERALD_E_UNAUTHORIZED,
                     "GET /metrics needs Authorization: Bearer with the "
                     "metrics key (--metrics-key) or the admin key");
    reply__error(req, &err);
    return;
  }
  struct text t = {0};
  connections(&t);
  messages(&t);
  head(&t, "herald_webhook_queued", "gauge",
       "Webhook events queued or in flight, not yet delivered.");
  put(&t, "herald_webhook_queued %zu\n",
      webhooks__queued(rest__context(req)->channels->webhooks));
  histogram(&t, "herald_publish_latency_seconds",
            "A publish from its arrival to its result (stored, fanned out).",
            METRIC_PUBLISH_LATENCY);
  histogram(&t, "herald_store_append_latency_seconds",
            "A store append from the call to its commit.",
            METRIC_STORE_LATENCY);
  http__respond(req, 200, TEXT_FORMAT, t.buf, t.len);
  herald_free(t.buf);
}

static void answer(struct http_request *req, int status, const char *text) {
  http__respond(req, status, "Content-Type: text/plain\r\n", text,
                strlen(text));
}

/* GET /healthz */
void rest_metrics__healthz(struct http_request *req) { answer(req, 200, "ok\n"); }

struct readiness {
  struct store_channels query;
  struct http_request *req;
};

static void on_store_answered(struct store_req *r) {
  struct readiness *rd = (struct readiness *)r;
  if (r->rc) answer(rd->req, 503, "store unavailable\n");
  else answer(rd->req, 200, "ready\n");
  store__channels_cleanup(&rd->query);
  herald_free(rd);
}

/* GET /readyz: a channel listing of no app, which the engine answers. */
void rest_metrics__readyz(struct http_request *req) {
  struct readiness *rd = herald_xcalloc(1, sizeof *rd);
  rd->req = req;
  rd->query.req.origin = req->worker;
  rd->query.req.done = on_store_answered;
  rd->query.app_id = "";
  rd->query.limit = 1;
  store__channels(rest__context(req)->store, &rd->query);
}
