/* error.c -- herald_error: setting, status lookup and names, all generated
 * from the HERALD_ERRORS table in include/herald/errors.h. */
#include "herald/errors.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

struct error_row {
  int code;
  int status;
  const char *name;
  const char *message;
};

static const struct error_row error_rows[] = {
#define XX(name, code, status, msg) {code, status, #name, msg},
    HERALD_ERRORS(XX)
#undef XX
};

static const struct error_row *find_row(int code) {
  for (size_t i = 0; i < sizeof error_rows / sizeof error_rows[0]; i++)
    if (error_rows[i].code == code) return &error_rows[i];
  return NULL;
}

int herald_error_status(int code) {
  const struct error_row *row = find_row(code);
  if (row) return row->status;
  int derived = code / 100;
  return derived >= 400 && derived <= 599 ? derived : 500;
}

const char *herald_error_name(int code) {
  const struct error_row *row = find_row(code);
  return row ? row->name : "UNKNOWN";
}

const char *herald_strerror(int code) {
  const struct error_row *row = find_row(code);
  return row ? row->message : "Unknown error";
}

int herald_error_set(herald_error *err, int code, const char *fmt, ...) {
  if (code < 0) code = -code;
  if (err) {
    err->code = code;
    err->status = herald_error_status(code);
    snprintf(err->href, sizeof err->href, "https://help.ably.io/error/%d",
             code);
    if (fmt) {
      va_list ap;
      va_start(ap, fmt);
      vsnprintf(err->message, sizeof err->message, fmt, ap);
      va_end(ap);
    } else {
      snprintf(err->message, sizeof err->message, "%s", herald_strerror(code));
    }
    for (char *p = err->message; *p; p++)
      if (*p == '\r' || *p == '\n') *p = ' ';
  }
  return -code;
}
