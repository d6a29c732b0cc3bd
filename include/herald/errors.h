/* errors.h -- the Ably error model shared by heraldd, libherald and herald.
 *
 * Every error that can reach a client is an Ably error: an Ably code, an HTTP
 * status and a message. The table below is the single definition; the enum,
 * the name and status lookups and the default messages are generated from it.
 * Codes and statuses follow ably-common/protocol/errors.json and
 * shared/spec/rest.md section 19. */
#ifndef HERALD_ERRORS_H
#define HERALD_ERRORS_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

/* XX(name, ably_code, http_status, default_message) */
#define HERALD_ERRORS(XX)                                                      \
  XX(BAD_REQUEST, 40000, 400, "Bad request")                                   \
  XX(INVALID_REQUEST_BODY, 40001, 400, "Invalid request body")                 \
  XX(INVALID_PARAMETER_VALUE, 40003, 400, "Invalid parameter value")           \
  XX(INVALID_CREDENTIAL, 40005, 400, "Invalid credential")                     \
  XX(INVALID_CONNECTION_ID, 40006, 400, "Invalid connectionId")                \
  XX(MESSAGE_TOO_LARGE, 40009, 413, "Maximum message length exceeded")         \
  XX(INVALID_CHANNEL_NAME, 40010, 400, "Invalid channel name")                 \
  XX(STALE_CURSOR, 40011, 400, "Pagination sequence no longer valid")         \
  XX(INVALID_CLIENT_ID, 40012, 400, "Invalid clientId")                        \
  XX(INVALID_DATA, 40013, 400, "Invalid data or encoding")                     \
  XX(UNSUPPORTED_VERSION, 40017, 400, "Unsupported protocol version")          \
  XX(BATCH_ERROR, 40020, 400, "Batched response includes errors")              \
  XX(INVALID_MESSAGE_ID, 40031, 400,                                           \
     "Client-specified message ids do not match the required format for "      \
     "multi-message ProtocolMessages")                                         \
  XX(INVALID_EXTRAS, 40032, 400, "Invalid message extras field")               \
  XX(TOO_MANY_MESSAGES, 40034, 400, "Too many messages in one publish")        \
  XX(FORCED_NACK, 40099, 400, "Forced nack")                                   \
  XX(UNAUTHORIZED, 40100, 401, "Unauthorized")                                 \
  XX(INVALID_CREDENTIALS, 40101, 401, "Invalid credentials")                   \
  XX(INCOMPATIBLE_CREDENTIALS, 40102, 401, "Invalid clientId for credentials") \
  XX(STALE_TIMESTAMP, 40104, 401, "Timestamp not current")                    \
  XX(NONCE_REPLAYED, 40105, 401, "Nonce value replayed")                       \
  XX(APP_LIMIT_EXCEEDED, 40128, 403, "Maximum number of apps reached")         \
  XX(KEY_REVOKED, 40131, 401, "Key revoked")                                   \
  XX(WRONG_REVOCATION_KEY, 40133, 401,                                         \
     "Tokens may only be revoked with the key that issued them")             \
  XX(TOKEN_ERROR, 40140, 401, "Token error")                                   \
  XX(TOKEN_REVOKED, 40141, 401, "Token revoked")                               \
  XX(TOKEN_EXPIRED, 40142, 401, "Token expired")                               \
  XX(TOKEN_UNRECOGNIZED, 40143, 401, "Token not recognised")                   \
  XX(INVALID_JWT, 40144, 401, "Invalid JWT")                                   \
  XX(INVALID_TOKEN, 40145, 401, "Invalid Ably token")                          \
  XX(IDENTIFIED_CLIENT_REQUIRED, 40161, 401, "Identified client required")     \
  XX(BASIC_AUTH_REQUIRED, 40162, 401,                                          \
     "Operation requires basic authentication")                              \
  XX(REVOCATION_NOT_ENABLED, 40163, 401,                                       \
     "Token revocation is not enabled for this key")                          \
  XX(NO_MEANS_TO_RENEW, 40171, 401,                                            \
     "No means provided to renew auth token")                                  \
  XX(CAPABILITY_DENIED, 40160, 401,                                            \
     "Given credentials do not have the required capability")                  \
  XX(MODE_NOT_GRANTED, 40165, 401,                                             \
     "Operation needs a channel mode that was not requested at attach")     \
  XX(FORBIDDEN, 40300, 403, "Forbidden")                                       \
  XX(NOT_FOUND, 40400, 404, "Not found")                                       \
  XX(METHOD_NOT_ALLOWED, 40500, 405, "Method not allowed")                     \
  XX(REQUEST_TIMEOUT, 40800, 408, "Request timeout")                           \
  XX(CONFLICT, 40900, 409, "Conflict")                                         \
  XX(REQUEST_TOO_LARGE, 41300, 413, "Request entity too large")                \
  XX(HEADERS_TOO_LARGE, 43100, 431, "Request header fields too large")         \
  XX(RATE_LIMITED, 42910, 429, "Rate limit exceeded")                          \
  XX(PUBLISH_RATE_EXCEEDED, 42911, 429,                                        \
     "Maximum publish rate for this connection exceeded")                     \
  XX(INTERNAL, 50000, 500, "Internal error")                                   \
  XX(INTERNAL_CHANNEL, 50001, 500, "Internal channel error")                   \
  XX(TIMEOUT, 50003, 503, "Timeout error")                                     \
  XX(UNAVAILABLE, 50005, 503, "Service temporarily unavailable")              \
  XX(CONNECTION_FAILED, 80000, 503, "Connection failed")                      \
  XX(DISCONNECTED, 80003, 400, "Connection disconnected")                      \
  XX(CONNECTION_EXPIRED, 80008, 400,                                           \
     "Unable to recover connection (connection expired)")                    \
  XX(RESUME_INCOMPATIBLE_AUTH, 80011, 401,                                     \
     "Unable to recover connection (incompatible credentials)")              \
  XX(TRANSPORT_GONE, 80016, 410, "Connection replaced or transport gone")     \
  XX(INVALID_CONNECTION_KEY, 80018, 400, "Invalid connection key")             \
  XX(OUTBOUND_RATE_EXCEEDED, 80020, 429,                                       \
     "Continuity lost as message delivery rate exceeded")                     \
  XX(CHANNEL_NOT_ATTACHED, 90001, 404, "Channel not attached")                 \
  XX(CONTINUITY_LOST, 90003, 404, "Unable to recover channel (messages expired)") \
  XX(TOO_MANY_CHANNELS, 90010, 400, "Too many channels")                       \
  XX(PRESENCE_NO_CLIENT_ID, 91000, 400,                                        \
     "Cannot enter presence without a clientId")                              \
  XX(TOO_MANY_PRESENCE_MEMBERS, 91003, 400, "Too many presence members")     \
  XX(MESSAGE_UPDATES_NOT_ENABLED, 93002, 400,                                  \
     "Message annotations, updates, appends, and deletes are only supported "  \
     "on channels with mutable messages enabled in channel namespace "         \
     "settings")

typedef enum herald_errno {
  HERALD_OK = 0,
#define XX(name, code, status, msg) HERALD_E_##name = code,
  HERALD_ERRORS(XX)
#undef XX
} herald_errno;

#define HERALD_ERROR_MESSAGE_MAX 256
#define HERALD_ERROR_HREF_MAX 96

typedef struct herald_error {
  int code;                               /* Ably code, e.g. 40142 */
  int status;                             /* HTTP status (statusCode), 401 */
  char message[HERALD_ERROR_MESSAGE_MAX]; /* NUL-terminated, no CR/LF */
  char href[HERALD_ERROR_HREF_MAX];       /* help URL for the code */
} herald_error;

/* Fills *err (which may be NULL) with code, its HTTP status, its help URL
 * (https://help.ably.io/error/<code>) and a message formatted from fmt (the table's default message when fmt is NULL). CR and LF
 * are replaced by spaces. Never allocates. Returns -code, so a failure site
 * reads `return herald_error_set(err, HERALD_E_X, "...");`. */
int herald_error_set(herald_error *err, int code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The HTTP status for an Ably code: the table's, else floor(code / 100) when
 * that is a valid 4xx/5xx status, else 500. */
int herald_error_status(int code);

/* The table's identifier ("TOKEN_EXPIRED") or "UNKNOWN". */
const char *herald_error_name(int code);

/* The table's default message, or "Unknown error". */
const char *herald_strerror(int code);

#ifdef __cplusplus
}
#endif

#endif
