/* annotation_summary.h -- a message's annotations summary and how each
 * annotation changes it, as Ably summarises them (by type, per method):
 *
 *   total.v1    {total}: creates add one, deletes take one away
 *   flag.v1     {total, clientIds: [...], clipped}: each client once
 *   distinct.v1 {name: {total, clientIds, clipped}}: each client once a name
 *   unique.v1   as distinct, but each client under one name at most (a new
 *               name moves it)
 *   multiple.v1 {name: {total, clientIds: {clientId: count},
 *               totalUnidentified, clipped, totalClientIds}}: creates add
 *               their count (unidentified ones to totalUnidentified); a
 *               delete takes away all of its client's count for the name
 *
 * A name or type left with nothing (total 0) is dropped. Pure: JSON in,
 * JSON out, nothing else read or kept. */
#ifndef HERALD_ANNOTATION_SUMMARY_H
#define HERALD_ANNOTATION_SUMMARY_H

#include <jansson.h>

#include "herald/errors.h"
#include "message.h"

/* Whether annotation a (decoded, its clientId final) can be summarised:
 * flag, distinct and unique need a clientId (else -40161), distinct,
 * unique and multiple creates a name (else -40003). 0 or the code. */
int annotation_summary__check(const struct message *a, herald_error *err);

/* The summary (a new reference; an object, maybe empty) that summary
 * (NULL: none yet; not changed) becomes with annotation a, checked. */
json_t *annotation_summary__apply(const json_t *summary,
                                  const struct message *a);

#endif
