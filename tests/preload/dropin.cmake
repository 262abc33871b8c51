# Drop-in cases (issue 9): signals and the allocator's threads, destructor
# rounds, corrupted lists at thread exit, fork in a signal handler. Each runs
# the probe under LD_PRELOAD and linked with libhakozuna.a.
add_executable(hz_dropin_probe dropin_probe.cpp)
target_compile_options(hz_dropin_probe PRIVATE -fno-builtin)
target_link_libraries(hz_dropin_probe PRIVATE Threads::Threads)
add_executable(hz_dropin_probe_linked dropin_probe.cpp)
target_compile_options(hz_dropin_probe_linked PRIVATE -fno-builtin)
target_link_libraries(hz_dropin_probe_linked PRIVATE
  -Wl,--whole-archive hakozuna_static -Wl,--no-whole-archive Threads::Threads)

foreach(c sigwait threads keyrounds keyfirst double_free_exit fork_in_signal fork_in_signal_purger)
  add_test(NAME preload.dropin.${c}
    COMMAND bash ${HZ_PRELOAD_DIR}/dropin.sh $<TARGET_FILE:hakozuna> ${HZ_PRELOAD_WORK}/dropin-${c}
            $<TARGET_FILE:hz_dropin_probe> $<TARGET_FILE:hz_dropin_probe_linked> ${c})
  set_tests_properties(preload.dropin.${c} PROPERTIES TIMEOUT 200 LABELS preload)
endforeach()

# hz_dropin_pair(NAME SOURCE PASS [LIBS...]): SOURCE built twice, run
# preloaded (preload.dropin.NAME) and linked with the archive (..._linked);
# each must print PASS.
function(hz_dropin_pair name src pass)
  add_executable(hz_dropin_${name} ${src})
  target_link_libraries(hz_dropin_${name} PRIVATE ${ARGN} Threads::Threads)
  add_executable(hz_dropin_${name}_linked ${src})
  target_link_libraries(hz_dropin_${name}_linked PRIVATE ${ARGN}
    -Wl,--whole-archive hakozuna_static -Wl,--no-whole-archive Threads::Threads)
  add_test(NAME preload.dropin.${name}
    COMMAND env LD_PRELOAD=$<TARGET_FILE:hakozuna> $<TARGET_FILE:hz_dropin_${name}>)
  add_test(NAME preload.dropin.${name}_linked COMMAND $<TARGET_FILE:hz_dropin_${name}_linked>)
  set_tests_properties(preload.dropin.${name} preload.dropin.${name}_linked PROPERTIES
    TIMEOUT 60 LABELS preload PASS_REGULAR_EXPRESSION "${pass}")
endfunction()

# A C program whose first malloc is in its own atfork prepare handler: our
# handlers must still run after it.
hz_dropin_pair(atfork_first dropin_atfork.c "atfork_first ok")
# A library that registered its fork handlers before ours (its constructor
# runs first) and allocates in its prepare handler: fork must not hang.
add_library(hz_atfork_lib SHARED dropin_atfork_lib.c)
target_link_libraries(hz_atfork_lib PRIVATE Threads::Threads)
hz_dropin_pair(atfork_order dropin_atfork_order.c "atfork_order ok" hz_atfork_lib)
# Registrations racing a fork: glibc's list grows (our realloc) with its
# atfork lock held, while our prepare handler holds the allocator's locks.
hz_dropin_pair(atfork_grow dropin_atfork_grow.c "atfork_grow ok")
# The first malloc in a vfork child, which frees enough to start the purger:
# the parent's exit handlers must still run when its last thread exits.
# mprotect refused by a seccomp filter before the first malloc.
hz_dropin_pair(no_mprotect dropin_no_mprotect.c "^dropin_no_mprotect ok\n$")
# A sandbox trapping prctl (the purger's name) to the program's handler.
hz_dropin_pair(trap_prctl dropin_trap_prctl.c "dropin_trap_prctl ok")
# Children made without fork handlers: no purger in them.
hz_dropin_pair(clone_child dropin_clone_child.c "clone child done\nvfork child done\ndropin_clone_child ok")
# main's pthread_exit where /proc cannot be read: the process must end.
hz_dropin_pair(noproc_exit dropin_noproc_exit.c "worker done\nworker done\ndropin_noproc_exit ok" -Wl,--no-as-needed gcc_s -Wl,--as-needed)
hz_dropin_pair(vfork dropin_vfork.c "buffered line from main\nworker done\ndropin_vfork ok")

# The arena's reservation is not readable past what the heap uses: a program
# that reads every page of its writable mappings must not meet 256 GiB.
add_executable(hz_dropin_maps dropin_maps.c)
target_compile_options(hz_dropin_maps PRIVATE -fno-builtin)
add_test(NAME preload.dropin.maps COMMAND env LD_PRELOAD=$<TARGET_FILE:hakozuna> $<TARGET_FILE:hz_dropin_maps>)
set_tests_properties(preload.dropin.maps PROPERTIES TIMEOUT 30 LABELS preload PASS_REGULAR_EXPRESSION "dropin_maps ok")

# Options: one parser, one warning line per bad value or unknown name.
hz_preload_test(options options.sh)

# RocksDB's block cache (issue 8 point 5).
hz_preload_test(cache_bench cache_bench.sh)

# Under a tight address-space limit, a heap filled with large blocks and freed
# must serve small blocks: the first thread cache of a C program (no C++
# runtime allocating early) must not need address space of its own.
add_executable(hz_dropin_rlimit dropin_rlimit.c)
add_test(NAME preload.dropin.rlimit_refill
  COMMAND prlimit --as=204800000 -- env LD_PRELOAD=$<TARGET_FILE:hakozuna> $<TARGET_FILE:hz_dropin_rlimit>)
set_tests_properties(preload.dropin.rlimit_refill PROPERTIES TIMEOUT 60 LABELS preload
  PASS_REGULAR_EXPRESSION "rlimit_refill ok")

# stress-ng: malloc stressor (with malloc_trim in its loop) and thread churn.
hz_preload_test(stress_ng stress_ng.sh)

# Stamping stress: borrowing workers, exiting threads, the purger, malloc_trim.
add_executable(hz_stress_mix stress_mix.c)
target_link_libraries(hz_stress_mix PRIVATE Threads::Threads)
add_test(NAME preload.stress_mix
  COMMAND env LD_PRELOAD=$<TARGET_FILE:hakozuna> $<TARGET_FILE:hz_stress_mix> 4 1 4)
set_tests_properties(preload.stress_mix PROPERTIES TIMEOUT 90 LABELS preload PASS_REGULAR_EXPRESSION "^OK ")
