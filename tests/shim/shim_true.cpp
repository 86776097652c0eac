// A dynamically linked program that calls nothing the shim interposes: what every process pays
// for the shim before its first call (the guest's /bin/true is busybox's, a static binary).
int main() {
  return 0;
}
