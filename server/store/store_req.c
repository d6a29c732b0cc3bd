/* store_req.c -- how an engine hands a finished request back: on the
 * request's origin worker (see store.h). Apart from store.c, so that the
 * engines, which store.c selects, need nothing of it. */
#include "store/store.h"

#include "core/metrics.h"

static void run_done(struct worker_task *task) {
  struct store_req *req = (struct store_req *)task;
  req->done(req);
}

/* An append's latency, and whether it failed, for GET /metrics. */
static void observe(const struct store_req *req) {
  if (req->op != STORE_OP_APPEND) return;
  metrics__observe(METRIC_STORE_LATENCY, metrics__now_us() - req->started_us);
  if (req->rc) metrics__add(METRIC_STORE_FAILURES, 1);
}

void store_req__complete(struct store_req *req) {
  observe(req);
  if (!req->origin) req->done(req);
  else worker__post(req->origin, &req->task, run_done);
}
