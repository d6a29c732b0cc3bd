/* http_strict.c -- strict CRLF, obs-fold, header-name and chunk framing
 * checks over the raw bytes of a request (see http_strict.h). */
#include "transport/http_strict.h"

enum strict_state {
  S_LINE_START, /* head or trailer: at the start of a line */
  S_LINE,       /* inside a line */
  S_LINE_CR,    /* a CR ended a line */
  S_EMPTY_CR,   /* a CR began an empty line */
  S_SIZE,       /* chunk size digits */
  S_EXT,        /* chunk extension */
  S_SIZE_CR,
  S_DATA,
  S_DATA_CR, /* after chunk data: CR expected */
  S_DATA_LF,
  S_TRAILER_START, /* then S_LINE... with trailer set */
  S_BODY,          /* not chunked: nothing more to check */
  S_FAILED,
};

#define TRAILER 0x80 /* or-ed into a line state inside the trailers */

static const char *const BARE_LF = "Line ending without CR";
static const char *const BARE_CR = "CR not followed by LF";
static const char *const OBS_FOLD = "Obsolete line folding";
static const char *const NAME_SPACE = "Whitespace in a header name";
static const char *const NAME_EMPTY = "Header line without a name";
static const char *const CHUNK_END = "Chunk data not followed by CRLF";
static const char *const CHUNK_SIZE = "Invalid chunk size";
static const char *const FAILED = "Malformed request framing";

void http_strict__reset(struct http_strict *s) {
  s->state = S_LINE_START;
  s->line_seen = false;
  s->in_name = false;
  s->chunk_left = 0;
}

static int hex(char ch) {
  if (ch >= '0' && ch <= '9') return ch - '0';
  if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
  if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
  return -1;
}

/* One byte of a head or trailer line; trailer is TRAILER or 0. Returns the
 * next state or S_FAILED with *why set. */
static int line_byte(struct http_strict *s, int state, int trailer, char ch,
                     bool chunked, const char **why) {
  switch (state) {
  case S_LINE_START:
    if (ch == '\r') return S_EMPTY_CR | trailer;
    if (ch == '\n') return *why = BARE_LF, S_FAILED;
    if (ch == ' ' || ch == '\t') return *why = OBS_FOLD, S_FAILED;
    s->in_name = s->line_seen || trailer; /* the request line has no name */
    if (s->in_name && ch == ':') return *why = NAME_EMPTY, S_FAILED;
    s->line_seen = true;
    return S_LINE | trailer;
  case S_LINE:
    if (ch == '\r') return S_LINE_CR | trailer;
    if (ch == '\n') return *why = BARE_LF, S_FAILED;
    if (s->in_name && (ch == ' ' || ch == '\t'))
      return *why = NAME_SPACE, S_FAILED;
    if (ch == ':') s->in_name = false;
    return state | trailer;
  case S_LINE_CR:
    if (ch != '\n') return *why = BARE_CR, S_FAILED;
    return S_LINE_START | trailer;
  default: /* S_EMPTY_CR */
    if (ch != '\n') return *why = BARE_CR, S_FAILED;
    if (trailer) return S_BODY; /* the request ends here */
    if (!s->line_seen) return S_LINE_START; /* empty lines before a request */
    return chunked ? S_SIZE : S_BODY;
  }
}

/* One byte of the chunk framing (not of chunk data). */
static int chunk_byte(struct http_strict *s, int state, char ch,
                      const char **why) {
  switch (state) {
  case S_SIZE:
    if (ch == '\r') return S_SIZE_CR;
    if (ch == ';' || ch == ' ') return S_EXT;
    if (hex(ch) < 0 || s->chunk_left >> 59)
      return *why = ch == '\n' ? BARE_LF : CHUNK_SIZE, S_FAILED;
    s->chunk_left = s->chunk_left << 4 | (uint64_t)hex(ch);
    return S_SIZE;
  case S_EXT:
    if (ch == '\r') return S_SIZE_CR;
    if (ch == '\n') return *why = BARE_LF, S_FAILED;
    return S_EXT;
  case S_SIZE_CR:
    if (ch != '\n') return *why = BARE_CR, S_FAILED;
    return s->chunk_left ? S_DATA : S_TRAILER_START;
  case S_DATA_CR:
    if (ch != '\r') return *why = CHUNK_END, S_FAILED;
    return S_DATA_LF;
  default: /* S_DATA_LF */
    if (ch != '\n') return *why = CHUNK_END, S_FAILED;
    return S_SIZE;
  }
}

/* How many bytes from p on leave an S_LINE line as it is: anything but
 * CR and LF, and in a header name also but the colon and whitespace. */
static size_t skip_plain(const struct http_strict *s, const char *p, size_t n) {
  size_t i = 0;
  if (s->in_name)
    while (i < n && p[i] != ':' && p[i] != ' ' && p[i] != '\t' &&
           p[i] != '\r' && p[i] != '\n')
      i++;
  else
    while (i < n && p[i] != '\r' && p[i] != '\n') i++;
  return i;
}

const char *http_strict__scan(struct http_strict *s, const char *data,
                              size_t len, bool chunked) {
  const char *why = NULL;
  for (size_t i = 0; i < len && !why; i++) {
    int state = s->state & ~TRAILER, trailer = s->state & TRAILER;
    if (state == S_BODY) break;
    if (state == S_FAILED) return FAILED; /* reported already */
    if (state == S_DATA) { /* skip the data */
      size_t n = len - i < s->chunk_left ? len - i : (size_t)s->chunk_left;
      s->chunk_left -= n;
      i += n - 1;
      if (!s->chunk_left) s->state = S_DATA_CR;
      continue;
    }
    if (state == S_LINE) { /* the bulk of a head: no state change */
      i += skip_plain(s, data + i, len - i);
      if (i == len) break;
    }
    if (state == S_TRAILER_START) state = S_LINE_START, trailer = TRAILER;
    if (state <= S_EMPTY_CR)
      s->state = (uint8_t)line_byte(s, state, trailer, data[i], chunked, &why);
    else
      s->state = (uint8_t)chunk_byte(s, state, data[i], &why);
  }
  return why;
}
