/*
 * The kernel-to-harness protocol: one line per event,
 *   MMUT <version> <event> key=value ...
 * with raw register values in hex.  docs/protocol.md lists the events;
 * the harness (harness/protocol.py) reads PROTOCOL_VERSION from here.
 */
#ifndef MMUT_RECORD_H
#define MMUT_RECORD_H

#include "types.h"

#define PROTOCOL_VERSION 6

void record_begin(const char *event);
void record_str(const char *key, const char *value);
void record_hex(const char *key, u64 value);
void record_dec(const char *key, u64 value);
void record_sdec(const char *key, s64 value);
void record_end(void);

/*
 * The records of a case, which leave out what the harness knows from the
 * records before them (docs/protocol.md, "Compact records"): a step record's
 * n where it is the previous one's + 1, its va where it is the previous one's,
 * a fault's far where it is the va and its esr and elr where they
 * are the previous fault's; a walk record's n where it is its step's (the
 * next step record's, or for when=after the last one's) and when=before; the
 * walk digests of the case's steps, folded into one on the end record.
 * The end record counts the case's step records, so a lost one (whose
 * successors the harness would number one too low) is seen lost.
 */
void record_case_begin(const char *id);
void record_case_end(void);
void record_step(u64 n, u64 va);
void record_fault(u64 esr, u64 far, u64 elr);
void record_walk(u64 n, bool after);
void record_walk_digest(u64 digest);

#endif
