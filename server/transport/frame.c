/* frame.c -- shared wire frames (see frame.h). */
#include "transport/frame.h"

#include "alloc.h"

struct frame *frame__new(size_t len) {
  struct frame *f = herald_xmalloc(sizeof *f + len);
  f->refs = 1;
  f->len = len;
  return f;
}

struct frame *frame__ref(struct frame *f) {
  f->refs++;
  return f;
}

void frame__unref(struct frame *f) {
  if (f && --f->refs == 0) herald_free(f);
}
