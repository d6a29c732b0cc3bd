/* types.h -- libherald's values: message data, messages, presence messages,
 * and paginated results (Ably's PaginatedResult, TG). */
#ifndef HERALD_TYPES_H
#define HERALD_TYPES_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

#define HERALD_VERSION "1.0.0"
#define HERALD_VERSION_MAJOR 1

/* Frees what the library returned as a plain string (JSON text, a token). */
void herald_free(void *ptr);

/* The three kinds of message data every Ably SDK carries alike (RSL4). */
typedef enum herald_data_type {
  HERALD_DATA_NONE = 0,
  HERALD_DATA_STRING, /* UTF-8 text */
  HERALD_DATA_BINARY, /* bytes */
  HERALD_DATA_JSON,   /* a JSON object or array, as its text */
} herald_data_type;

typedef struct herald_data {
  herald_data_type type;
  const char *bytes; /* STRING, JSON: NUL-terminated too; BINARY: len bytes */
  size_t len;
} herald_data;

/* Shorthands that view (not copy) their argument. */
herald_data herald_string(const char *text);
herald_data herald_binary(const void *bytes, size_t len);
herald_data herald_json(const char *json_text);

/* Message actions (TM5) and PresenceMessage actions (TP2). */
enum herald_message_action {
  HERALD_MESSAGE_CREATE = 0,
  HERALD_MESSAGE_UPDATE = 1,
  HERALD_MESSAGE_DELETE = 2,
};
enum herald_presence_action {
  HERALD_PRESENCE_ABSENT = 0,
  HERALD_PRESENCE_PRESENT = 1,
  HERALD_PRESENCE_ENTER = 2,
  HERALD_PRESENCE_LEAVE = 3,
  HERALD_PRESENCE_UPDATE = 4,
};

/* A Message (TM) or PresenceMessage (TP): the same fields, name and serial
 * unused for presence. To publish, fill the fields wanted (NULL: absent);
 * in results every string belongs to the page (or callback) it came from.
 * data is decoded: an encoding left in `encoding` is one the library could
 * not undo (a cipher without the channel's key), data then as received. */
typedef struct herald_message {
  const char *id;
  const char *name;
  const char *client_id;
  const char *connection_id;
  herald_data data;
  const char *encoding;
  const char *extras; /* JSON object text */
  int64_t timestamp;  /* ms since the epoch, 0: absent */
  const char *serial;
  int action; /* enum herald_message_action or herald_presence_action */
} herald_message;

/* A page of results: messages, presence members, stats or any JSON items
 * (herald_request). Pages are independent: free each one. */
typedef struct herald_page herald_page;

size_t herald_page_count(const herald_page *page);
/* Item i as a decoded message, or NULL on a page of other items. */
const herald_message *herald_page_message(const herald_page *page, size_t i);
/* Item i as compact JSON text (binary data appears base64 encoded). */
const char *herald_page_json(const herald_page *page, size_t i);
/* The HTTP status of the response (herald_request's pages may hold an
 * error response: then herald_page_error is filled and this is >= 400). */
int herald_page_status(const herald_page *page);
/* The error a non-2xx response of herald_request carried, else NULL. */
const struct herald_error *herald_page_error(const herald_page *page);
/* A response header's value (case-insensitive name), or NULL. */
const char *herald_page_header(const herald_page *page, const char *name);
/* Whether a Link rel="next" came with the page (TG6: isLast is !has_next). */
bool herald_page_has_next(const herald_page *page);
/* Fetch the next / first page (TG4, TG5). next on the last page gives 0
 * with *out NULL. */
int herald_page_next(const herald_page *page, herald_page **out,
                     struct herald_error *err);
int herald_page_first(const herald_page *page, herald_page **out,
                      struct herald_error *err);
void herald_page_free(herald_page *page);

#ifdef __cplusplus
}
#endif

#endif
