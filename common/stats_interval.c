/* stats_interval.c -- stats units and interval ids (see stats_interval.h). */
#include "stats_interval.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static const char *const unit_names[] = {"minute", "hour", "day", "month"};

int stats_interval__unit(const char *name, enum stats_unit *out) {
  for (int u = STATS_MINUTE; u <= STATS_MONTH; u++)
    if (!strcmp(name, unit_names[u])) {
      *out = (enum stats_unit)u;
      return 0;
    }
  return -1;
}

const char *stats_interval__unit_name(enum stats_unit u) {
  return unit_names[u];
}

static void to_tm(int64_t ms, struct tm *tm) {
  time_t s = (time_t)(ms >= 0 ? ms / 1000 : (ms - 999) / 1000);
  gmtime_r(&s, tm);
}

static int64_t from_tm(struct tm *tm) { return (int64_t)timegm(tm) * 1000; }

int64_t stats_interval__floor(int64_t ms, enum stats_unit u) {
  struct tm tm;
  to_tm(ms, &tm);
  tm.tm_sec = 0;
  if (u >= STATS_HOUR) tm.tm_min = 0;
  if (u >= STATS_DAY) tm.tm_hour = 0;
  if (u == STATS_MONTH) tm.tm_mday = 1;
  return from_tm(&tm);
}

int64_t stats_interval__next(int64_t start, enum stats_unit u) {
  struct tm tm;
  to_tm(start, &tm);
  switch (u) {
  case STATS_MINUTE: tm.tm_min++; break;
  case STATS_HOUR: tm.tm_hour++; break;
  case STATS_DAY: tm.tm_mday++; break;
  case STATS_MONTH: tm.tm_mon++; break;
  }
  return from_tm(&tm); /* timegm normalises the overflowing field */
}

/* Reads exactly n digits at *p into *out. */
static int digits(const char **p, int n, int *out) {
  int v = 0;
  for (int i = 0; i < n; i++) {
    if ((*p)[i] < '0' || (*p)[i] > '9') return -1;
    v = v * 10 + ((*p)[i] - '0');
  }
  *p += n;
  *out = v;
  return 0;
}

/* An interval id: its fields, and the unit its form names. */
static int parse_id(const char *p, struct tm *tm, enum stats_unit *u) {
  int year, month, day = 1, hour = 0, minute = 0;
  if (digits(&p, 4, &year) || *p++ != '-' || digits(&p, 2, &month)) return -1;
  *u = STATS_MONTH;
  if (*p == '-') {
    p++;
    if (digits(&p, 2, &day)) return -1;
    *u = STATS_DAY;
    if (*p == ':') {
      p++;
      if (digits(&p, 2, &hour)) return -1;
      *u = STATS_HOUR;
      if (*p == ':') {
        p++;
        if (digits(&p, 2, &minute)) return -1;
        *u = STATS_MINUTE;
      }
    }
  }
  if (*p) return -1;
  *tm = (struct tm){.tm_year = year - 1900, .tm_mon = month - 1,
                    .tm_mday = day, .tm_hour = hour, .tm_min = minute};
  struct tm check = *tm;
  timegm(&check); /* a field out of range moves another */
  return check.tm_mon == tm->tm_mon && check.tm_mday == tm->tm_mday &&
                 check.tm_hour == tm->tm_hour && check.tm_min == tm->tm_min
             ? 0
             : -1;
}

int stats_interval__parse(const char *text, int64_t *first, int64_t *last) {
  if (!text || !*text) return -1;
  if (!strchr(text, '-')) { /* epoch ms */
    char *end;
    errno = 0;
    long long v = strtoll(text, &end, 10);
    if (errno || *end || v < 0) return -1;
    *first = *last = v;
    return 0;
  }
  struct tm tm;
  enum stats_unit u;
  if (parse_id(text, &tm, &u)) return -1;
  *first = from_tm(&tm);
  *last = stats_interval__next(*first, u) - 1;
  return 0;
}

void stats_interval__id(int64_t start, enum stats_unit u,
                        char out[STATS_INTERVAL_ID_MAX]) {
  struct tm tm;
  to_tm(start, &tm);
  strftime(out, STATS_INTERVAL_ID_MAX,
           u == STATS_MINUTE ? "%Y-%m-%d:%H:%M" : "%Y-%m-%d:%H", &tm);
}

void stats_interval__second_id(int64_t ms, char out[STATS_INTERVAL_ID_MAX]) {
  struct tm tm;
  to_tm(ms, &tm);
  strftime(out, STATS_INTERVAL_ID_MAX, "%Y-%m-%d:%H:%M:%S", &tm);
}
