/* The kernel's exit status, carried out by semihosting SYS_EXIT as QEMU's own. */
#ifndef MMUT_EXIT_STATUS_H
#define MMUT_EXIT_STATUS_H

#define EXIT_OK             0
#define EXIT_CASE_ERROR     1   /* unknown case, or its tables could not be built */
#define EXIT_UNEXPECTED     3   /* an exception outside any probe */
#define EXIT_NESTED         4   /* an exception inside the exception handler */
#define EXIT_NESTED_TWICE   5   /* and another while reporting that one */

#endif
