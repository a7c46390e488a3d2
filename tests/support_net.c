/* support_net.c — a TCP listener for tests (support_net.h). */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "support_net.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include "route.h"

int lp_test_listener(char *ep, size_t cap)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    assert_true(fd >= 0);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    assert_int_equal(listen(fd, 4), 0);
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    lp_route_join("127.0.0.1", ntohs(a.sin_port), ep, cap);
    return fd;
}
