/* store_req.c -- how an engine hands a finished request back: on the
 * request's origin worker (see store.h). Apart from store.c, so that the
 * engines, which store.c selects, need nothing of it. */
#include "store/store.h"

static void run_done(struct worker_task *task) {
  struct store_req *req = (struct store_req *)task;
  req->done(req);
}

void store_req__complete(struct store_req *req) {
  if (!req->origin) req->done(req);
  else worker__post(req->origin, &req->task, run_done);
}
