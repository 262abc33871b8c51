# The Debian package: `cpack -G DEB` in a build tree gives
# hakozuna_<version>_<arch>.deb holding everything `cmake --install` puts in
# place (libraries, header, CMake package, pkg-config file, the hakozuna
# command, its plot script and man page), under /usr.
set(CPACK_PACKAGE_NAME hakozuna)
set(CPACK_PACKAGE_VERSION ${PROJECT_VERSION})
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "general-purpose malloc replacement for multi-threaded programs")
set(CPACK_PACKAGE_DESCRIPTION
  "hakozuna replaces malloc, free, the rest of the malloc family and C++ new/delete, by LD_PRELOAD (the hakozuna command runs and profiles programs on it) or by linking. Each thread allocates from its own cache; blocks freed by other threads go back to their owner in batches; idle memory returns to the OS.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_GENERATOR DEB)
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # <name>_<version>_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_MAINTAINER "hakozuna developers <hakozuna@localhost>")
set(CPACK_DEBIAN_PACKAGE_SECTION libs)
# Depends: from what the binaries link (dpkg-shlibdeps); shlibs and the
# ldconfig trigger for libhakozuna.so.0.
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
set(CPACK_DEBIAN_PACKAGE_GENERATE_SHLIBS ON)
# hakozuna profile -o draws with matplotlib.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "python3-matplotlib, valgrind")
include(CPack)
