/* log.h -- heraldd's log lines on stderr: "<time> <level> <message>". */
#ifndef HERALD_LOG_H
#define HERALD_LOG_H

enum log_level { LOG_DEBUG, LOG_INFO, LOG_WARN, LOG_ERROR };

void log__set_level(enum log_level level);
void log__write(enum log_level level, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

#define log_debug(...) log__write(LOG_DEBUG, __VA_ARGS__)
#define log_info(...) log__write(LOG_INFO, __VA_ARGS__)
#define log_warn(...) log__write(LOG_WARN, __VA_ARGS__)
#define log_error(...) log__write(LOG_ERROR, __VA_ARGS__)

#endif
