/*
 * The kernel-to-harness protocol: one line per event,
 *   MMUT <version> <event> key=value ...
 * with raw register values in hex.  docs/protocol.md lists the events;
 * the harness (harness/protocol.py) reads PROTOCOL_VERSION from here.
 */
#ifndef MMUT_RECORD_H
#define MMUT_RECORD_H

#include "types.h"

#define PROTOCOL_VERSION 4

void record_begin(const char *event);
void record_str(const char *key, const char *value);
void record_hex(const char *key, u64 value);
void record_dec(const char *key, u64 value);
void record_sdec(const char *key, s64 value);
void record_end(void);

#endif
