# Address-space limits (RLIMIT_AS, `ulimit -v`): the arena's reservation adapts
# to the limit, and grows in place once the limit is raised.
add_executable(hz_rlimit_grow ${HZ_PRELOAD_DIR}/rlimit_grow.c)
target_compile_options(hz_rlimit_grow PRIVATE -fno-builtin)
target_link_libraries(hz_rlimit_grow PRIVATE Threads::Threads)
# ... and gives free address space back, so the program's own mmaps fit.
add_executable(hz_rlimit_shrink ${HZ_PRELOAD_DIR}/rlimit_shrink.c)
target_compile_options(hz_rlimit_shrink PRIVATE -fno-builtin)
target_link_libraries(hz_rlimit_shrink PRIVATE Threads::Threads)

# ... and gives the address space of free pieces back for a request none fits.
add_executable(hz_rlimit_holes ${HZ_PRELOAD_DIR}/rlimit_holes.c)
target_compile_options(hz_rlimit_holes PRIVATE -fno-builtin)

# ... and keeps every block whole while it unmaps and maps back large spans.
add_executable(hz_rlimit_stress ${HZ_PRELOAD_DIR}/rlimit_stress.c)
target_compile_options(hz_rlimit_stress PRIVATE -fno-builtin)
# ... and gives back the address space of many scattered spans, within the
# process's mapping limit.
add_executable(hz_rlimit_scattered ${HZ_PRELOAD_DIR}/rlimit_scattered.c)
target_compile_options(hz_rlimit_scattered PRIVATE -fno-builtin)
# ... and grows past a mapping of the program's at a 4 MiB boundary.
add_executable(hz_rlimit_taken ${HZ_PRELOAD_DIR}/rlimit_taken.c)
target_compile_options(hz_rlimit_taken PRIVATE -fno-builtin)
# ... and, near HAKOZUNA_ARENA_SIZE with 1000 threads, maps back no more
# holes than the limit allows.
add_executable(hz_arena_threads ${HZ_PRELOAD_DIR}/arena_threads.c)
target_compile_options(hz_arena_threads PRIVATE -fno-builtin)
target_link_libraries(hz_arena_threads PRIVATE Threads::Threads)
add_executable(hz_rlimit_threads ${HZ_PRELOAD_DIR}/rlimit_threads.c)
target_compile_options(hz_rlimit_threads PRIVATE -fno-builtin)
target_link_libraries(hz_rlimit_threads PRIVATE Threads::Threads)

# ... and gives a block realloc moves room to grow into while far from it.
add_executable(hz_rlimit_realloc ${HZ_PRELOAD_DIR}/rlimit_realloc.c)
target_compile_options(hz_rlimit_realloc PRIVATE -fno-builtin)

# ... follows a limit the program sets itself after its first malloc, gives
# back free spans' address space at malloc_trim, and works under a tiny one.
add_executable(hz_rlimit_set ${HZ_PRELOAD_DIR}/rlimit_set.c)
target_compile_options(hz_rlimit_set PRIVATE -fno-builtin)
target_link_libraries(hz_rlimit_set PRIVATE Threads::Threads)

hz_preload_test(rlimit.reserve rlimit_reserve.sh)
hz_preload_test(rlimit.set rlimit_set.sh $<TARGET_FILE:hz_rlimit_set>)
# Not in the hardened build, whose realloc always moves (a stale pointer to
# the old block is caught).
if(NOT HAKOZUNA_HARDENED)
  hz_preload_test(rlimit.realloc rlimit_realloc.sh $<TARGET_FILE:hz_rlimit_realloc>)
endif()
hz_preload_test(rlimit.holes rlimit_holes.sh $<TARGET_FILE:hz_rlimit_holes> $<TARGET_FILE:hz_rlimit_stress>
  $<TARGET_FILE:hz_rlimit_threads> $<TARGET_FILE:hz_rlimit_scattered> $<TARGET_FILE:hz_rlimit_taken>)
# Not in the hardened build: its guard pages and quarantine make the 1000
# threads take 150 s there (8 s here), and its page heap is this one.
if(NOT HAKOZUNA_HARDENED)
  hz_preload_test(rlimit.arena_threads arena_threads.sh $<TARGET_FILE:hz_arena_threads>)
endif()
hz_preload_test(rlimit.grow rlimit_grow.sh $<TARGET_FILE:hz_rlimit_grow>)
hz_preload_test(rlimit.shrink rlimit_shrink.sh $<TARGET_FILE:hz_rlimit_shrink>)
hz_preload_test(rlimit.sort rlimit_under.sh 800000 rlimit_sort.sh)
hz_preload_test(rlimit.python rlimit_under.sh 800000 python_dict.sh)
hz_preload_test(rlimit.git rlimit_under.sh 800000 git_repo.sh)
set_tests_properties(preload.rlimit.sort preload.rlimit.grow preload.rlimit.holes PROPERTIES TIMEOUT 240)
