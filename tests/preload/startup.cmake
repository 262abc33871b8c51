# Start-up costs nothing (included from CMakeLists.txt here): the shared
# libraries need libc.so.6 alone, a C program links libhakozuna.a without the
# C++ runtime, start-up starts no thread and does no work, and operator new
# still throws std::bad_alloc and runs the new-handler exactly as the C++
# runtime's own does, under LD_PRELOAD, linked statically, and for a C++ module
# dlopen'd RTLD_LOCAL by a C program.

# The probe, never linked with hakozuna; the same linked with libhakozuna.a; and
# as a module (probe_main) for a C program to dlopen.
add_executable(hz_new_handler_probe new_handler_probe.cpp)
add_executable(hz_new_handler_probe_static new_handler_probe.cpp)
add_library(hz_new_handler_probe_module MODULE new_handler_probe.cpp)
target_compile_definitions(hz_new_handler_probe_module PRIVATE HZ_PROBE_MODULE)
target_link_libraries(hz_new_handler_probe_static PRIVATE
  -Wl,--whole-archive hakozuna_static -Wl,--no-whole-archive Threads::Threads)
foreach(t hz_new_handler_probe hz_new_handler_probe_static hz_new_handler_probe_module)
  target_compile_options(${t} PRIVATE -fno-builtin -Wall -Wextra)
  target_link_libraries(${t} PRIVATE ${CMAKE_DL_LIBS})
endforeach()

# A plain C program, never linked with hakozuna (the test links it statically
# itself, with the C compiler, as a user would).
add_executable(hz_startup_c_program startup_c_program.c)
target_compile_options(hz_startup_c_program PRIVATE -Wall -Wextra)
target_link_libraries(hz_startup_c_program PRIVATE ${CMAKE_DL_LIBS})

hz_preload_test(startup.needed startup_needed.sh $<TARGET_FILE:hakozuna_stats>)
hz_preload_test(startup.quiet startup_quiet.sh $<TARGET_FILE:hz_startup_c_program>)
hz_preload_test(startup.new_handler startup_new_handler.sh preload $<TARGET_FILE:hz_new_handler_probe>)
hz_preload_test(startup.new_handler_static startup_new_handler.sh static
  $<TARGET_FILE:hz_new_handler_probe> $<TARGET_FILE:hz_new_handler_probe_static>)
# Linked with the archive and the C++ runtime itself (-static-libstdc++).
add_executable(hz_new_static_cxx new_static_cxx.cpp)
target_compile_options(hz_new_static_cxx PRIVATE -fno-builtin -Wall -Wextra)
target_link_options(hz_new_static_cxx PRIVATE -static-libstdc++)
target_link_libraries(hz_new_static_cxx PRIVATE
  -Wl,--whole-archive hakozuna_static -Wl,--no-whole-archive Threads::Threads ${CMAKE_DL_LIBS})
add_test(NAME preload.startup.new_static_cxx COMMAND $<TARGET_FILE:hz_new_static_cxx>)
set_tests_properties(preload.startup.new_static_cxx PROPERTIES
  TIMEOUT 30 LABELS preload PASS_REGULAR_EXPRESSION "new_static_cxx ok")
hz_preload_test(startup.new_handler_module startup_new_handler.sh module
  $<TARGET_FILE:hz_new_handler_probe> $<TARGET_FILE:hz_startup_c_program>
  $<TARGET_FILE:hz_new_handler_probe_module>)
hz_preload_test(startup.c_preload startup_c.sh preload $<TARGET_FILE:hz_startup_c_program>)
hz_preload_test(startup.c_static startup_c.sh static ${CMAKE_C_COMPILER}
  $<TARGET_FILE:hakozuna_static> ${HZ_PRELOAD_DIR}/startup_c_program.c)
