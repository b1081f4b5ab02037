/*
** error.c: error names and messages, and the runtime's last words.
*/

#include <stdio.h>
#include <stdlib.h>

#include "internal.h"

const char *green_strerror(int err) {
  switch (err) {
#define GREEN__ERR_MSG(name, value, msg) case GREEN_##name: return msg;
    GREEN_ERRNO_MAP(GREEN__ERR_MSG)
#undef GREEN__ERR_MSG
    case 0: return "success";
    default: return "unknown error";
  }
}

const char *green_err_name(int err) {
  switch (err) {
#define GREEN__ERR_NAME(name, value, msg) case GREEN_##name: return "GREEN_" #name;
    GREEN_ERRNO_MAP(GREEN__ERR_NAME)
#undef GREEN__ERR_NAME
    case 0: return "0";
    default: return "GREEN_EUNKNOWN";
  }
}

void green__context_returned(void) {
  fputs("green: a context's entry returned no context to resume\n", stderr);
  abort();
}

void green__assert_failed(const char *msg, const char *file, int line) {
  fprintf(stderr, "green: %s:%d: internal error: %s\n", file, line, msg);
  abort();
}
