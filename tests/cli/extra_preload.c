/* A second LD_PRELOAD library: hakozuna run must keep it loaded. */
int hz_cli_extra_marker(void) { return 42; }
