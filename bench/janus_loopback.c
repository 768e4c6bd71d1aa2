/* LD_PRELOAD shim for the Janus baseline in bench/relay_bench.py: Janus (and libnice)
 * skip interfaces flagged IFF_LOOPBACK when gathering ICE candidates, so on a machine whose
 * only common interface with the bench's participants is `lo` it offers no candidate. This
 * clears the flag on `lo` in what getifaddrs() returns, and Janus offers 127.0.0.1.
 * Built by the bench at run time: gcc -shared -fPIC -o janus_loopback.so janus_loopback.c -ldl
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <ifaddrs.h>
#include <net/if.h>
#include <string.h>

int getifaddrs(struct ifaddrs **ifap) {
    static int (*real_getifaddrs)(struct ifaddrs **);
    if (real_getifaddrs == NULL)
        real_getifaddrs = (int (*)(struct ifaddrs **))dlsym(RTLD_NEXT, "getifaddrs");
    int rc = real_getifaddrs(ifap);
    if (rc == 0) {
        for (struct ifaddrs *ifa = *ifap; ifa != NULL; ifa = ifa->ifa_next) {
            if (ifa->ifa_name != NULL && strcmp(ifa->ifa_name, "lo") == 0)
                ifa->ifa_flags &= ~IFF_LOOPBACK;
        }
    }
    return rc;
}
