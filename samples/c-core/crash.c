#include <stdlib.h>
#include <string.h>
#include <stdio.h>
/* A little heap and a static table so the core has more than the stack. */
static char table[8192];
int main(void) {
    char *heap = malloc(1 << 16);
    memset(heap, 0x5a, 1 << 16);
    memset(table, 0x33, sizeof table);
    printf("%p %p\n", (void *)heap, (void *)table);
    fflush(stdout);
    abort();
}
