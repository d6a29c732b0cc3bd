/* stats_interval.h -- the intervals of Ably's stats (rest.md 15): units,
 * interval ids ("2025-02-03:15:03") and the time bounds of a query.
 * All UTC; times in ms since the epoch. */
#ifndef HERALD_STATS_INTERVAL_H
#define HERALD_STATS_INTERVAL_H

#include <stdint.h>

enum stats_unit { STATS_MINUTE, STATS_HOUR, STATS_DAY, STATS_MONTH };

/* "yyyy-mm-dd:hh:mm:ss" and a NUL */
#define STATS_INTERVAL_ID_MAX 24

/* The unit named "minute", "hour", "day" or "month": 0, or -1. */
int stats_interval__unit(const char *name, enum stats_unit *out);
const char *stats_interval__unit_name(enum stats_unit u);

/* A query bound: epoch ms, or an interval id of any unit's form
 * ("yyyy-mm-dd:hh:mm", "yyyy-mm-dd:hh", "yyyy-mm-dd", "yyyy-mm"). *first
 * and *last are the first and last ms it covers (the same ms for a
 * number). 0, or -1 for anything else. */
int stats_interval__parse(const char *text, int64_t *first, int64_t *last);

/* The start of the interval of unit u that ms falls in. */
int64_t stats_interval__floor(int64_t ms, enum stats_unit u);
/* The start of the interval after the one starting at start. */
int64_t stats_interval__next(int64_t start, enum stats_unit u);

/* The id of the interval of unit u starting at start, as Ably writes it:
 * "yyyy-mm-dd:hh:mm" for minutes, "yyyy-mm-dd:hh" for the others. */
void stats_interval__id(int64_t start, enum stats_unit u,
                        char out[STATS_INTERVAL_ID_MAX]);
/* "yyyy-mm-dd:hh:mm:ss" of ms (an in-progress interval's last second). */
void stats_interval__second_id(int64_t ms, char out[STATS_INTERVAL_ID_MAX]);

#endif
