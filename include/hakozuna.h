/* hakozuna — a general-purpose memory allocator.
 *
 * The prefixed API below is always available, whether or not the library also
 * replaces the process's malloc family (LD_PRELOAD or linking libhakozuna).
 * It is the entry used by sanitizer builds, where the standard names belong to
 * the sanitizer runtime. */
#ifndef HAKOZUNA_H
#define HAKOZUNA_H

#include <stddef.h>

/* The version of this header; CMake's project version is read from these
 * three lines. */
#define HAKOZUNA_VERSION_MAJOR 0
#define HAKOZUNA_VERSION_MINOR 1
#define HAKOZUNA_VERSION_PATCH 0
/* One number to compare, MAJOR * 10000 + MINOR * 100 + PATCH, and the text. */
#define HAKOZUNA_VERSION \
  (HAKOZUNA_VERSION_MAJOR * 10000 + HAKOZUNA_VERSION_MINOR * 100 + HAKOZUNA_VERSION_PATCH)
#define HAKOZUNA_VERSION_STR_(x) #x
#define HAKOZUNA_VERSION_STR(x) HAKOZUNA_VERSION_STR_(x)
#define HAKOZUNA_VERSION_STRING                                            \
  HAKOZUNA_VERSION_STR(HAKOZUNA_VERSION_MAJOR) "." HAKOZUNA_VERSION_STR( \
      HAKOZUNA_VERSION_MINOR) "." HAKOZUNA_VERSION_STR(HAKOZUNA_VERSION_PATCH)

#ifdef __cplusplus
#define HZ_API_NOEXCEPT noexcept /* the library defines them so */
extern "C" {
#else
#define HZ_API_NOEXCEPT
#endif

void*  hz_malloc(size_t size) HZ_API_NOEXCEPT;
void   hz_free(void* ptr) HZ_API_NOEXCEPT;
/* C23 free_sized: size may be anything from the size asked for down to what
 * realloc shrank the block to; a size larger than the block aborts. */
void   hz_free_sized(void* ptr, size_t size) HZ_API_NOEXCEPT;
void*  hz_calloc(size_t count, size_t size) HZ_API_NOEXCEPT;
void*  hz_realloc(void* ptr, size_t size) HZ_API_NOEXCEPT;
void*  hz_reallocarray(void* ptr, size_t count, size_t size) HZ_API_NOEXCEPT;
void*  hz_aligned_alloc(size_t alignment, size_t size) HZ_API_NOEXCEPT;
void*  hz_memalign(size_t alignment, size_t size) HZ_API_NOEXCEPT;
void*  hz_valloc(size_t size) HZ_API_NOEXCEPT;
void*  hz_pvalloc(size_t size) HZ_API_NOEXCEPT;
int    hz_posix_memalign(void** out, size_t alignment, size_t size) HZ_API_NOEXCEPT;
size_t hz_usable_size(const void* ptr) HZ_API_NOEXCEPT;
/* Returns memory held idle in caches and free runs to the OS. Returns 1 if
 * any memory was released, else 0 (like malloc_trim). */
int    hz_trim(void) HZ_API_NOEXCEPT;
/* Prints the one-line statistics report to stderr now. */
void   hz_stats_print(void) HZ_API_NOEXCEPT;
/* HAKOZUNA_VERSION of the library running (which may be newer than the
 * header a program was compiled with). */
int    hz_version(void) HZ_API_NOEXCEPT;

#ifdef __cplusplus
}
#endif

#endif
