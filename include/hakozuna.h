/* hakozuna — a general-purpose memory allocator.
 *
 * The prefixed API below is always available, whether or not the library also
 * replaces the process's malloc family (LD_PRELOAD or linking libhakozuna).
 * It is the entry used by sanitizer builds, where the standard names belong to
 * the sanitizer runtime. */
#ifndef HAKOZUNA_H
#define HAKOZUNA_H

#include <stddef.h>

#ifdef __cplusplus
extern "C" {
#endif

void*  hz_malloc(size_t size);
void   hz_free(void* ptr);
void*  hz_calloc(size_t count, size_t size);
void*  hz_realloc(void* ptr, size_t size);
void*  hz_aligned_alloc(size_t alignment, size_t size);
int    hz_posix_memalign(void** out, size_t alignment, size_t size);
size_t hz_usable_size(const void* ptr);
/* Returns memory held idle in caches and free runs to the OS. Returns 1 if
 * any memory was released, else 0 (like malloc_trim). */
int    hz_trim(void);
/* Prints the one-line statistics report to stderr now. */
void   hz_stats_print(void);

#ifdef __cplusplus
}
#endif

#endif
